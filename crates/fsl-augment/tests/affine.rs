//! Affine distortion: exact geometric cases, seeding and parameter checks.

use fsl_augment::{Affine, AffineConfig, Augmenter, Error, GrayImageF32, Interpolation};
use image::{GrayImage, Luma, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn gray(width: u32, height: u32, values: &[u8]) -> GrayImage {
    GrayImage::from_raw(width, height, values.to_vec()).unwrap()
}

/// Builds an 8x8 image with a gradient and a few marks, so any geometric change alters pixels.
fn textured() -> GrayImage {
    GrayImage::from_fn(8, 8, |x, y| Luma([(x * 29 + y * 7 + (x * y) % 5 * 11) as u8]))
}

#[test]
fn identity_parameters_keep_image() {
    let affine = AffineConfig::new()
        .with_rotation_degrees(0.0, 0.0)
        .with_shear(0.0, 0.0)
        .with_scale(1.0, 1.0)
        .with_translation(0.0, 0.0)
        .build()
        .unwrap();
    let image = textured();

    for seed in 0..5 {
        let output = affine.augment(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output, image);
    }
}

#[test]
fn translation_moves_pixel_two_columns() {
    let affine = AffineConfig::new().with_translation_x(2.0, 2.0).build().unwrap();
    let mut image = GrayImage::new(6, 5);
    image.put_pixel(1, 2, Luma([255]));

    let output = affine.augment(&image, &mut StdRng::seed_from_u64(0));

    let mut expected = GrayImage::new(6, 5);
    expected.put_pixel(3, 2, Luma([255]));
    assert_eq!(output, expected);
}

#[test]
fn translation_fills_uncovered_columns() {
    let affine = AffineConfig::new()
        .with_translation_x(2.0, 2.0)
        .with_fill(200)
        .build()
        .unwrap();
    let image = gray(3, 1, &[10, 20, 30]);

    let output = affine.augment(&image, &mut StdRng::seed_from_u64(0));

    // Columns 0 and 1 come from outside the image; column 2 receives column 0.
    assert_eq!(output, gray(3, 1, &[200, 200, 10]));
}

#[test]
fn rotation_by_90_degrees_turns_clockwise() {
    let affine = AffineConfig::new().with_rotation_degrees(90.0, 90.0).build().unwrap();
    let image = gray(3, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);

    let output = affine.augment(&image, &mut StdRng::seed_from_u64(0));

    // The image turned a quarter clockwise by hand: the left column becomes the top row.
    assert_eq!(output, gray(3, 3, &[7, 4, 1, 8, 5, 2, 9, 6, 3]));
}

#[test]
fn rotation_by_minus_90_degrees_turns_counterclockwise() {
    let affine = AffineConfig::new().with_rotation_degrees(-90.0, -90.0).build().unwrap();
    let image = gray(4, 4, &(1..=16).collect::<Vec<u8>>());

    let output = affine.augment(&image, &mut StdRng::seed_from_u64(0));

    #[rustfmt::skip]
    let expected = [
        4, 8, 12, 16,
        3, 7, 11, 15,
        2, 6, 10, 14,
        1, 5,  9, 13,
    ];
    assert_eq!(output, gray(4, 4, &expected));
}

#[test]
fn same_seed_same_distortion() {
    let affine = Affine::omniglot();
    let image = textured();

    let first = affine.augment(&image, &mut StdRng::seed_from_u64(42));
    let second = affine.augment(&image, &mut StdRng::seed_from_u64(42));

    assert_eq!(first, second);
}

#[test]
fn different_seeds_different_distortions() {
    let affine = AffineConfig::new()
        .with_rotation_degrees(-10.0, 10.0)
        .with_translation(-2.0, 2.0)
        .build()
        .unwrap();
    let image = textured();

    let outputs: Vec<GrayImage> = (0..4)
        .map(|seed| affine.augment(&image, &mut StdRng::seed_from_u64(seed)))
        .collect();

    for first in 0..outputs.len() {
        for second in first + 1..outputs.len() {
            assert_ne!(outputs[first], outputs[second], "seeds {first} and {second}");
        }
    }
}

#[test]
fn omniglot_sometimes_leaves_image_unchanged() {
    // With four components each applied with p = 0.5, 1/16 of the images are untouched.
    let affine = Affine::omniglot();
    let image = textured();

    let unchanged = (0..400)
        .filter(|&seed| affine.augment(&image, &mut StdRng::seed_from_u64(seed)) == image)
        .count();

    // Binomial(400, 1/16): mean 25, standard deviation 4.8; the bounds are about 4 sigma.
    assert!((6..=45).contains(&unchanged), "{unchanged} of 400 unchanged");
}

#[test]
fn rgb_follows_gray_geometry() {
    let affine = Affine::omniglot();
    let image = textured();
    let rgb = RgbImage::from_fn(8, 8, |x, y| {
        let value = image.get_pixel(x, y)[0];
        image::Rgb([value, value, value])
    });

    for seed in 0..10 {
        let gray_output = affine.augment(&image, &mut StdRng::seed_from_u64(seed));
        let rgb_output = affine.augment_rgb(&rgb, &mut StdRng::seed_from_u64(seed));

        for (x, y, pixel) in rgb_output.enumerate_pixels() {
            assert_eq!(pixel.0, [gray_output.get_pixel(x, y)[0]; 3]);
        }
    }
}

#[test]
fn reversed_range_named_in_error() {
    let result = AffineConfig::new().with_rotation_degrees(10.0, -10.0).build();

    let error = result.expect_err("min > max");
    assert_eq!(
        error,
        Error::ReversedRange {
            field: "rotation_degrees",
            min: 10.0,
            max: -10.0
        }
    );
    assert!(error.to_string().contains("rotation_degrees"));
}

#[test]
fn invalid_parameters_rejected() {
    let cases = [
        (AffineConfig::new().with_translation_x(f32::NAN, 1.0), "translate_x"),
        (AffineConfig::new().with_shear_y(-0.2, f32::INFINITY), "shear_y"),
        (AffineConfig::new().with_shear(-1.0, 0.5), "shear_x"),
        (AffineConfig::new().with_scale_y(0.0, 1.0), "scale_y"),
        (AffineConfig::new().with_scale(0.5, 0.4), "scale_x"),
        (
            AffineConfig::new().with_component_probability(1.5),
            "component_probability",
        ),
    ];

    for (config, expected_field) in cases {
        let error = config.build().expect_err(expected_field);
        let field = match &error {
            Error::NotFinite { field, .. } | Error::ReversedRange { field, .. } | Error::OutOfRange { field, .. } => {
                *field
            }
            other => panic!("unexpected error {other:?}"),
        };
        assert_eq!(field, expected_field, "{error}");
    }
}

/// The u8 fixed-point warp rounds once (0.5 levels) and rounds its weights to 1/2048 pixel
/// (0.125 levels). imageproc's f32 warp of the same draw adds f32 error far below that.
const U8_AGAINST_F32_TOLERANCE: f32 = 0.63;

#[test]
fn u8_warp_matches_f32_warp() {
    // Stronger than the Omniglot ranges, so many output pixels read across the border.
    let affine = AffineConfig::new()
        .with_rotation_degrees(-40.0, 40.0)
        .with_shear(-0.5, 0.5)
        .with_scale(0.6, 1.5)
        .with_translation(-6.0, 6.0)
        .with_fill(200)
        .build()
        .unwrap();
    let image = GrayImage::from_fn(23, 17, |x, y| Luma([((x * 37 + y * 91 + x * y * 13) % 256) as u8]));
    let unit = GrayImageF32::from_fn(23, 17, |x, y| Luma([f32::from(image.get_pixel(x, y)[0]) / 255.0]));

    for seed in 0..30 {
        let levels = affine.augment(&image, &mut StdRng::seed_from_u64(seed));
        let values = affine.augment_f32(&unit, &mut StdRng::seed_from_u64(seed));

        for (x, y, pixel) in levels.enumerate_pixels() {
            let exact = values.get_pixel(x, y)[0] * 255.0;
            let difference = (f32::from(pixel[0]) - exact).abs();
            assert!(
                difference <= U8_AGAINST_F32_TOLERANCE,
                "seed {seed}, pixel ({x}, {y}): {} against {exact}",
                pixel[0]
            );
        }
    }
}

#[test]
fn u8_nearest_warp_matches_f32_warp() {
    let affine = AffineConfig::omniglot()
        .with_component_probability(1.0)
        .with_interpolation(Interpolation::Nearest)
        .build()
        .unwrap();
    let image = GrayImage::from_fn(15, 12, |x, y| Luma([((x * 53 + y * 19) % 256) as u8]));
    let unit = GrayImageF32::from_fn(15, 12, |x, y| Luma([f32::from(image.get_pixel(x, y)[0]) / 255.0]));

    let mut mismatches = 0;
    for seed in 0..30 {
        let levels = affine.augment(&image, &mut StdRng::seed_from_u64(seed));
        let values = affine.augment_f32(&unit, &mut StdRng::seed_from_u64(seed));

        mismatches += levels
            .pixels()
            .zip(values.pixels())
            .filter(|(level, value)| (f32::from(level[0]) - value[0] * 255.0).abs() > 1e-3)
            .count();
    }

    // Both pick the pixel at floor(x + 0.5); only positions within float error of a half-pixel
    // boundary may pick differently, which is rare.
    assert!(mismatches <= 5, "{mismatches} of 5400 pixels picked another neighbour");
}
