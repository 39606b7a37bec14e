//! Parallel batch decoding of byte pairs and table rows, with the optional crop column.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, FixedSizeListArray, Int32Array, ListArray, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use fsl_datasets::decode::{Channels, DecodeOptions, FilterType, ImageBatch, decode_batch, decode_image, decode_table};
use fsl_datasets::{AnnotationTable, Error, image_folder};
use image::{GrayImage, ImageFormat, Luma, RgbImage};

fn png(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
    bytes
}

/// Encodes a 4x4 PNG whose pixel (x, y) has luma `base + 4 * y + x`.
fn ramp(base: u8) -> Vec<u8> {
    png(&GrayImage::from_fn(4, 4, |x, y| Luma([base + (4 * y + x) as u8])))
}

fn table_with_crop(crop: ArrayRef) -> AnnotationTable {
    let rows = crop.len();
    let images: Vec<Vec<u8>> = (0..rows).map(|row| ramp(100 * row as u8)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", DataType::Binary, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("crop", crop.data_type().clone(), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(&images)),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|row| format!("class{row}")),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|row| format!("image{row}.png")),
        )),
        crop,
    ];
    AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap()
}

fn fixed_size_crops(boxes: Vec<Option<[i32; 4]>>) -> ArrayRef {
    Arc::new(FixedSizeListArray::from_iter_primitive::<
        arrow::datatypes::Int32Type,
        _,
        _,
    >(
        boxes.into_iter().map(|crop| crop.map(|values| values.map(Some))), 4
    ))
}

fn list_crops(boxes: Vec<Option<Vec<i64>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
        boxes
            .into_iter()
            .map(|crop| crop.map(|values| values.into_iter().map(Some).collect::<Vec<_>>())),
    ))
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(work)
}

#[test]
fn batch_keeps_input_order_and_shape() {
    let images: Vec<(String, Vec<u8>)> = (0..40u8)
        .map(|index| (format!("{index}.png"), ramp(5 * index)))
        .collect();
    let options = DecodeOptions::new(4, 4);

    let batch = in_pool(2, || decode_batch(&images, &options)).unwrap();

    assert_eq!(batch.shape, [40, 1, 4, 4]);
    assert_eq!(batch.len(), 40);
    for (index, (_, _)) in images.iter().enumerate() {
        // The first pixel of image i has luma 5 * i.
        assert_eq!(batch.image(index)[0], (5 * index) as f32 / 255.0, "image {index}");
        assert_eq!(batch.image(index)[15], (5 * index + 15) as f32 / 255.0, "image {index}");
    }
}

#[test]
fn batch_equals_serial_decoding() {
    let images: Vec<(String, Vec<u8>)> = (0..16u8)
        .map(|index| (format!("{index}.png"), ramp(10 * index)))
        .collect();
    let options = DecodeOptions::new(3, 2).with_filter(FilterType::CatmullRom);

    let parallel = in_pool(2, || decode_batch(&images, &options)).unwrap();
    let serial = in_pool(1, || decode_batch(&images, &options)).unwrap();

    let mut one_by_one = Vec::new();
    for (name, bytes) in &images {
        one_by_one.extend(decode_image(bytes, name, None, &options).unwrap());
    }
    assert_eq!(parallel, serial);
    assert_eq!(parallel.values, one_by_one);
}

#[test]
fn batch_rgb_shape_has_three_channels() {
    let mut bytes = Vec::new();
    RgbImage::from_pixel(2, 2, image::Rgb([255, 0, 51]))
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    let options = DecodeOptions::new(2, 2).with_channels(Channels::Rgb);

    let batch = decode_batch(&[("a.png", bytes.as_slice()), ("b.png", bytes.as_slice())], &options).unwrap();

    assert_eq!(batch.shape, [2, 3, 2, 2]);
    let mut expected = vec![1.0; 4];
    expected.extend([0.0; 4]);
    expected.extend([0.2; 4]);
    assert_eq!(batch.image(1), expected.as_slice());
}

#[test]
fn batch_error_is_first_bad_image_in_order() {
    let mut images: Vec<(String, Vec<u8>)> = (0..50u8).map(|index| (format!("{index}.png"), ramp(index))).collect();
    images[12].1.truncate(30);
    images[45].1 = b"not an image".to_vec();

    for _ in 0..5 {
        let error = in_pool(2, || decode_batch(&images, &DecodeOptions::new(4, 4))).unwrap_err();

        assert!(
            matches!(&error, Error::Decode { source_name, .. } if source_name == "12.png"),
            "{error}"
        );
    }
}

#[test]
fn empty_batch_has_zero_images() {
    let images: Vec<(String, Vec<u8>)> = Vec::new();

    let batch = decode_batch(&images, &DecodeOptions::new(4, 4)).unwrap();

    assert_eq!(
        batch,
        ImageBatch {
            values: Vec::new(),
            shape: [0, 1, 4, 4]
        }
    );
    assert!(batch.is_empty());
}

#[test]
fn table_rows_follow_requested_order() {
    let table = table_with_crop(fixed_size_crops(vec![None, None, None]));

    let batch = decode_table(&table, &[2, 0, 2], &DecodeOptions::new(4, 4)).unwrap();

    assert_eq!(batch.shape, [3, 1, 4, 4]);
    assert_eq!(batch.image(0)[0], 200.0 / 255.0);
    assert_eq!(batch.image(1)[0], 0.0);
    assert_eq!(batch.image(2), batch.image(0));
}

#[test]
fn fixed_size_crop_column_crops_rows() {
    // Row 0: pixels (1, 1), (2, 1) have luma 5 and 6. Row 1 has no box. Row 2: pixels
    // (0, 3), (1, 3) have luma 200 + 12 and 200 + 13.
    let table = table_with_crop(fixed_size_crops(vec![Some([1, 1, 3, 2]), None, Some([0, 3, 2, 4])]));

    let cropped = decode_table(&table, &[0, 2], &DecodeOptions::new(2, 1)).unwrap();
    let uncropped = decode_table(&table, &[1], &DecodeOptions::new(4, 4)).unwrap();

    assert_eq!(cropped.values, [5.0 / 255.0, 6.0 / 255.0, 212.0 / 255.0, 213.0 / 255.0]);
    assert_eq!(
        uncropped.values[..4],
        [100.0 / 255.0, 101.0 / 255.0, 102.0 / 255.0, 103.0 / 255.0]
    );
}

#[test]
fn list_crop_column_crops_rows() {
    let table = table_with_crop(list_crops(vec![Some(vec![3, 0, 4, 2]), None]));

    let batch = decode_table(&table, &[0], &DecodeOptions::new(1, 2)).unwrap();

    // Pixels (3, 0) and (3, 1) have luma 3 and 7.
    assert_eq!(batch.values, [3.0 / 255.0, 7.0 / 255.0]);
}

#[test]
fn crop_outside_image_names_row() {
    let table = table_with_crop(fixed_size_crops(vec![Some([0, 0, 4, 4]), Some([2, 2, 5, 5])]));

    let error = decode_table(&table, &[0, 1], &DecodeOptions::new(2, 2)).unwrap_err();

    let message = error.to_string();
    assert!(
        matches!(&error, Error::InvalidCrop { source_name, .. } if source_name == "image1.png (row 1)"),
        "{message}"
    );
    assert!(message.contains("x=2, y=2, width=3, height=3"), "{message}");
}

#[test]
fn crop_with_three_values_names_row() {
    let table = table_with_crop(list_crops(vec![Some(vec![0, 0, 2, 2]), Some(vec![0, 0, 2])]));

    let error = decode_table(&table, &[0], &DecodeOptions::new(2, 2)).unwrap_err();

    assert!(
        matches!(&error, Error::InvalidCrop { source_name, .. } if source_name.contains("row 1")),
        "{error}"
    );
    assert!(error.to_string().contains("found 3 values"), "{error}");
}

#[test]
fn crop_with_corners_swapped_is_empty() {
    let table = table_with_crop(list_crops(vec![Some(vec![3, 0, 1, 2])]));

    let error = decode_table(&table, &[0], &DecodeOptions::new(2, 2)).unwrap_err();

    assert!(matches!(error, Error::InvalidCrop { .. }), "{error}");
    assert!(error.to_string().contains("[3, 0, 1, 2] is empty"), "{error}");
}

#[test]
fn negative_crop_value_names_row() {
    let table = table_with_crop(list_crops(vec![Some(vec![-1, 0, 2, 2])]));

    let error = decode_table(&table, &[0], &DecodeOptions::new(2, 2)).unwrap_err();

    assert!(matches!(error, Error::InvalidCrop { .. }), "{error}");
    assert!(error.to_string().contains("value -1"), "{error}");
}

#[test]
fn string_crop_column_is_column_type_error() {
    let crop: ArrayRef = Arc::new(StringArray::from(vec!["0 0 2 2"]));
    let table = table_with_crop(crop);

    let error = decode_table(&table, &[0], &DecodeOptions::new(2, 2)).unwrap_err();

    assert!(matches!(error, Error::ColumnType { .. }), "{error}");
    assert!(error.to_string().contains("crop"), "{error}");
}

#[test]
fn row_past_end_is_out_of_range() {
    let table = table_with_crop(Arc::new(Int32Array::from(vec![0])) as ArrayRef)
        .select(&["image", "label", "path"])
        .unwrap();

    let error = decode_table(&table, &[0, 1], &DecodeOptions::new(4, 4)).unwrap_err();

    assert!(matches!(error, Error::RowOutOfRange { row: 1, num_rows: 1 }), "{error}");
}

#[test]
fn image_folder_rows_decode_from_files() {
    let folder = tempfile::tempdir().unwrap();
    for (class, base) in [("Japanese_(katakana)", 0u8), ("Ελληνικά", 50)] {
        std::fs::create_dir_all(folder.path().join(class)).unwrap();
        std::fs::write(folder.path().join(class).join("one.png"), ramp(base)).unwrap();
    }
    let table = image_folder::load(folder.path()).unwrap();

    let batch = decode_table(&table, &[0, 1], &DecodeOptions::new(4, 4).with_invert(true)).unwrap();

    assert_eq!(batch.image(0)[0], 1.0);
    assert_eq!(batch.image(1)[0], 1.0 - 50.0 / 255.0);
}

#[test]
fn unreadable_row_file_is_error() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(folder.path().join("cat")).unwrap();
    std::fs::write(folder.path().join("cat/a.png"), ramp(0)).unwrap();
    std::fs::write(folder.path().join("cat/b.png"), b"truncated").unwrap();
    let table = image_folder::load(folder.path()).unwrap();

    let error = decode_table(&table, &[0, 1], &DecodeOptions::new(4, 4)).unwrap_err();

    assert!(
        matches!(&error, Error::Decode { source_name, .. } if source_name == "cat/b.png (row 1)"),
        "{error}"
    );
}
