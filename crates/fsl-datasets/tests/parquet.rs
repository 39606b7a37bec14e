//! Parquet reading of pandas/pyarrow encodings, and atomic writing.

mod common;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, DictionaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use fsl_datasets::decode::{decode_row, gray_to_f32};
use fsl_datasets::parquet::{
    read_parquet, read_parquet_with_label, read_record_batch, write_parquet, write_parquet_with,
};
use fsl_datasets::{AnnotationTable, Error};
use parquet::file::properties::WriterProperties;

use common::{fixture, folder_names};

const LABELS: [&str; 4] = ["Latin", "N_Ko", "Latin", "Japanese_(katakana)"];
const STRING_COLUMNS: [&str; 5] = ["utf8", "large_utf8", "utf8_view", "dict_i8", "dict_i32"];

fn string_variants(label_column: &str) -> AnnotationTable {
    read_parquet_with_label(&fixture("string_variants.parquet"), label_column).unwrap()
}

#[test]
fn fixture_has_the_pyarrow_types() {
    let batch = read_record_batch(&fixture("string_variants.parquet")).unwrap();
    let schema = batch.schema();
    let type_of = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();

    assert_eq!(type_of("utf8"), DataType::Utf8);
    assert_eq!(type_of("large_utf8"), DataType::LargeUtf8);
    assert_eq!(type_of("utf8_view"), DataType::Utf8View);
    assert!(matches!(type_of("dict_i8"), DataType::Dictionary(key, _) if *key == DataType::Int8));
    assert!(matches!(type_of("dict_i32"), DataType::Dictionary(key, _) if *key == DataType::Int32));
    assert_eq!(type_of("large_binary"), DataType::LargeBinary);
}

#[test]
fn every_string_encoding_reads_as_label() {
    for column in STRING_COLUMNS {
        let table = string_variants(column);

        assert_eq!(table.strings("label").unwrap(), LABELS, "label from {column}");
        let index = table.class_index("label").unwrap();
        assert_eq!(index["Japanese_(katakana)"], 0, "label from {column}");
        assert_eq!(index["Latin"], 1, "label from {column}");
        assert_eq!(index["N_Ko"], 2, "label from {column}");
    }
}

#[test]
fn every_string_encoding_reads_by_name() {
    let table = string_variants("utf8");

    for column in STRING_COLUMNS.iter().filter(|&&column| column != "utf8") {
        assert_eq!(table.strings(column).unwrap(), LABELS, "column {column}");
    }
}

#[test]
fn binary_and_large_binary_give_same_bytes() {
    let table = string_variants("utf8");

    let binary = table.select(&["label", "binary"]).unwrap();
    let binary = binary
        .with_column("image", binary.column("binary").unwrap().clone())
        .unwrap();
    let large = table.select(&["label", "large_binary"]).unwrap();
    let large = large
        .with_column("image", large.column("large_binary").unwrap().clone())
        .unwrap();

    for row in 0..4 {
        let expected: Vec<u8> = [&[0x89u8][..], format!("PNG{}", row + 1).as_bytes()].concat();

        assert_eq!(binary.image_bytes(row).unwrap(), expected, "row {row}");
        assert_eq!(large.image_bytes(row).unwrap(), expected, "row {row}");
    }
}

#[test]
fn struct_image_uses_bytes_then_path() {
    let table = string_variants("utf8");

    assert_eq!(table.image_bytes(0).unwrap(), b"\x89PNG1");
    assert_eq!(table.image_bytes(2).unwrap(), b"\x89PNG3");

    let error = table.image_bytes(1).unwrap_err();
    assert!(matches!(error, Error::MissingImage { row: 1, .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("row 1"), "{message}");
    assert!(message.contains("b.png"), "{message}");

    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("b.png"), b"bytes of b.png").unwrap();
    let rooted = table.with_root(root.path().to_owned());
    assert_eq!(rooted.image_bytes(1).unwrap(), b"bytes of b.png");
    assert_eq!(rooted.image_bytes(3).unwrap(), b"\x89PNG4");
}

#[test]
fn nullable_integer_label_is_never_a_default() {
    let table = string_variants("utf8");

    let error = table.int64s("label_nullable").unwrap_err();
    assert!(matches!(&error, Error::NullValue { row: 1, .. }), "{error}");
    assert_eq!(error.to_string(), "label_nullable is null at row 1");

    let message = table.strings("label_nullable").unwrap_err().to_string();
    assert!(message.contains("label_nullable"), "{message}");
    assert!(message.contains("Int64"), "{message}");

    let message = read_parquet_with_label(&fixture("string_variants.parquet"), "label_nullable")
        .unwrap_err()
        .to_string();
    assert!(message.contains("Int64"), "{message}");
}

#[test]
fn null_string_label_survives_round_trip_as_error() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("nulls.parquet");
    let labels: ArrayRef = Arc::new(StringArray::from(vec![Some("3"), None, Some("5")]));
    let schema = Arc::new(Schema::new(vec![Field::new("label", DataType::Utf8, true)]));
    let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, vec![labels]).unwrap()).unwrap();

    write_parquet(&table, &file).unwrap();
    let error = read_parquet(&file).unwrap().strings("label").unwrap_err();

    assert_eq!(error.to_string(), "label is null at row 1");
}

#[test]
fn several_row_groups_concatenate() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("groups.parquet");
    let labels: DictionaryArray<Int32Type> = ["a", "b", "a", "c", "b", "c", "a"].into_iter().collect();
    let paths: ArrayRef = Arc::new(StringArray::from(vec!["p0", "p1", "p2", "p3", "p4", "p5", "p6"]));
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", labels.data_type().clone(), false),
        Field::new("path", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(labels), paths]).unwrap();
    let table = AnnotationTable::from_record_batch(batch).unwrap();
    let properties = WriterProperties::builder().set_max_row_group_row_count(Some(2)).build();

    write_parquet_with(&table, &file, properties).unwrap();
    let metadata = parquet::file::reader::FileReader::metadata(
        &parquet::file::serialized_reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap(),
    )
    .num_row_groups();
    let read_back = read_parquet(&file).unwrap();

    assert_eq!(metadata, 4);
    assert_eq!(read_back.strings("label").unwrap(), ["a", "b", "a", "c", "b", "c", "a"]);
    assert_eq!(read_back.strings("path").unwrap()[6], "p6");
}

#[test]
fn write_leaves_no_temporary_file() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");

    write_parquet(&string_variants("dict_i8"), &file).unwrap();
    write_parquet(&string_variants("utf8"), &file).unwrap();

    assert_eq!(folder_names(folder.path()), ["table.parquet"]);
    assert_eq!(read_parquet(&file).unwrap().strings("label").unwrap(), LABELS);
}

#[test]
fn failed_write_leaves_no_partial_file() {
    let folder = tempfile::tempdir().unwrap();
    // A non-empty folder at the destination makes the final rename fail after the data was
    // written to the temporary file.
    let target = folder.path().join("table.parquet");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();

    let error = write_parquet(&string_variants("utf8"), &target).unwrap_err();

    assert!(matches!(error, Error::Io { .. }), "{error}");
    assert_eq!(folder_names(folder.path()), ["table.parquet"]);
    assert_eq!(folder_names(&target), ["keep"]);
}

#[test]
fn write_into_missing_folder_fails_cleanly() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("absent").join("table.parquet");

    let message = write_parquet(&string_variants("utf8"), &file).unwrap_err().to_string();

    assert!(message.contains("absent"), "{message}");
    assert_eq!(folder_names(folder.path()), Vec::<String>::new());
}

#[test]
fn read_missing_file_names_path() {
    let error = read_parquet(std::path::Path::new("/nonexistent/table.parquet")).unwrap_err();

    assert!(matches!(error, Error::NotFound { .. }));
    assert!(error.to_string().contains("/nonexistent/table.parquet"));
}

#[test]
fn read_corrupt_file_is_parquet_error() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("corrupt.parquet");
    std::fs::write(&file, b"PAR1 this is not a parquet file").unwrap();

    let error = read_parquet(&file).unwrap_err();

    assert!(matches!(error, Error::Parquet { .. }), "{error}");
    assert!(error.to_string().contains("corrupt.parquet"));
}

#[test]
fn png_bytes_round_trip_and_decode() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("images.parquet");
    let png = std::fs::read(fixture("gray8_2x2.png")).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["gray"])),
        Arc::new(BinaryArray::from(vec![png.as_slice()])),
    ];
    let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap();

    write_parquet(&table, &file).unwrap();
    let read_back = read_parquet(&file).unwrap();
    let image = decode_row(&read_back, 0).unwrap();

    // The fixture's pixel rows, read from its IDAT stream: [0, 255] and [128, 64].
    assert_eq!(image.as_raw(), &[0, 255, 128, 64]);
    assert_eq!(
        gray_to_f32(&image, 2, 2, false),
        [0.0, 1.0, 128.0 / 255.0, 64.0 / 255.0]
    );
}
