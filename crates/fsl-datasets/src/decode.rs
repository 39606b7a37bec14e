//! Decoding PNG and JPEG bytes into grayscale or RGB `f32` pixel values.
//!
//! [`decode_luma8`] and [`gray_to_f32`] give 8-bit grayscale images and their values.
//! [`decode_image`] goes from bytes to `C x H x W` values in [0, 1] with a chosen channel count,
//! resize filter and optional [`CropBox`], keeping the precision of 16-bit PNGs.
//! [`decode_batch`] and [`decode_table`] decode many images in parallel into one
//! `N x C x H x W` [`ImageBatch`], whose `values` and `shape` go straight into
//! `candle_core::Tensor::from_vec`.
//!
//! # Example
//!
//! ```
//! use std::io::Cursor;
//!
//! use fsl_datasets::decode::{CropBox, DecodeOptions, FilterType, decode_image};
//! use image::{GrayImage, ImageFormat, Luma};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A 4x4 PNG whose pixel (x, y) has luma 60 * x.
//! let mut png = Vec::new();
//! GrayImage::from_fn(4, 4, |x, _| Luma([60 * x as u8])).write_to(&mut Cursor::new(&mut png), ImageFormat::Png)?;
//!
//! // The right half of the top row, kept at its size of 2x1.
//! let options = DecodeOptions::new(2, 1).with_filter(FilterType::Nearest);
//! let values = decode_image(&png, "ramp.png", Some(CropBox::new(2, 0, 2, 1)), &options)?;
//! assert_eq!(values, [120.0 / 255.0, 180.0 / 255.0]);
//! # Ok(())
//! # }
//! ```

mod batch;
mod crop;
mod pixels;

pub use batch::{ImageBatch, decode_batch, decode_table};
pub use crop::{CROP, CropBox, crop_boxes};
pub use image::imageops::FilterType;
pub use pixels::{Channels, DecodeOptions, decode_image};

use image::GrayImage;
use image::imageops;

use crate::error::{Error, Result};
use crate::table::{AnnotationTable, PATH};

/// Decodes PNG or JPEG bytes into an 8-bit grayscale image.
///
/// Sub-byte grayscale depths are scaled to 0..=255 (a 1-bit PNG gives 0 and 255) and palette
/// images are expanded to their colours before conversion, so palette indices are never read
/// as intensities. Colour images are converted with the Rec. 709 luma weights of the `image`
/// crate, and an alpha channel is dropped.
///
/// # Errors
///
/// [`Error::Decode`] with `source_name` "image bytes"; use [`decode_luma8_named`] to name the
/// file or row.
pub fn decode_luma8(bytes: &[u8]) -> Result<GrayImage> {
    decode_luma8_named(bytes, "image bytes")
}

/// Decodes like [`decode_luma8`], naming `source_name` (a file, archive entry or table row) in
/// the error.
///
/// # Errors
///
/// [`Error::Decode`] when the format is unknown or the data is corrupt.
pub fn decode_luma8_named(bytes: &[u8], source_name: &str) -> Result<GrayImage> {
    let image = image::load_from_memory(bytes).map_err(|source| Error::Decode {
        source_name: source_name.to_owned(),
        source,
    })?;

    Ok(image.to_luma8())
}

/// Decodes the image of one table row, naming its `path` (or the row index) in errors.
///
/// # Errors
///
/// The errors of [`AnnotationTable::image_bytes`] and [`decode_luma8_named`].
pub fn decode_row(table: &AnnotationTable, row: usize) -> Result<GrayImage> {
    let bytes = table.image_bytes(row)?;

    decode_luma8_named(&bytes, &row_name(table, row))
}

/// Names a table row in errors: its `path` and index, or the index alone.
pub(crate) fn row_name(table: &AnnotationTable, row: usize) -> String {
    match table.string(PATH, row) {
        Ok(path) => format!("{path} (row {row})"),
        Err(_) => format!("row {row}"),
    }
}

/// Converts a grayscale image to row-major `f32` values in [0, 1], resized to
/// `width` x `height` first when its size differs.
///
/// Resizing uses the antialiasing triangle (bilinear) filter. With `invert`, values are
/// `1 - luma / 255`, the Omniglot convention where ink is 1 and background 0.
pub fn gray_to_f32(image: &GrayImage, width: u32, height: u32, invert: bool) -> Vec<f32> {
    let resized;
    let image = if image.dimensions() == (width, height) {
        image
    } else {
        resized = imageops::resize(image, width, height, FilterType::Triangle);
        &resized
    };

    image
        .as_raw()
        .iter()
        .map(|&luma| {
            let value = f32::from(luma) / 255.0;
            if invert { 1.0 - value } else { value }
        })
        .collect()
}
