//! Parallel decoding of many images into one `N x C x H x W` batch.

use rayon::prelude::*;

use super::crop::{CropBox, crop_boxes};
use super::pixels::{DecodeOptions, decode_image};
use super::row_name;
use crate::error::{Error, Result};
use crate::table::AnnotationTable;

/// Decoded images as one block of `f32` values.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    /// The values in `shape` order: image, channel, row, column.
    pub values: Vec<f32>,
    /// `[images, channels, height, width]`.
    pub shape: [usize; 4],
}

impl ImageBatch {
    /// Returns the number of images.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Returns true when the batch has no images.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    /// Returns the values of image `index`, `channels * height * width` of them.
    ///
    /// # Panics
    ///
    /// When `index >= self.len()`, like slice indexing.
    pub fn image(&self, index: usize) -> &[f32] {
        let size = self.shape[1] * self.shape[2] * self.shape[3];
        &self.values[index * size..(index + 1) * size]
    }
}

/// Decodes `(name, bytes)` pairs with [`decode_image`] on the rayon thread pool, in input order.
///
/// Runs inside [`rayon::ThreadPool::install`] use that pool, so a one-thread pool decodes
/// serially. The name of each pair appears in its errors.
///
/// # Errors
///
/// The error of the first image, in input order, that fails [`decode_image`].
pub fn decode_batch<N, B>(images: &[(N, B)], options: &DecodeOptions) -> Result<ImageBatch>
where
    N: AsRef<str> + Sync,
    B: AsRef<[u8]> + Sync,
{
    options.validate()?;

    let decoded: Vec<Result<Vec<f32>>> = images
        .par_iter()
        .map(|(name, bytes)| decode_image(bytes.as_ref(), name.as_ref(), None, options))
        .collect();

    stack(decoded, options)
}

/// Decodes the images of `rows` of a table on the rayon thread pool, in the order of `rows`.
///
/// Image bytes come from [`AnnotationTable::image_bytes`] (the `image` column, or files under
/// the table root), and the [`CROP`](super::CROP) column, when the table has one, crops each
/// image before resizing. Errors name the row and its `path`.
///
/// # Errors
///
/// [`Error::RowOutOfRange`] for a row past the end, the errors of [`crop_boxes`], and the error
/// of the first row, in the order of `rows`, whose bytes cannot be read or decoded, or whose
/// crop box does not fit its image.
pub fn decode_table(table: &AnnotationTable, rows: &[usize], options: &DecodeOptions) -> Result<ImageBatch> {
    options.validate()?;
    if let Some(&row) = rows.iter().find(|&&row| row >= table.num_rows()) {
        return Err(Error::RowOutOfRange {
            row,
            num_rows: table.num_rows(),
        });
    }
    let crops = crop_boxes(table)?;

    let decoded: Vec<Result<Vec<f32>>> = rows
        .par_iter()
        .map(|&row| {
            let bytes = table.image_bytes(row)?;
            let crop: Option<CropBox> = crops.as_ref().and_then(|crops| crops[row]);
            decode_image(&bytes, &row_name(table, row), crop, options)
        })
        .collect();

    stack(decoded, options)
}

/// Concatenates per-image values, returning the first error in input order.
fn stack(decoded: Vec<Result<Vec<f32>>>, options: &DecodeOptions) -> Result<ImageBatch> {
    let count = decoded.len();
    let mut values = Vec::with_capacity(count * options.values_per_image());
    for image in decoded {
        values.extend(image?);
    }

    Ok(ImageBatch {
        values,
        shape: [
            count,
            options.channels.count(),
            options.height as usize,
            options.width as usize,
        ],
    })
}
