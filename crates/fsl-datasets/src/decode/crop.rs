//! Crop boxes, given per image or read from the `crop` column of a table.

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use super::row_name;
use crate::error::{Error, Result};
use crate::table::AnnotationTable;

/// Name of the optional crop column: a list of four integers `[x1, y1, x2, y2]` per row, or
/// null for no crop. `(x1, y1)` is the top-left pixel of the box and `(x2, y2)` the corner just
/// past its bottom-right pixel, as in Pillow's `Image.crop`, so the box is `x2 - x1` pixels wide.
pub const CROP: &str = "crop";

const CROP_FORM: &str = "a list of four integers [x1, y1, x2, y2] in pixels with x1 < x2 and y1 < y2";

/// A crop box in pixels: the top-left corner `x`, `y` and the size `width` x `height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CropBox {
    /// Left edge, 0 at the left of the image.
    pub x: u32,
    /// Top edge, 0 at the top of the image.
    pub y: u32,
    /// Width of the box.
    pub width: u32,
    /// Height of the box.
    pub height: u32,
}

impl CropBox {
    /// Creates a box from its top-left corner and size.
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        CropBox { x, y, width, height }
    }

    /// Checks that the box is not empty and lies inside an `image_width` x `image_height`
    /// image.
    pub(crate) fn check(&self, image_width: u32, image_height: u32, source_name: &str) -> Result<()> {
        let right = u64::from(self.x) + u64::from(self.width);
        let bottom = u64::from(self.y) + u64::from(self.height);
        let reason = if self.width == 0 || self.height == 0 {
            "the box is empty; width and height must be at least 1"
        } else if right > u64::from(image_width) || bottom > u64::from(image_height) {
            "the box extends past the image"
        } else {
            return Ok(());
        };

        Err(Error::InvalidCrop {
            source_name: source_name.to_owned(),
            reason: format!(
                "{reason}: box x={}, y={}, width={}, height={} on a {image_width}x{image_height} image",
                self.x, self.y, self.width, self.height
            ),
        })
    }
}

/// Reads the [`CROP`] column: `None` when the table has no such column, otherwise one entry
/// per row, `None` for a null row.
///
/// The column may be a fixed-size list, list or large list of any integer type, which covers
/// what pyarrow writes for a pandas column of integer lists.
///
/// # Errors
///
/// [`Error::ColumnType`] for another column type, and [`Error::InvalidCrop`] naming the row for
/// a list that does not have four values, a null value, or a value outside 0..=4294967295.
/// Whether a box fits its image is checked only when the image is decoded.
pub fn crop_boxes(table: &AnnotationTable) -> Result<Option<Vec<Option<CropBox>>>> {
    if !table.column_names().iter().any(|name| name == CROP) {
        return Ok(None);
    }
    let column = table.column(CROP)?;

    let element_type = match column.data_type() {
        DataType::FixedSizeList(field, _) | DataType::List(field) | DataType::LargeList(field) => {
            field.data_type().clone()
        }
        other => return Err(column_type_error(other)),
    };
    if !element_type.is_integer() {
        return Err(column_type_error(column.data_type()));
    }

    let mut boxes = Vec::with_capacity(column.len());
    for row in 0..column.len() {
        if column.is_null(row) {
            boxes.push(None);
            continue;
        }
        let values = list_value(column, row);
        boxes.push(Some(parse_box(&values, &row_name(table, row))?));
    }
    Ok(Some(boxes))
}

fn column_type_error(data_type: &DataType) -> Error {
    Error::ColumnType {
        column: CROP.to_owned(),
        data_type: data_type.clone(),
        expected: "a fixed-size list, list or large list of integers",
    }
}

fn list_value(column: &ArrayRef, row: usize) -> ArrayRef {
    if let Some(list) = column.as_fixed_size_list_opt() {
        list.value(row)
    } else if let Some(list) = column.as_list_opt::<i32>() {
        list.value(row)
    } else {
        column.as_list::<i64>().value(row)
    }
}

fn parse_box(values: &ArrayRef, source_name: &str) -> Result<CropBox> {
    let invalid = |reason: String| Error::InvalidCrop {
        source_name: source_name.to_owned(),
        reason,
    };
    if values.len() != 4 {
        return Err(invalid(format!("found {} values, expected {CROP_FORM}", values.len())));
    }

    // A u64 beyond i64::MAX becomes null here and is rejected with the other nulls.
    let values = cast(values, &DataType::Int64)?;
    let values: &Int64Array = values.as_primitive();
    let mut parsed = [0u32; 4];
    for (slot, index) in parsed.iter_mut().zip(0..4) {
        if values.is_null(index) {
            return Err(invalid(format!(
                "value {index} is null or too large, expected {CROP_FORM}"
            )));
        }
        let value = values.value(index);
        *slot = u32::try_from(value)
            .map_err(|_| invalid(format!("value {value} is outside 0..=4294967295, expected {CROP_FORM}")))?;
    }

    let [x1, y1, x2, y2] = parsed;
    if x2 <= x1 || y2 <= y1 {
        return Err(invalid(format!(
            "the box [{x1}, {y1}, {x2}, {y2}] is empty, expected {CROP_FORM}"
        )));
    }
    Ok(CropBox::new(x1, y1, x2 - x1, y2 - y1))
}
