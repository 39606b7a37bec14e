//! Combinators and the simple operations: identity, sequence, sometimes, one-of, flips,
//! inversion, noise, brightness and contrast.

use fsl_augment::{
    Augmenter, BrightnessContrast, Error, GaussianNoise, HorizontalFlip, Identity, Invert, OneOf, Sequence, Sometimes,
    VerticalFlip,
};
use std::sync::Arc;

use fsl_augment::presets::{koch_omniglot, natural_image};
use fsl_augment::{
    Affine, CenterCrop, ColorJitter, Crop, ElasticDistortion, Extent, Gamma, GaussianBlur, Grayscale, Pad,
    RandomResizedCrop, Resize, ResizeFilter, Rotate90, SomeOf,
};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn gray(width: u32, height: u32, values: &[u8]) -> GrayImage {
    GrayImage::from_raw(width, height, values.to_vec()).unwrap()
}

fn sample_image() -> GrayImage {
    gray(3, 2, &[1, 2, 3, 4, 5, 6])
}

#[test]
fn identity_returns_input() {
    let image = sample_image();

    let output = Identity.augment(&image, &mut StdRng::seed_from_u64(0));

    assert_eq!(output, image);
}

#[test]
fn flips_mirror_pixels() {
    let image = sample_image();
    let mut rng = StdRng::seed_from_u64(0);

    assert_eq!(
        HorizontalFlip.augment(&image, &mut rng),
        gray(3, 2, &[3, 2, 1, 6, 5, 4])
    );
    assert_eq!(VerticalFlip.augment(&image, &mut rng), gray(3, 2, &[4, 5, 6, 1, 2, 3]));
}

#[test]
fn invert_complements_levels() {
    let image = gray(3, 1, &[0, 100, 255]);

    let output = Invert.augment(&image, &mut StdRng::seed_from_u64(0));

    assert_eq!(output, gray(3, 1, &[255, 155, 0]));
}

#[test]
fn sequence_applies_steps_in_order() {
    let sequence = Sequence::new(vec![Box::new(HorizontalFlip), Box::new(Invert)]);
    let image = sample_image();

    let output = sequence.augment(&image, &mut StdRng::seed_from_u64(0));

    assert_eq!(output, gray(3, 2, &[252, 253, 254, 249, 250, 251]));
}

#[test]
fn empty_sequence_is_identity() {
    let image = sample_image();

    let output = Sequence::default().augment(&image, &mut StdRng::seed_from_u64(0));

    assert_eq!(output, image);
}

#[test]
fn sometimes_zero_never_applies() {
    let sometimes = Sometimes::new(0.0, Invert).unwrap();
    let image = sample_image();

    for seed in 0..100 {
        let output = sometimes.augment(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output, image, "seed {seed}");
    }
}

#[test]
fn sometimes_one_always_applies() {
    let sometimes = Sometimes::new(1.0, Invert).unwrap();
    let image = sample_image();

    for seed in 0..100 {
        let output = sometimes.augment(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output, gray(3, 2, &[254, 253, 252, 251, 250, 249]), "seed {seed}");
    }
}

#[test]
fn sometimes_half_applies_about_half() {
    let sometimes = Sometimes::new(0.5, Invert).unwrap();
    let image = sample_image();
    let mut rng = StdRng::seed_from_u64(0);

    let applied = (0..1000)
        .filter(|_| sometimes.augment(&image, &mut rng) != image)
        .count();

    // Binomial(1000, 0.5) has standard deviation 15.8; the bounds are 5 sigma.
    assert!(applied.abs_diff(500) <= 79, "applied {applied} of 1000 times");
}

#[test]
fn sometimes_rejects_bad_probability() {
    for p in [-0.1, 1.1, f32::NAN] {
        let result = Sometimes::new(p, Invert);

        match result {
            Err(Error::OutOfRange { field, .. }) | Err(Error::NotFinite { field, .. }) => {
                assert_eq!(field, "p");
            }
            Err(other) => panic!("unexpected error {other:?} for p = {p}"),
            Ok(_) => panic!("p = {p} was accepted"),
        }
    }
}

#[test]
fn one_of_picks_every_option() {
    let one_of = OneOf::new(vec![Box::new(HorizontalFlip), Box::new(VerticalFlip)]).unwrap();
    let image = sample_image();
    let horizontal = gray(3, 2, &[3, 2, 1, 6, 5, 4]);
    let vertical = gray(3, 2, &[4, 5, 6, 1, 2, 3]);
    let mut rng = StdRng::seed_from_u64(0);

    let mut counts = [0usize; 2];
    for _ in 0..200 {
        let output = one_of.augment(&image, &mut rng);
        if output == horizontal {
            counts[0] += 1;
        } else if output == vertical {
            counts[1] += 1;
        } else {
            panic!("output is neither flip: {output:?}");
        }
    }

    assert!(counts[0] > 50, "horizontal flip chosen {} times", counts[0]);
    assert!(counts[1] > 50, "vertical flip chosen {} times", counts[1]);
}

#[test]
fn one_of_rejects_empty_list() {
    assert!(matches!(OneOf::new(Vec::new()), Err(Error::EmptyOneOf)));
}

#[test]
fn noise_with_zero_std_dev_keeps_image() {
    let noise = GaussianNoise::new(0.0).unwrap();
    let image = sample_image();

    assert_eq!(noise.augment(&image, &mut StdRng::seed_from_u64(3)), image);
}

#[test]
fn noise_has_requested_spread() {
    let noise = GaussianNoise::new(10.0).unwrap();
    let image = GrayImage::from_pixel(100, 100, Luma([128]));

    let output = noise.augment(&image, &mut StdRng::seed_from_u64(5));

    let values: Vec<f64> = output.pixels().map(|pixel| f64::from(pixel[0])).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    // Rounding to levels adds 1/12 to the variance; 10 000 draws pin the mean to about 0.1.
    assert!((mean - 128.0).abs() < 0.5, "mean {mean}");
    assert!((variance.sqrt() - 10.0).abs() < 0.5, "std dev {}", variance.sqrt());
}

#[test]
fn noise_same_seed_same_output() {
    let noise = GaussianNoise::new(20.0).unwrap();
    let image = sample_image();

    let first = noise.augment(&image, &mut StdRng::seed_from_u64(9));
    let second = noise.augment(&image, &mut StdRng::seed_from_u64(9));
    let third = noise.augment(&image, &mut StdRng::seed_from_u64(10));

    assert_eq!(first, second);
    assert_ne!(first, third);
}

#[test]
fn noise_rejects_negative_std_dev() {
    assert!(matches!(
        GaussianNoise::new(-1.0),
        Err(Error::OutOfRange { field: "std_dev", .. })
    ));
}

#[test]
fn brightness_contrast_fixed_values() {
    let adjust = BrightnessContrast::new((10.0, 10.0), (2.0, 2.0)).unwrap();
    let image = gray(4, 1, &[0, 100, 128, 255]);

    let output = adjust.augment(&image, &mut StdRng::seed_from_u64(0));

    // (v - 127.5) * 2 + 127.5 + 10: 0 -> -117.5 -> 0, 100 -> 82.5 -> 83 (half away from
    // zero), 128 -> 138.5 -> 139, 255 -> 392.5 -> 255.
    assert_eq!(output, gray(4, 1, &[0, 83, 139, 255]));
}

#[test]
fn brightness_contrast_rejects_negative_contrast() {
    assert!(matches!(
        BrightnessContrast::new((0.0, 0.0), (-0.5, 1.0)),
        Err(Error::OutOfRange { field: "contrast", .. })
    ));
}

#[test]
fn rgb_operations_act_per_channel() {
    let image = RgbImage::from_raw(2, 1, vec![10, 20, 30, 40, 50, 60]).unwrap();
    let mut rng = StdRng::seed_from_u64(0);

    let flipped = HorizontalFlip.augment_rgb(&image, &mut rng);
    let inverted = Invert.augment_rgb(&image, &mut rng);

    assert_eq!(flipped.get_pixel(0, 0), &Rgb([40, 50, 60]));
    assert_eq!(inverted.get_pixel(1, 0), &Rgb([215, 205, 195]));
}

/// Returns a clone and the original; compiles only for augmenters that can be cloned and
/// shared between threads.
fn clone_pair<A: Augmenter + Clone + Send + Sync + 'static>(augmenter: A) -> (Box<dyn Augmenter>, Box<dyn Augmenter>) {
    (Box::new(augmenter.clone()), Box::new(augmenter))
}

#[test]
fn every_augmenter_is_clone_send_sync() {
    let image = RgbImage::from_fn(12, 10, |x, y| Rgb([(x * 20) as u8, (y * 25) as u8, 60]));
    let pairs = vec![
        clone_pair(Identity),
        clone_pair(Sequence::default().then(Invert)),
        clone_pair(Sometimes::new(0.5, Invert).unwrap()),
        clone_pair(OneOf::new(vec![Box::new(Invert)]).unwrap()),
        clone_pair(SomeOf::new(0, 1, vec![Box::new(Invert)]).unwrap()),
        clone_pair(Affine::omniglot()),
        clone_pair(HorizontalFlip),
        clone_pair(VerticalFlip),
        clone_pair(Invert),
        clone_pair(Rotate90::new(0, 3).unwrap()),
        clone_pair(GaussianNoise::new(3.0).unwrap()),
        clone_pair(BrightnessContrast::new((-5.0, 5.0), (0.9, 1.1)).unwrap()),
        clone_pair(Gamma::new((0.8, 1.2)).unwrap()),
        clone_pair(GaussianBlur::new((0.5, 1.0)).unwrap()),
        clone_pair(ElasticDistortion::new((1.0, 2.0), 2.0).unwrap()),
        clone_pair(Crop::new(Extent::Pixels { min: 0, max: 2 }).unwrap()),
        clone_pair(Pad::new(Extent::Pixels { min: 0, max: 2 }, 0).unwrap()),
        clone_pair(Resize::new(6, 5, ResizeFilter::Bilinear).unwrap()),
        clone_pair(CenterCrop::new(6, 5).unwrap()),
        clone_pair(RandomResizedCrop::new(6, 5, (0.3, 1.0), (0.75, 1.33)).unwrap()),
        clone_pair(Grayscale),
        clone_pair(ColorJitter::new(0.4, 0.4, 0.4).unwrap().with_hue(0.1).unwrap()),
        clone_pair(koch_omniglot()),
        clone_pair(natural_image(8).unwrap()),
    ];

    // A clone behaves as its original: same seed, same image.
    for (clone, original) in &pairs {
        let first = clone.augment_rgb(&image, &mut StdRng::seed_from_u64(7));
        let second = original.augment_rgb(&image, &mut StdRng::seed_from_u64(7));
        assert_eq!(first, second, "{clone:?}");
    }
}

#[test]
fn sequence_clone_shares_steps() {
    let sequence = Sequence::new(vec![Box::new(HorizontalFlip), Box::new(Invert)]);

    let clone = sequence.clone();

    assert_eq!(clone.steps().len(), 2);
    for (cloned, original) in clone.steps().iter().zip(sequence.steps()) {
        assert!(Arc::ptr_eq(cloned, original), "the clone copied a step");
    }
}
