//! Reading Parquet files by row group, writing them in parts, and truncated files.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use fsl_datasets::parquet::{ParquetTableWriter, RowGroupReader, read_parquet, write_parquet, write_parquet_with};
use fsl_datasets::{AnnotationTable, Error};
use parquet::file::properties::WriterProperties;

use common::folder_names;

/// Builds rows `start..end` with label `class<row % 3>`, an image of the row's bytes and the
/// row number as `drawer`.
fn rows(start: i64, end: i64) -> AnnotationTable {
    let labels: Vec<String> = (start..end).map(|row| format!("class{}", row % 3)).collect();
    let images: Vec<Vec<u8>> = (start..end).map(|row| row.to_le_bytes().to_vec()).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, false),
        Field::new("drawer", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(labels)),
        Arc::new(BinaryArray::from_iter_values(images)),
        Arc::new(Int64Array::from_iter_values(start..end)),
    ];
    AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap()
}

fn row_groups_of(rows_per_group: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build()
}

#[test]
fn row_group_reader_yields_each_group() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");
    write_parquet_with(&rows(0, 7), &file, row_groups_of(3)).unwrap();

    let reader = RowGroupReader::open(&file).unwrap();
    assert_eq!(reader.num_row_groups(), 3);
    assert_eq!(reader.num_rows(), 7);
    assert_eq!(reader.len(), 3);

    let drawers: Vec<Vec<i64>> = reader.map(|table| table.unwrap().int64s("drawer").unwrap()).collect();
    assert_eq!(drawers, [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn row_group_reader_keeps_image_bytes() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");
    write_parquet_with(&rows(0, 5), &file, row_groups_of(2)).unwrap();

    let last = RowGroupReader::open(&file).unwrap().last().unwrap().unwrap();

    assert_eq!(last.num_rows(), 1);
    assert_eq!(last.image_bytes(0).unwrap(), 4i64.to_le_bytes());
    assert_eq!(last.strings("label").unwrap(), ["class1"]);
}

#[test]
fn empty_table_round_trips() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("empty.parquet");

    write_parquet(&rows(0, 0), &file).unwrap();
    let table = read_parquet(&file).unwrap();

    assert_eq!(table.num_rows(), 0);
    assert_eq!(table.column_names(), ["label", "image", "drawer"]);
}

#[test]
fn writer_appends_tables_in_order() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");
    let first = rows(0, 2);
    let mut writer = ParquetTableWriter::create(&file, first.record_batch().schema(), row_groups_of(2)).unwrap();

    writer.write(&first).unwrap();
    writer.write(&rows(2, 5)).unwrap();
    writer.write(&rows(5, 6)).unwrap();
    assert_eq!(writer.num_rows(), 6);
    assert!(!file.exists(), "the destination appears only when the writer finishes");
    writer.finish().unwrap();

    let table = read_parquet(&file).unwrap();
    assert_eq!(table.int64s("drawer").unwrap(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(RowGroupReader::open(&file).unwrap().num_row_groups(), 3);
    assert_eq!(folder_names(folder.path()), ["table.parquet"]);
}

#[test]
fn dropped_writer_leaves_old_file() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");
    write_parquet(&rows(0, 3), &file).unwrap();
    let before = std::fs::read(&file).unwrap();

    let mut writer = ParquetTableWriter::create(&file, rows(0, 0).record_batch().schema(), row_groups_of(2)).unwrap();
    writer.write(&rows(10, 20)).unwrap();
    drop(writer);

    assert_eq!(folder_names(folder.path()), ["table.parquet"]);
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn writer_rejects_other_columns() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("table.parquet");
    let mut writer = ParquetTableWriter::create(&file, rows(0, 0).record_batch().schema(), row_groups_of(2)).unwrap();
    let other = rows(0, 2).select(&["label", "drawer"]).unwrap();

    let error = writer.write(&other).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("image: Binary"), "{message}");
    assert!(message.contains("table.parquet"), "{message}");
}

fn truncate(file: &Path, length: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(length)
        .unwrap();
}

#[test]
fn truncated_file_is_parquet_error() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("truncated.parquet");
    write_parquet(&rows(0, 50), &file).unwrap();
    let length = std::fs::metadata(&file).unwrap().len();

    for kept in [0, 4, length / 2, length - 1] {
        truncate(&file, kept);

        let error = read_parquet(&file).unwrap_err();
        assert!(matches!(error, Error::Parquet { .. }), "{kept} bytes: {error}");
        assert!(error.to_string().contains("truncated.parquet"), "{kept} bytes: {error}");

        let error = RowGroupReader::open(&file).unwrap_err();
        assert!(matches!(error, Error::Parquet { .. }), "{kept} bytes: {error}");
    }
}

#[test]
fn damaged_row_group_fails_when_read() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("damaged.parquet");
    write_parquet_with(&rows(0, 40), &file, row_groups_of(20)).unwrap();

    // Zeroing the start of the first row group keeps the footer valid, so opening succeeds
    // and the damage shows when that row group is read.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[4..64].fill(0);
    std::fs::write(&file, bytes).unwrap();

    let mut reader = RowGroupReader::open(&file).unwrap();
    let error = reader.next().unwrap().unwrap_err();
    assert!(matches!(error, Error::Parquet { .. }), "{error}");
    assert!(error.to_string().contains("damaged.parquet"), "{error}");
}
