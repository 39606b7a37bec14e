//! Decoding PNG and JPEG bytes into grayscale images and `f32` pixel values.

use image::GrayImage;
use image::imageops::{self, FilterType};

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
    let source_name = match table.string(PATH, row) {
        Ok(path) => format!("{path} (row {row})"),
        Err(_) => format!("at row {row}"),
    };

    decode_luma8_named(&bytes, &source_name)
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
