//! Serialisable pipeline descriptions: JSON round trips, rebuilding and self-description.

use fsl_augment::presets::{koch_omniglot, koch_omniglot_config, natural_image, natural_image_config};
use fsl_augment::{
    AffineConfig, Augmenter, AugmenterConfig, CenterCrop, ColorJitter, Crop, ElasticDistortion, Extent, Gamma,
    GaussianBlur, GaussianNoise, Grayscale, HorizontalFlip, Identity, Interpolation, Invert, OneOf, Pad, Resize,
    ResizeFilter, Rotate90, Sequence, SomeOf, Sometimes, VerticalFlip,
};
use image::{Rgb, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Builds a pipeline that uses every augmenter of the crate once.
fn every_augmenter() -> AugmenterConfig {
    AugmenterConfig::Sequence {
        steps: vec![
            AugmenterConfig::Affine(AffineConfig::omniglot().with_interpolation(Interpolation::Bicubic)),
            AugmenterConfig::Sometimes {
                p: 0.3,
                inner: Box::new(AugmenterConfig::Invert),
            },
            AugmenterConfig::OneOf {
                options: vec![AugmenterConfig::HorizontalFlip, AugmenterConfig::VerticalFlip],
            },
            AugmenterConfig::SomeOf {
                min: 1,
                max: 2,
                options: vec![
                    AugmenterConfig::GaussianNoise { std_dev: 3.5 },
                    AugmenterConfig::Gamma { gamma: (0.8, 1.25) },
                    AugmenterConfig::GaussianBlur { sigma: (0.5, 1.0) },
                ],
            },
            AugmenterConfig::BrightnessContrast {
                brightness: (-10.0, 10.0),
                contrast: (0.9, 1.1),
            },
            AugmenterConfig::Rotate90 {
                min_turns: 0,
                max_turns: 3,
            },
            AugmenterConfig::ElasticDistortion {
                alpha: (1.0, 2.0),
                sigma: 3.0,
                fill: 7,
                interpolation: Interpolation::Nearest,
            },
            AugmenterConfig::Crop {
                amount: Extent::Fraction { min: 0.0, max: 0.1 },
            },
            AugmenterConfig::Pad {
                amount: Extent::Pixels { min: 0, max: 2 },
                fill: 255,
            },
            AugmenterConfig::CenterCrop {
                width: 20,
                height: 18,
                fill: 3,
            },
            AugmenterConfig::Resize {
                width: 16,
                height: 16,
                filter: ResizeFilter::Lanczos3,
            },
            natural_image_config(12),
            AugmenterConfig::Grayscale,
            AugmenterConfig::Identity,
        ],
    }
}

fn colour_image() -> RgbImage {
    RgbImage::from_fn(24, 20, |x, y| {
        Rgb([(x * 10) as u8, (y * 12) as u8, ((x + y) * 5) as u8])
    })
}

#[test]
fn config_survives_json_round_trip() {
    let config = every_augmenter();

    let json = serde_json::to_string_pretty(&config).unwrap();
    let restored: AugmenterConfig = serde_json::from_str(&json).unwrap();

    assert_eq!(restored, config);
}

#[test]
fn built_pipeline_describes_itself() {
    let config = every_augmenter();

    let augmenter = config.build().unwrap();

    assert_eq!(augmenter.config(), Some(config));
}

#[test]
fn rebuilt_pipeline_gives_same_images() {
    let config = every_augmenter();
    let json = serde_json::to_string(&config).unwrap();
    let original = config.build().unwrap();
    let rebuilt = serde_json::from_str::<AugmenterConfig>(&json).unwrap().build().unwrap();
    let image = colour_image();

    for seed in 0..10 {
        let first = original.augment_rgb(&image, &mut StdRng::seed_from_u64(seed));
        let second = rebuilt.augment_rgb(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(first, second, "seed {seed}");
    }
}

#[test]
fn json_names_variants_in_snake_case() {
    let config = AugmenterConfig::Sometimes {
        p: 0.5,
        inner: Box::new(AugmenterConfig::HorizontalFlip),
    };

    let json = serde_json::to_string(&config).unwrap();

    assert_eq!(
        json,
        r#"{"type":"sometimes","p":0.5,"inner":{"type":"horizontal_flip"}}"#
    );
}

#[test]
fn build_names_invalid_parameter() {
    let cases = [
        (
            AugmenterConfig::Sometimes {
                p: 1.5,
                inner: Box::new(AugmenterConfig::Identity),
            },
            "p",
        ),
        (AugmenterConfig::GaussianBlur { sigma: (0.0, 1.0) }, "sigma"),
        (
            AugmenterConfig::Resize {
                width: 0,
                height: 4,
                filter: ResizeFilter::Bilinear,
            },
            "width",
        ),
    ];

    for (config, field) in cases {
        let error = config.build().expect_err(field).to_string();
        assert!(error.contains(field), "{error}");
    }
}

#[test]
fn presets_match_their_configs() {
    assert_eq!(koch_omniglot().config(), Some(koch_omniglot_config()));
    assert_eq!(natural_image(224).unwrap().config(), Some(natural_image_config(224)));
}

#[test]
fn natural_preset_outputs_model_size() {
    let preset = natural_image(32).unwrap();
    let image = RgbImage::from_fn(64, 48, |x, y| Rgb([x as u8, y as u8, 40]));

    let output = preset.augment_rgb(&image, &mut StdRng::seed_from_u64(1));

    assert_eq!(output.dimensions(), (32, 32));
}

#[test]
fn every_augmenter_has_debug_output() {
    let augmenters: Vec<(Box<dyn Augmenter>, &str)> = vec![
        (Box::new(Identity), "Identity"),
        (Box::new(Sequence::default().then(Invert)), "Sequence"),
        (Box::new(Sometimes::new(0.5, Invert).unwrap()), "Sometimes"),
        (Box::new(OneOf::new(vec![Box::new(Invert)]).unwrap()), "OneOf"),
        (Box::new(SomeOf::new(0, 1, vec![Box::new(Invert)]).unwrap()), "SomeOf"),
        (Box::new(koch_omniglot()), "Affine"),
        (Box::new(HorizontalFlip), "HorizontalFlip"),
        (Box::new(VerticalFlip), "VerticalFlip"),
        (Box::new(Invert), "Invert"),
        (Box::new(Rotate90::new(1, 1).unwrap()), "Rotate90"),
        (Box::new(GaussianNoise::new(1.0).unwrap()), "GaussianNoise"),
        (Box::new(Gamma::new((1.0, 2.0)).unwrap()), "Gamma"),
        (Box::new(GaussianBlur::new((1.0, 2.0)).unwrap()), "GaussianBlur"),
        (
            Box::new(ElasticDistortion::new((1.0, 2.0), 2.0).unwrap()),
            "ElasticDistortion",
        ),
        (Box::new(Crop::new(Extent::Pixels { min: 0, max: 1 }).unwrap()), "Crop"),
        (Box::new(Pad::new(Extent::Pixels { min: 0, max: 1 }, 0).unwrap()), "Pad"),
        (Box::new(Resize::new(2, 2, ResizeFilter::Nearest).unwrap()), "Resize"),
        (Box::new(CenterCrop::new(2, 2).unwrap()), "CenterCrop"),
        (Box::new(Grayscale), "Grayscale"),
        (Box::new(ColorJitter::new(0.1, 0.1, 0.1).unwrap()), "ColorJitter"),
    ];

    for (augmenter, name) in augmenters {
        let debug = format!("{augmenter:?}");
        assert!(debug.contains(name), "{debug}");
    }
}
