//! Affine warps and Gaussian blurs against scipy.ndimage outputs written by
//! `tests/reference/generate.py` (numpy 2.4.6, scipy 1.17.1).
//!
//! Tolerances: `f32` images agree within 1e-4 (values in [0, 1]), the error of imageproc's f32
//! arithmetic. `u8` blurs round once, so they agree within 0.51 levels. `u8` bilinear affine
//! warps agree within 0.63 levels: 0.5 for rounding once, plus up to 0.125 because the weights
//! are rounded to 1/2048 of a pixel.

use std::path::PathBuf;

use fsl_augment::{AffineConfig, Augmenter, GaussianBlur, GrayImageF32};
use image::{GrayImage, Luma};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;

const F32_TOLERANCE: f64 = 1e-4;
const U8_BLUR_TOLERANCE: f64 = 0.51;
const U8_AFFINE_TOLERANCE: f64 = 0.63;

#[derive(Deserialize)]
struct Fixture {
    width: u32,
    height: u32,
    input: Vec<f64>,
    affine: Vec<AffineCase>,
    blur: Vec<BlurCase>,
}

#[derive(Deserialize)]
struct AffineCase {
    rotation_degrees: f32,
    shear_x: f32,
    shear_y: f32,
    scale_x: f32,
    scale_y: f32,
    translate_x: f32,
    translate_y: f32,
    fill: u8,
    expected: Vec<f64>,
}

#[derive(Deserialize)]
struct BlurCase {
    sigma: f32,
    expected: Vec<f64>,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/affine_blur.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}; run generate.py there", path.display()));

    serde_json::from_str(&text).expect("fixture matches the layout generate.py writes")
}

fn input_f32(fixture: &Fixture) -> GrayImageF32 {
    let values = fixture.input.iter().map(|&value| value as f32).collect();
    GrayImageF32::from_raw(fixture.width, fixture.height, values).unwrap()
}

fn input_u8(fixture: &Fixture) -> GrayImage {
    GrayImage::from_fn(fixture.width, fixture.height, |x, y| {
        let value = fixture.input[(y * fixture.width + x) as usize];
        Luma([(value * 255.0).round() as u8])
    })
}

/// Returns the largest absolute difference and the pixel index where it occurs.
fn max_difference(actual: impl Iterator<Item = f64>, expected: impl Iterator<Item = f64>) -> (f64, usize) {
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

fn affine_for(case: &AffineCase) -> fsl_augment::Affine {
    AffineConfig::new()
        .with_rotation_degrees(case.rotation_degrees, case.rotation_degrees)
        .with_shear_x(case.shear_x, case.shear_x)
        .with_shear_y(case.shear_y, case.shear_y)
        .with_scale_x(case.scale_x, case.scale_x)
        .with_scale_y(case.scale_y, case.scale_y)
        .with_translation_x(case.translate_x, case.translate_x)
        .with_translation_y(case.translate_y, case.translate_y)
        .with_fill(case.fill)
        .build()
        .unwrap()
}

#[test]
fn affine_f32_matches_scipy() {
    let fixture = fixture();
    let image = input_f32(&fixture);

    for (number, case) in fixture.affine.iter().enumerate() {
        let output = affine_for(case).augment_f32(&image, &mut StdRng::seed_from_u64(0));

        let actual = output.iter().map(|&value| f64::from(value));
        let (difference, index) = max_difference(actual, case.expected.iter().copied());
        assert!(
            difference <= F32_TOLERANCE,
            "case {number}: pixel {index} off by {difference}"
        );
    }
}

#[test]
fn affine_u8_matches_scipy() {
    let fixture = fixture();
    let image = input_u8(&fixture);

    for (number, case) in fixture.affine.iter().enumerate() {
        let output = affine_for(case).augment(&image, &mut StdRng::seed_from_u64(0));

        let actual = output.iter().map(|&value| f64::from(value));
        let expected = case.expected.iter().map(|value| value * 255.0);
        let (difference, index) = max_difference(actual, expected);
        assert!(
            difference <= U8_AFFINE_TOLERANCE,
            "case {number}: pixel {index} off by {difference} levels"
        );
    }
}

#[test]
fn blur_f32_matches_scipy() {
    let fixture = fixture();
    let image = input_f32(&fixture);

    for case in &fixture.blur {
        let blur = GaussianBlur::new((case.sigma, case.sigma)).unwrap();
        let output = blur.augment_f32(&image, &mut StdRng::seed_from_u64(0));

        let actual = output.iter().map(|&value| f64::from(value));
        let (difference, index) = max_difference(actual, case.expected.iter().copied());
        assert!(
            difference <= F32_TOLERANCE,
            "sigma {}: pixel {index} off by {difference}",
            case.sigma
        );
    }
}

#[test]
fn blur_u8_matches_scipy() {
    let fixture = fixture();
    let image = input_u8(&fixture);

    for case in &fixture.blur {
        let blur = GaussianBlur::new((case.sigma, case.sigma)).unwrap();
        let output = blur.augment(&image, &mut StdRng::seed_from_u64(0));

        let actual = output.iter().map(|&value| f64::from(value));
        let expected = case.expected.iter().map(|value| value * 255.0);
        let (difference, index) = max_difference(actual, expected);
        assert!(
            difference <= U8_BLUR_TOLERANCE,
            "sigma {}: pixel {index} off by {difference} levels",
            case.sigma
        );
    }
}
