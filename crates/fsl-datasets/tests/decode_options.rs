//! `decode_image`: channels, bit depths, resize filters, crop boxes and bad input, checked
//! against values worked out by hand from tiny images that the tests encode.

mod common;

use std::io::Cursor;

use fsl_datasets::Error;
use fsl_datasets::decode::{Channels, CropBox, DecodeOptions, FilterType, decode_image};
use image::{GrayImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage};

use common::fixture;

fn encode<P>(image: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
{
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
    bytes
}

/// Encodes a 4x4 PNG whose pixel (x, y) has luma 10 * (4 * y + x).
fn ramp_4x4() -> Vec<u8> {
    encode(&GrayImage::from_fn(4, 4, |x, y| Luma([(10 * (4 * y + x)) as u8])))
}

fn gray(width: u32, height: u32) -> DecodeOptions {
    DecodeOptions::new(width, height)
}

fn assert_close(actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() < 1e-6, "value {index}: {a} != {e} in {actual:?}");
    }
}

#[test]
fn gray8_values_are_luma_over_255() {
    let bytes = encode(&GrayImage::from_raw(2, 2, vec![0, 255, 128, 64]).unwrap());

    let values = decode_image(&bytes, "gray.png", None, &gray(2, 2)).unwrap();

    assert_eq!(values, [0.0, 1.0, 128.0 / 255.0, 64.0 / 255.0]);
}

#[test]
fn invert_gives_one_minus_value() {
    let bytes = encode(&GrayImage::from_raw(2, 1, vec![0, 51]).unwrap());

    let values = decode_image(&bytes, "gray.png", None, &gray(2, 1).with_invert(true)).unwrap();

    assert_close(&values, &[1.0, 0.8]);
}

#[test]
fn rgb_output_is_planar() {
    let bytes = encode(&RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 128, 255]).unwrap());
    let options = gray(2, 1).with_channels(Channels::Rgb);

    let values = decode_image(&bytes, "rgb.png", None, &options).unwrap();

    // Red plane, then green, then blue; each plane is the two pixels left to right.
    assert_close(&values, &[1.0, 0.0, 0.0, 128.0 / 255.0, 0.0, 1.0]);
}

#[test]
fn rgb_to_gray_uses_rec709_weights() {
    let bytes = encode(&RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 128, 255]).unwrap());

    let values = decode_image(&bytes, "rgb.png", None, &gray(2, 1)).unwrap();

    // 0.2126 R + 0.7152 G + 0.0722 B on values in [0, 1].
    assert_close(&values, &[0.2126, 0.7152 * 128.0 / 255.0 + 0.0722]);
}

#[test]
fn gray_input_repeats_in_rgb_channels() {
    let bytes = encode(&GrayImage::from_raw(2, 1, vec![0, 51]).unwrap());
    let options = gray(2, 1).with_channels(Channels::Rgb);

    let values = decode_image(&bytes, "gray.png", None, &options).unwrap();

    assert_close(&values, &[0.0, 0.2, 0.0, 0.2, 0.0, 0.2]);
}

#[test]
fn sixteen_bit_gray_keeps_precision() {
    let image: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_raw(4, 1, vec![0, 1000, 32768, 65535]).unwrap();
    let bytes = encode(&image);

    let values = decode_image(&bytes, "deep.png", None, &gray(4, 1)).unwrap();

    // Reducing to 8 bits first would give 4 / 255 = 0.01569 and 128 / 255 = 0.50196.
    assert_close(&values, &[0.0, 1000.0 / 65535.0, 32768.0 / 65535.0, 1.0]);
    assert!((values[1] - 4.0 / 255.0).abs() > 1e-4);
}

#[test]
fn sixteen_bit_rgb_keeps_precision() {
    let image: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_raw(1, 1, vec![65535, 1000, 0]).unwrap();
    let bytes = encode(&image);
    let options = gray(1, 1).with_channels(Channels::Rgb);

    let values = decode_image(&bytes, "deep.png", None, &options).unwrap();

    assert_close(&values, &[1.0, 1000.0 / 65535.0, 0.0]);
}

#[test]
fn one_bit_png_gives_zero_and_one() {
    // Row 0 bits 1011001110 (most significant first), row 1 all zero; 1 is white.
    let bytes = std::fs::read(fixture("onebit_10x2.png")).unwrap();

    let values = decode_image(&bytes, "onebit.png", None, &gray(10, 2)).unwrap();

    let mut expected = vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
    expected.extend([0.0; 10]);
    assert_eq!(values, expected);
}

#[test]
fn palette_png_uses_colours() {
    // Palette entry 0 is white and entry 1 black; the pixel indices are 0, 1, 1, 0.
    let bytes = std::fs::read(fixture("palette_inverted_4x1.png")).unwrap();

    let gray_values = decode_image(&bytes, "palette.png", None, &gray(4, 1)).unwrap();
    let rgb_values = decode_image(&bytes, "palette.png", None, &gray(4, 1).with_channels(Channels::Rgb)).unwrap();

    assert_eq!(gray_values, [1.0, 0.0, 0.0, 1.0]);
    assert_eq!(rgb_values, [1.0, 0.0, 0.0, 1.0].repeat(3));
}

#[test]
fn nearest_downscale_picks_centre_pixels() {
    // 6x6 to 2x2: output pixel centres fall on input x and y 1.5 and 4.5, inside pixels 1
    // and 4, whose luma is 5 * (6 * y + x).
    let bytes = encode(&GrayImage::from_fn(6, 6, |x, y| Luma([(5 * (6 * y + x)) as u8])));
    let options = gray(2, 2).with_filter(FilterType::Nearest);

    let values = decode_image(&bytes, "ramp.png", None, &options).unwrap();

    assert_close(&values, &[35.0 / 255.0, 50.0 / 255.0, 125.0 / 255.0, 140.0 / 255.0]);
}

#[test]
fn nearest_upscale_repeats_pixels() {
    let bytes = encode(&GrayImage::from_raw(2, 1, vec![0, 255]).unwrap());
    let options = gray(4, 1).with_filter(FilterType::Nearest);

    let values = decode_image(&bytes, "pair.png", None, &options).unwrap();

    assert_eq!(values, [0.0, 0.0, 1.0, 1.0]);
}

#[test]
fn triangle_upscale_interpolates_linearly() {
    // Output centres at input x 0.25, 0.75, 1.25, 1.75; input centres at 0.5 and 1.5. The
    // outer two see only their nearest input pixel, the inner two weigh both 3:1.
    let bytes = encode(&GrayImage::from_raw(2, 1, vec![0, 255]).unwrap());
    let options = gray(4, 1).with_filter(FilterType::Triangle);

    let values = decode_image(&bytes, "pair.png", None, &options).unwrap();

    assert_close(&values, &[0.0, 0.25, 0.75, 1.0]);
}

#[test]
fn filters_give_different_values() {
    let bytes = ramp_4x4();

    let nearest = decode_image(&bytes, "ramp.png", None, &gray(3, 3).with_filter(FilterType::Nearest)).unwrap();
    let triangle = decode_image(&bytes, "ramp.png", None, &gray(3, 3).with_filter(FilterType::Triangle)).unwrap();
    let lanczos = decode_image(&bytes, "ramp.png", None, &gray(3, 3).with_filter(FilterType::Lanczos3)).unwrap();

    assert_ne!(nearest, triangle);
    assert_ne!(triangle, lanczos);
    assert!(lanczos.iter().all(|value| (0.0..=1.0).contains(value)), "{lanczos:?}");
}

#[test]
fn crop_selects_box_before_resize() {
    let bytes = ramp_4x4();
    let crop = CropBox::new(1, 2, 2, 1);

    let cropped = decode_image(&bytes, "ramp.png", Some(crop), &gray(2, 1)).unwrap();
    let enlarged = decode_image(
        &bytes,
        "ramp.png",
        Some(crop),
        &gray(4, 2).with_filter(FilterType::Nearest),
    )
    .unwrap();

    // Pixels (1, 2) and (2, 2) have luma 90 and 100.
    assert_close(&cropped, &[90.0 / 255.0, 100.0 / 255.0]);
    let (a, b) = (90.0 / 255.0, 100.0 / 255.0);
    assert_close(&enlarged, &[a, a, b, b, a, a, b, b]);
}

#[test]
fn crop_of_whole_image_changes_nothing() {
    let bytes = ramp_4x4();

    let whole = decode_image(&bytes, "ramp.png", Some(CropBox::new(0, 0, 4, 4)), &gray(4, 4)).unwrap();
    let plain = decode_image(&bytes, "ramp.png", None, &gray(4, 4)).unwrap();

    assert_eq!(whole, plain);
}

#[test]
fn crop_outside_image_is_invalid_crop() {
    let bytes = ramp_4x4();

    for crop in [
        CropBox::new(3, 0, 2, 1),
        CropBox::new(0, 4, 1, 1),
        CropBox::new(u32::MAX, 0, 2, 2),
    ] {
        let error = decode_image(&bytes, "ramp.png", Some(crop), &gray(2, 2)).unwrap_err();

        let message = error.to_string();
        assert!(
            matches!(&error, Error::InvalidCrop { source_name, .. } if source_name == "ramp.png"),
            "{message}"
        );
        assert!(message.contains("extends past the image"), "{message}");
        assert!(message.contains("4x4"), "{message}");
    }
}

#[test]
fn empty_crop_is_invalid_crop() {
    let error = decode_image(&ramp_4x4(), "ramp.png", Some(CropBox::new(1, 1, 0, 2)), &gray(2, 2)).unwrap_err();

    assert!(matches!(error, Error::InvalidCrop { .. }), "{error}");
    assert!(error.to_string().contains("empty"), "{error}");
}

#[test]
fn zero_output_size_is_invalid_argument() {
    let error = decode_image(&ramp_4x4(), "ramp.png", None, &gray(0, 4)).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert!(error.to_string().contains("0x4"), "{error}");
}

#[test]
fn truncated_png_is_decode_error() {
    let bytes = ramp_4x4();

    for length in [0, 8, 40, bytes.len() - 13] {
        let error = decode_image(&bytes[..length], "cut.png", None, &gray(4, 4)).unwrap_err();

        assert!(
            matches!(&error, Error::Decode { source_name, .. } if source_name == "cut.png"),
            "length {length}: {error}"
        );
    }
}

#[test]
fn corrupt_png_data_is_decode_error() {
    let mut bytes = ramp_4x4();
    let idat = bytes.windows(4).position(|window| window == b"IDAT").unwrap();
    // The chunk data starts after the type; flipping it breaks the CRC and the zlib stream.
    for byte in &mut bytes[idat + 4..idat + 12] {
        *byte ^= 0xff;
    }

    let error = decode_image(&bytes, "flipped.png", None, &gray(4, 4)).unwrap_err();

    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert!(error.to_string().contains("flipped.png"), "{error}");
}

#[test]
fn text_bytes_are_decode_error() {
    let error = decode_image(b"character notes, not an image", "notes.png", None, &gray(4, 4)).unwrap_err();

    assert!(matches!(error, Error::Decode { .. }), "{error}");
}
