//! Hue rotation and hue jitter against torchvision's `adjust_hue`, from the fixture written by
//! `tests/reference/generate_hue.py` (torch 2.15.0, torchvision 0.29.2, numpy 2.4.6).
//!
//! Tolerances: `u8` outputs round the exact value once, so they agree within 0.501 levels (0.5
//! for rounding, the rest for float32 error in torchvision). `f32` outputs agree within 1e-5
//! (values in [0, 1]), the float32 error of the two computations.

use std::path::PathBuf;

use fsl_augment::{Augmenter, AugmenterConfig, ColorJitter, Error, RgbImageF32, adjust_hue, adjust_hue_f32};
use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Deserialize;

const U8_TOLERANCE: f64 = 0.501;
const F32_TOLERANCE: f64 = 1e-5;

#[derive(Deserialize)]
struct Fixture {
    width: u32,
    height: u32,
    input: Vec<u8>,
    cases: Vec<HueCase>,
}

#[derive(Deserialize)]
struct HueCase {
    factor: f32,
    expected: Vec<f64>,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/hue.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}; run generate_hue.py there", path.display()));

    serde_json::from_str(&text).expect("fixture matches the layout generate_hue.py writes")
}

fn input_u8(fixture: &Fixture) -> RgbImage {
    RgbImage::from_raw(fixture.width, fixture.height, fixture.input.clone()).expect("three levels per pixel")
}

/// Returns the largest absolute difference and the value index where it occurs.
fn max_difference(actual: impl Iterator<Item = f64>, expected: &[f64]) -> (f64, usize) {
    actual
        .zip(expected)
        .map(|(actual, expected)| (actual - expected).abs())
        .enumerate()
        .fold((0.0, 0), |worst, (index, difference)| {
            if difference > worst.0 {
                (difference, index)
            } else {
                worst
            }
        })
}

#[test]
fn adjust_hue_u8_matches_torchvision() {
    let fixture = fixture();
    let image = input_u8(&fixture);

    for case in &fixture.cases {
        let output = adjust_hue(&image, case.factor).unwrap();

        let expected: Vec<f64> = case.expected.iter().map(|value| value * 255.0).collect();
        let (difference, index) = max_difference(output.iter().map(|&value| f64::from(value)), &expected);
        assert!(
            difference <= U8_TOLERANCE,
            "factor {}: value {index} off by {difference} levels",
            case.factor
        );
    }
}

#[test]
fn adjust_hue_f32_matches_torchvision() {
    let fixture = fixture();
    let values = fixture.input.iter().map(|&level| f32::from(level) / 255.0).collect();
    let image = RgbImageF32::from_raw(fixture.width, fixture.height, values).unwrap();

    for case in &fixture.cases {
        let output = adjust_hue_f32(&image, case.factor).unwrap();

        let (difference, index) = max_difference(output.iter().map(|&value| f64::from(value)), &case.expected);
        assert!(
            difference <= F32_TOLERANCE,
            "factor {}: value {index} off by {difference}",
            case.factor
        );
    }
}

#[test]
fn adjust_hue_rejects_non_finite_factor() {
    let image = RgbImage::from_pixel(2, 2, Rgb([200, 30, 40]));

    for factor in [f32::NAN, f32::INFINITY] {
        let result = adjust_hue(&image, factor);
        assert!(
            matches!(
                result,
                Err(Error::NotFinite {
                    field: "hue_factor",
                    ..
                })
            ),
            "factor {factor} gave {result:?}"
        );
    }
}

#[test]
fn adjust_hue_full_turn_keeps_image() {
    let fixture = fixture();
    let image = input_u8(&fixture);

    assert_eq!(adjust_hue(&image, 1.0).unwrap(), image);
    assert_eq!(adjust_hue(&image, -2.0).unwrap(), image);
}

#[test]
fn hue_jitter_applies_drawn_factor() {
    let fixture = fixture();
    let image = input_u8(&fixture);
    let jitter = ColorJitter::new(0.0, 0.0, 0.0).unwrap().with_hue(0.3).unwrap();

    for seed in 0..5 {
        // The jitter draws brightness, contrast and saturation (all 1 here), then the hue
        // factor uniformly from [-0.3, 0.3].
        let mut draws = StdRng::seed_from_u64(seed);
        let _unused: [f64; 3] = [draws.random(), draws.random(), draws.random()];
        let factor = -0.3 + 0.6 * draws.random::<f64>();
        let expected = adjust_hue(&image, factor as f32).unwrap();

        let output = jitter.augment_rgb(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output, expected, "seed {seed}, factor {factor}");
    }
}

#[test]
fn hue_jitter_keeps_gray_images() {
    let jitter = ColorJitter::new(0.0, 0.0, 0.0).unwrap().with_hue(0.5).unwrap();
    let gray = image::GrayImage::from_fn(6, 4, |x, y| image::Luma([(x * 40 + y) as u8]));

    let output = jitter.augment(&gray, &mut StdRng::seed_from_u64(1));

    assert_eq!(output, gray);
}

#[test]
fn with_hue_rejects_out_of_range() {
    for hue in [-0.1, 0.51, f32::NAN] {
        let result = ColorJitter::new(0.1, 0.1, 0.1).unwrap().with_hue(hue);
        match result {
            Err(Error::OutOfRange { field, .. }) | Err(Error::NotFinite { field, .. }) => assert_eq!(field, "hue"),
            other => panic!("hue {hue} gave {other:?}"),
        }
    }
}

#[test]
fn config_without_hue_builds_jitter_without_hue() {
    let json = r#"{"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4}"#;

    let config: AugmenterConfig = serde_json::from_str(json).unwrap();

    let expected = AugmenterConfig::ColorJitter {
        brightness: 0.4,
        contrast: 0.4,
        saturation: 0.4,
        hue: 0.0,
    };
    assert_eq!(config, expected);
}

#[test]
fn config_with_hue_round_trips() {
    let jitter = ColorJitter::new(0.2, 0.3, 0.4).unwrap().with_hue(0.1).unwrap();
    let config = jitter.config().unwrap();

    let rebuilt = config.build().unwrap();

    assert_eq!(rebuilt.config(), Some(config));
}
