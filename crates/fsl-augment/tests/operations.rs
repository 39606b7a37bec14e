//! Exact outputs of the size-changing and colour operations, worked out by hand.

use fsl_augment::{
    Augmenter, CenterCrop, ColorJitter, Crop, ElasticDistortion, Extent, Gamma, GrayImageF32, Grayscale,
    HorizontalFlip, Invert, Pad, RandomResizedCrop, Resize, ResizeFilter, Rotate90, VerticalFlip, to_grayscale, to_rgb,
};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn gray(width: u32, height: u32, values: &[u8]) -> GrayImage {
    GrayImage::from_raw(width, height, values.to_vec()).unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

/// Returns a 4x3 image numbered 1 to 12 row by row.
fn numbered() -> GrayImage {
    gray(4, 3, &(1..=12).collect::<Vec<u8>>())
}

#[test]
fn crop_pixels_removes_each_side() {
    let crop = Crop::new(Extent::Pixels { min: 1, max: 1 }).unwrap();

    let output = crop.augment(&numbered(), &mut rng());

    assert_eq!(output, gray(2, 1, &[6, 7]));
}

#[test]
fn crop_fraction_rounds_to_pixels() {
    // 0.25 of width 4 is 1 column per side; 0.25 of height 3 is 0.75, rounded to 1 row.
    let crop = Crop::new(Extent::Fraction { min: 0.25, max: 0.25 }).unwrap();

    let output = crop.augment(&numbered(), &mut rng());

    assert_eq!(output, gray(2, 1, &[6, 7]));
}

#[test]
fn crop_keeps_one_pixel() {
    let crop = Crop::new(Extent::Pixels { min: 5, max: 5 }).unwrap();

    let output = crop.augment(&numbered(), &mut rng());

    // Left takes 3 of 4 columns and top 2 of 3 rows; right and bottom get nothing.
    assert_eq!(output, gray(1, 1, &[12]));
}

#[test]
fn pad_pixels_adds_fill_border() {
    let pad = Pad::new(Extent::Pixels { min: 1, max: 1 }, 9).unwrap();
    let image = gray(2, 1, &[1, 2]);

    let output = pad.augment(&image, &mut rng());

    #[rustfmt::skip]
    let expected = [
        9, 9, 9, 9,
        9, 1, 2, 9,
        9, 9, 9, 9,
    ];
    assert_eq!(output, gray(4, 3, &expected));
}

#[test]
fn pad_fraction_scales_with_side() {
    // Half of width 4 is 2 columns per side, half of height 2 is 1 row per side.
    let pad = Pad::new(Extent::Fraction { min: 0.5, max: 0.5 }, 0).unwrap();
    let image = gray(4, 2, &[1, 2, 3, 4, 5, 6, 7, 8]);

    let output = pad.augment(&image, &mut rng());

    assert_eq!(output.dimensions(), (8, 4));
    assert_eq!(output.get_pixel(2, 1)[0], 1);
    assert_eq!(output.get_pixel(5, 2)[0], 8);
    assert_eq!(output.get_pixel(1, 1)[0], 0);
}

#[test]
fn center_crop_takes_middle() {
    let crop = CenterCrop::new(2, 1).unwrap();

    let output = crop.augment(&numbered(), &mut rng());

    assert_eq!(output, gray(2, 1, &[6, 7]));
}

#[test]
fn center_crop_pads_small_image() {
    // Width 2 in a window of 5: one column of fill on the left, two on the right.
    let crop = CenterCrop::new(5, 1).unwrap().with_fill(9);
    let image = gray(2, 1, &[1, 2]);

    let output = crop.augment(&image, &mut rng());

    assert_eq!(output, gray(5, 1, &[9, 1, 2, 9, 9]));
}

#[test]
fn rotate90_quarter_turns_exact() {
    let image = gray(3, 2, &[1, 2, 3, 4, 5, 6]);
    let cases = [
        (0, gray(3, 2, &[1, 2, 3, 4, 5, 6])),
        (1, gray(2, 3, &[4, 1, 5, 2, 6, 3])),
        (2, gray(3, 2, &[6, 5, 4, 3, 2, 1])),
        (3, gray(2, 3, &[3, 6, 2, 5, 1, 4])),
    ];

    for (turns, expected) in cases {
        let rotate = Rotate90::new(turns, turns).unwrap();
        assert_eq!(rotate.augment(&image, &mut rng()), expected, "{turns} turns");
    }
}

#[test]
fn rotate90_random_reaches_all_turns() {
    let rotate = Rotate90::new(0, 3).unwrap();
    let image = gray(3, 2, &[1, 2, 3, 4, 5, 6]);
    let mut rng = rng();

    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        seen.insert(rotate.augment(&image, &mut rng).into_raw());
    }

    assert_eq!(seen.len(), 4);
}

#[test]
fn resize_nearest_duplicates_pixels() {
    let resize = Resize::new(4, 2, ResizeFilter::Nearest).unwrap();
    let image = gray(2, 1, &[10, 20]);

    let output = resize.augment(&image, &mut rng());

    assert_eq!(output, gray(4, 2, &[10, 10, 20, 20, 10, 10, 20, 20]));
}

#[test]
fn resize_bilinear_keeps_constant_image() {
    let resize = Resize::new(7, 5, ResizeFilter::Bilinear).unwrap();
    let image = GrayImage::from_pixel(16, 12, Luma([77]));

    let output = resize.augment(&image, &mut rng());

    assert_eq!(output, GrayImage::from_pixel(7, 5, Luma([77])));
}

#[test]
fn random_resized_crop_full_window_is_resize() {
    // Scale 1 and ratio 1 on a square image leave only the whole image as the window.
    let crop = RandomResizedCrop::new(5, 5, (1.0, 1.0), (1.0, 1.0)).unwrap();
    let resize = Resize::new(5, 5, ResizeFilter::Bilinear).unwrap();
    let image = GrayImage::from_fn(9, 9, |x, y| Luma([(x * 20 + y * 7) as u8]));

    for seed in 0..5 {
        let output = crop.augment(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output, resize.augment(&image, &mut rng()), "seed {seed}");
    }
}

#[test]
fn random_resized_crop_output_size() {
    let crop = RandomResizedCrop::new(6, 4, (0.08, 1.0), (0.75, 4.0 / 3.0)).unwrap();
    let image = RgbImage::from_fn(30, 17, |x, y| Rgb([x as u8, y as u8, 0]));

    for seed in 0..20 {
        let output = crop.augment_rgb(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output.dimensions(), (6, 4), "seed {seed}");
    }
}

#[test]
fn gamma_maps_levels() {
    let gamma = Gamma::new((2.0, 2.0)).unwrap();
    let image = gray(4, 1, &[0, 64, 128, 255]);

    let output = gamma.augment(&image, &mut rng());

    // 255 (v / 255)^2: 64 -> 16.06 -> 16, 128 -> 64.25 -> 64.
    assert_eq!(output, gray(4, 1, &[0, 16, 64, 255]));
}

#[test]
fn grayscale_uses_bt601_weights() {
    let image = RgbImage::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 10, 20, 30]).unwrap();

    let output = to_grayscale(&image);

    // 0.299 * 255 = 76.2; 0.587 * 255 = 149.7; 2.99 + 11.74 + 3.42 = 18.15.
    assert_eq!(output, gray(3, 1, &[76, 150, 18]));
}

#[test]
fn grayscale_augmenter_keeps_three_channels() {
    let image = RgbImage::from_raw(1, 1, vec![10, 20, 30]).unwrap();

    let output = Grayscale.augment_rgb(&image, &mut rng());

    assert_eq!(output, to_rgb(&gray(1, 1, &[18])));
}

#[test]
fn color_jitter_zero_strength_keeps_image() {
    let jitter = ColorJitter::new(0.0, 0.0, 0.0).unwrap();
    let image = RgbImage::from_fn(5, 4, |x, y| Rgb([(x * 50) as u8, (y * 60) as u8, 90]));

    let output = jitter.augment_rgb(&image, &mut rng());

    assert_eq!(output, image);
}

#[test]
fn color_jitter_saturation_keeps_gray_pixels() {
    let jitter = ColorJitter::new(0.0, 0.0, 0.9).unwrap();
    let image = RgbImage::from_fn(4, 4, |x, y| Rgb([(x * 40 + y) as u8; 3]));

    for seed in 0..5 {
        let output = jitter.augment_rgb(&image, &mut StdRng::seed_from_u64(seed));
        assert_eq!(output, image, "seed {seed}");
    }
}

#[test]
fn color_jitter_changes_colour_image() {
    let jitter = ColorJitter::new(0.4, 0.4, 0.4).unwrap();
    let image = RgbImage::from_fn(4, 4, |x, y| Rgb([(x * 40) as u8, (y * 50) as u8, 100]));

    let output = jitter.augment_rgb(&image, &mut rng());

    assert_ne!(output, image);
}

#[test]
fn elastic_zero_alpha_keeps_image() {
    let elastic = ElasticDistortion::new((0.0, 0.0), 3.0).unwrap();
    let image = numbered();

    let output = elastic.augment(&image, &mut rng());

    assert_eq!(output, image);
}

#[test]
fn elastic_moves_pixels_within_bounds() {
    let elastic = ElasticDistortion::new((8.0, 8.0), 2.0).unwrap().with_fill(0);
    let image = GrayImage::from_fn(24, 24, |x, y| Luma([((x * 10 + y * 3) % 256) as u8]));

    let output = elastic.augment(&image, &mut rng());

    assert_eq!(output.dimensions(), image.dimensions());
    assert_ne!(output, image);
}

#[test]
fn f32_exact_operations_match_by_hand() {
    let image = GrayImageF32::from_raw(3, 1, vec![0.0, 0.25, 1.0]).unwrap();
    let mut rng = rng();

    let flipped = HorizontalFlip.augment_f32(&image, &mut rng);
    let inverted = Invert.augment_f32(&image, &mut rng);
    let upside_down = VerticalFlip.augment_f32(&image, &mut rng);

    assert_eq!(flipped.into_raw(), vec![1.0, 0.25, 0.0]);
    assert_eq!(inverted.into_raw(), vec![1.0, 0.75, 0.0]);
    assert_eq!(upside_down.into_raw(), vec![0.0, 0.25, 1.0]);
}

#[test]
fn f32_pad_fill_scaled_to_unit() {
    let pad = Pad::new(Extent::Pixels { min: 1, max: 1 }, 255).unwrap();
    let image = GrayImageF32::from_raw(1, 1, vec![0.5]).unwrap();

    let output = pad.augment_f32(&image, &mut rng());

    assert_eq!(output.get_pixel(0, 0)[0], 1.0);
    assert_eq!(output.get_pixel(1, 1)[0], 0.5);
}

#[test]
fn f32_gamma_keeps_fractional_values() {
    let gamma = Gamma::new((2.0, 2.0)).unwrap();
    let image = GrayImageF32::from_raw(2, 1, vec![0.5, 0.1]).unwrap();

    let output = gamma.augment_f32(&image, &mut rng());

    assert!((output.get_pixel(0, 0)[0] - 0.25).abs() < 1e-7);
    assert!((output.get_pixel(1, 0)[0] - 0.01).abs() < 1e-7);
}
