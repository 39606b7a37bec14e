//! PNG decoding to luma and to `f32` tensors' pixel values.

mod common;

use fsl_datasets::Error;
use fsl_datasets::decode::{decode_luma8, decode_luma8_named, gray_to_f32};
use image::{GrayImage, Luma};

use common::fixture;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

#[test]
fn one_bit_png_scales_to_full_range() {
    // Row 0 bits 1011001110 (MSB first), row 1 all zero; 1 means white.
    let image = decode_luma8(&read("onebit_10x2.png")).unwrap();

    assert_eq!(image.dimensions(), (10, 2));
    let mut expected = vec![255, 0, 255, 255, 0, 0, 255, 255, 255, 0];
    expected.extend([0; 10]);
    assert_eq!(image.as_raw(), &expected);
}

#[test]
fn one_bit_png_inverts_to_ink() {
    let image = decode_luma8(&read("onebit_10x2.png")).unwrap();

    let ink = gray_to_f32(&image, 10, 2, true);

    assert_eq!(ink[..10], [0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(ink[10..], [1.0; 10]);
}

#[test]
fn palette_png_uses_colours_not_indices() {
    // Palette: index 0 white, index 1 black; pixel indices 0, 1, 1, 0.
    let image = decode_luma8(&read("palette_inverted_4x1.png")).unwrap();

    assert_eq!(image.as_raw(), &[255, 0, 0, 255]);
}

#[test]
fn corrupt_png_is_decode_error_with_name() {
    let mut bytes = read("onebit_10x2.png");
    bytes.truncate(40);

    let error = decode_luma8_named(&bytes, "Greek/character01/0394_01.png").unwrap_err();

    assert!(matches!(&error, Error::Decode { source_name, .. } if source_name == "Greek/character01/0394_01.png"));
    assert!(error.to_string().contains("0394_01.png"), "{error}");
}

#[test]
fn non_image_bytes_are_decode_error() {
    // The header of an AppleDouble file, which macOS archives store beside each image.
    let error = decode_luma8(&[0x00, 0x05, 0x16, 0x07, 0, 0, 0, 0]).unwrap_err();

    assert!(matches!(error, Error::Decode { .. }), "{error}");
}

#[test]
fn same_size_values_are_luma_over_255() {
    let image = decode_luma8(&read("gray8_2x2.png")).unwrap();

    assert_eq!(
        gray_to_f32(&image, 2, 2, false),
        [0.0, 1.0, 128.0 / 255.0, 64.0 / 255.0]
    );
    assert_eq!(
        gray_to_f32(&image, 2, 2, true),
        [1.0, 0.0, 1.0 - 128.0 / 255.0, 1.0 - 64.0 / 255.0]
    );
}

#[test]
fn resize_keeps_uniform_image_uniform() {
    let image = GrayImage::from_pixel(105, 105, Luma([51]));

    let values = gray_to_f32(&image, 28, 28, false);

    assert_eq!(values.len(), 28 * 28);
    assert!(values.iter().all(|&value| (value - 0.2).abs() < 1e-6));
}

#[test]
fn resize_antialiases_a_line() {
    // A one-pixel black column in white: antialiased downscaling spreads it into grey, where
    // nearest-neighbour sampling would keep only black and white or drop it.
    let mut image = GrayImage::from_pixel(8, 8, Luma([255]));
    for y in 0..8 {
        image.put_pixel(3, y, Luma([0]));
    }

    let values = gray_to_f32(&image, 4, 4, false);

    assert_eq!(values.len(), 16);
    assert!(values.iter().all(|&value| (0.0..=1.0).contains(&value)));
    assert!(values.iter().any(|&value| value > 0.05 && value < 0.95), "{values:?}");
    // The column is in the left half, so the rightmost output column stays white.
    assert!((0..4).all(|y| values[y * 4 + 3] > 0.99), "{values:?}");
}
