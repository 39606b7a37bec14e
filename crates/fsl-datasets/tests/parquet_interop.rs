//! Parquet files written by pyarrow and pandas read in fsl, and files fsl writes read the
//! same in Python. The fixtures and their expected rows come from
//! tests/reference/generate_parquet.py.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use fsl_datasets::parquet::{RowGroupReader, read_parquet, read_parquet_with_label, write_parquet};
use fsl_datasets::{AnnotationTable, Error};
use serde_json::Value;

use common::folder_names;

fn parquet_fixture(name: &str) -> PathBuf {
    common::fixture("parquet").join(name)
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(parquet_fixture(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Returns the rows pyarrow read back from a fixture, as generate_parquet.py recorded them.
fn expected(file: &str) -> Value {
    read_json("expected_rows.json")[file].clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|start| u8::from_str_radix(&text[start..start + 2], 16).unwrap())
        .collect()
}

/// Converts a column to the JSON form of generate_parquet.py: strings, hex bytes, integers and
/// nulls.
fn json_values(array: &ArrayRef) -> Vec<Value> {
    let data_type = array.data_type();
    let value_type = match data_type {
        DataType::Dictionary(_, value) => value.as_ref(),
        other => other,
    };

    match value_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = cast(array, &DataType::Utf8).unwrap();
            strings
                .as_string::<i32>()
                .iter()
                .map(|value| value.map_or(Value::Null, Value::from))
                .collect()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let bytes = cast(array, &DataType::Binary).unwrap();
            bytes
                .as_binary::<i32>()
                .iter()
                .map(|value| value.map_or(Value::Null, |value| Value::from(hex(value))))
                .collect()
        }
        integer if integer.is_integer() => {
            let integers = cast(array, &DataType::Int64).unwrap();
            integers
                .as_primitive::<Int64Type>()
                .iter()
                .map(|value| value.map_or(Value::Null, Value::from))
                .collect()
        }
        other => panic!("no JSON form for Arrow type {other}"),
    }
}

fn assert_columns_match(table: &AnnotationTable, expected: &Value) {
    let names: Vec<String> = serde_json::from_value(expected["column_names"].clone()).unwrap();
    assert_eq!(table.column_names(), names);

    for name in &names {
        let actual = json_values(table.column(name).unwrap());
        assert_eq!(Value::from(actual), expected["columns"][name], "column {name}");
    }
}

#[test]
fn pyarrow_file_reads_every_column() {
    let table = read_parquet(&parquet_fixture("pyarrow_types.parquet")).unwrap();

    assert_columns_match(&table, &expected("pyarrow_types.parquet"));
}

#[test]
fn pandas_file_reads_every_column() {
    let table = read_parquet(&parquet_fixture("pandas_types.parquet")).unwrap();

    assert_columns_match(&table, &expected("pandas_types.parquet"));
}

#[test]
fn pyarrow_encodings_keep_their_arrow_types() {
    let table = read_parquet(&parquet_fixture("pyarrow_types.parquet")).unwrap();
    let type_of = |name: &str| table.column(name).unwrap().data_type().clone();
    let dictionary = |key: DataType| DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8));

    assert_eq!(type_of("label"), DataType::Utf8);
    assert_eq!(type_of("label_large"), DataType::LargeUtf8);
    assert_eq!(type_of("label_dictionary"), dictionary(DataType::Int32));
    assert_eq!(type_of("image"), DataType::Binary);
    assert_eq!(type_of("image_large"), DataType::LargeBinary);

    // arrow-rs 60.1 reads both the `str` column of pandas 3 and its categorical values as
    // LargeUtf8, where pyarrow 26 reports the categorical values as string.
    let pandas = read_parquet(&parquet_fixture("pandas_types.parquet")).unwrap();
    let large_dictionary = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::LargeUtf8));
    assert_eq!(pandas.column("label").unwrap().data_type(), &large_dictionary);
    assert_eq!(pandas.column("label_string").unwrap().data_type(), &DataType::LargeUtf8);
}

#[test]
fn row_groups_of_pyarrow_file_stream() {
    let file = parquet_fixture("pyarrow_types.parquet");
    let expected = expected("pyarrow_types.parquet");

    let reader = RowGroupReader::open(&file).unwrap();
    assert_eq!(
        reader.num_row_groups() as u64,
        expected["num_row_groups"].as_u64().unwrap()
    );
    assert_eq!(reader.num_rows(), 5);

    let tables = reader.collect::<Result<Vec<_>, _>>().unwrap();
    let sizes: Vec<usize> = tables.iter().map(AnnotationTable::num_rows).collect();
    assert_eq!(sizes, [2, 2, 1]);

    let labels: Vec<String> = tables
        .iter()
        .flat_map(|table| table.strings("label").unwrap())
        .collect();
    assert_eq!(Value::from(labels), expected["columns"]["label"]);
}

#[test]
fn every_string_encoding_serves_as_label() {
    let expected = expected("pyarrow_types.parquet");
    let labels = &expected["columns"]["label"];

    for column in ["label_large", "label_dictionary"] {
        let table = read_parquet_with_label(&parquet_fixture("pyarrow_types.parquet"), column).unwrap();

        assert_eq!(
            &Value::from(table.strings("label").unwrap()),
            labels,
            "label from {column}"
        );
        let index = table.class_index("label").unwrap();
        assert_eq!(index.len(), 4, "label from {column}");
        assert_eq!(index["Japanese_(katakana)"], 0, "label from {column}");
    }

    let pandas = read_parquet(&parquet_fixture("pandas_types.parquet")).unwrap();
    assert_eq!(&Value::from(pandas.strings("label").unwrap()), labels);
}

#[test]
fn binary_encodings_give_image_bytes() {
    let table = read_parquet(&parquet_fixture("pyarrow_types.parquet")).unwrap();
    let large = table
        .with_column("image", table.column("image_large").unwrap().clone())
        .unwrap();
    let images = &expected("pyarrow_types.parquet")["columns"]["image"];

    for row in 0..table.num_rows() {
        let expected = unhex(images[row].as_str().unwrap());

        assert_eq!(table.image_bytes(row).unwrap(), expected, "binary row {row}");
        assert_eq!(large.image_bytes(row).unwrap(), expected, "large_binary row {row}");
    }
}

#[test]
fn null_image_falls_back_to_path() {
    let table = read_parquet(&parquet_fixture("pyarrow_types.parquet")).unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder.path().join("a")).unwrap();
    std::fs::write(folder.path().join("a/4.png"), b"file a/4.png").unwrap();
    let table = table
        .with_column("image", table.column("image_nullable").unwrap().clone())
        .unwrap()
        .with_root(folder.path().to_owned());

    assert_eq!(table.image_bytes(0).unwrap(), b"\x89PNG\r\n\x1a\n\x00");
    assert_eq!(table.image_bytes(3).unwrap(), b"", "an empty value is not a null");
    assert_eq!(table.image_bytes(4).unwrap(), b"file a/4.png");

    // Row 1 has a null image and a null path.
    let error = table.image_bytes(1).unwrap_err();
    assert!(matches!(error, Error::MissingImage { row: 1, .. }), "{error}");
}

#[test]
fn nullable_columns_report_first_null() {
    let table = read_parquet(&parquet_fixture("pandas_types.parquet")).unwrap();

    let error = table.int64s("drawer").unwrap_err();
    assert_eq!(error.to_string(), "drawer is null at row 1");

    let error = table.strings("path").unwrap_err();
    assert_eq!(error.to_string(), "path is null at row 1");
}

#[test]
fn missing_label_column_is_named() {
    let error = read_parquet(&parquet_fixture("missing_label.parquet")).unwrap_err();

    let Error::MissingColumn { column, available } = &error else {
        panic!("expected a missing column error, got {error}");
    };
    assert_eq!(column, "label");
    assert_eq!(available, &["class", "image"]);
    assert!(error.to_string().contains("\"label\""), "{error}");
}

#[test]
fn missing_label_fails_before_streaming() {
    let error = RowGroupReader::open(&parquet_fixture("missing_label.parquet")).unwrap_err();

    assert!(
        matches!(&error, Error::MissingColumn { column, .. } if column == "label"),
        "{error}"
    );
}

#[test]
fn integer_label_names_found_and_expected_types() {
    let error = read_parquet(&parquet_fixture("integer_label.parquet")).unwrap_err();

    let Error::ColumnType {
        column,
        data_type,
        expected,
    } = &error
    else {
        panic!("expected a column type error, got {error}");
    };
    assert_eq!(column, "label");
    assert_eq!(data_type, &DataType::Int64);
    assert!(expected.contains("LargeUtf8"), "{expected}");

    let message = error.to_string();
    assert!(message.contains("\"label\""), "{message}");
    assert!(message.contains("Int64"), "{message}");
    assert!(message.contains("Dictionary"), "{message}");
}

#[test]
fn string_image_names_found_and_expected_types() {
    let error = read_parquet(&parquet_fixture("string_image.parquet")).unwrap_err();

    let Error::ColumnType {
        column,
        data_type,
        expected,
    } = &error
    else {
        panic!("expected a column type error, got {error}");
    };
    assert_eq!(column, "image");
    assert_eq!(data_type, &DataType::Utf8);
    assert!(expected.contains("LargeBinary"), "{expected}");
}

/// Builds the table of fsl_rows.json: label, nullable image bytes, path and drawer.
fn fsl_rows_table(rows: &Value) -> AnnotationTable {
    let strings = |name: &str| -> Vec<Option<String>> {
        rows[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| value.as_str().map(str::to_owned))
            .collect()
    };
    let images: Vec<Option<Vec<u8>>> = strings("image")
        .into_iter()
        .map(|value| value.map(|text| unhex(&text)))
        .collect();
    let drawers: Vec<Option<i64>> = rows["drawer"].as_array().unwrap().iter().map(Value::as_i64).collect();

    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("image", DataType::Binary, true),
        Field::new("path", DataType::Utf8, true),
        Field::new("drawer", DataType::Int64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(strings("label"))),
        Arc::new(BinaryArray::from_iter(images)),
        Arc::new(StringArray::from(strings("path"))),
        Arc::new(Int64Array::from(drawers)),
    ];
    AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap()).unwrap()
}

/// The committed fsl_written.parquet is what `generate_parquet.py --check` reads with pyarrow
/// and pandas. This test proves the committed file still contains the rows of fsl_rows.json, and
/// that the current writer produces a file fsl reads to the same rows. Set FSL_UPDATE_FIXTURES
/// to rewrite the committed file from the current writer.
#[test]
fn fsl_written_file_matches_python_rows() {
    let rows = read_json("fsl_rows.json");
    let folder = tempfile::tempdir().unwrap();
    let written = folder.path().join("fsl_written.parquet");
    let committed = parquet_fixture("fsl_written.parquet");

    write_parquet(&fsl_rows_table(&rows), &written).unwrap();
    if std::env::var_os("FSL_UPDATE_FIXTURES").is_some() {
        std::fs::copy(&written, &committed).unwrap();
    }

    for file in [&written, &committed] {
        let table = read_parquet(file).unwrap();
        assert_eq!(table.column_names(), ["label", "image", "path", "drawer"]);
        for name in ["label", "image", "path", "drawer"] {
            let actual = Value::from(json_values(table.column(name).unwrap()));
            assert_eq!(actual, rows[name], "column {name} of {}", file.display());
        }
    }
    assert_eq!(folder_names(folder.path()), ["fsl_written.parquet"]);
}

#[test]
fn unicode_and_parenthesised_labels_round_trip() {
    let labels = [
        "Japanese_(katakana)",
        "Ελληνικά_(Greek)",
        "中文 汉字",
        "N_Ko",
        "Japanese_(katakana)",
    ];
    let alphabets = ["Japanese", "Ελληνικά", "中文", "N'Ko (ߒߞߏ)", "Japanese"];
    let schema = Arc::new(Schema::new(vec![
        Field::new("alphabet", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(alphabets.to_vec())),
        Arc::new(StringArray::from(labels.to_vec())),
    ];
    let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns).unwrap())
        .unwrap()
        .with_joined_column("class", &["alphabet", "label"], "/")
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("unicode.parquet");

    write_parquet(&table, &file).unwrap();
    let read_back = read_parquet(&file).unwrap();

    assert_eq!(read_back.strings("label").unwrap(), labels);
    assert_eq!(read_back.strings("class").unwrap()[3], "N'Ko (ߒߞߏ)/N_Ko");
    let groups = read_back.group_indices("label").unwrap();
    assert_eq!(groups["Japanese_(katakana)"], [0, 4]);
    // Byte-wise order puts ASCII before Greek before CJK.
    let order: Vec<&str> = groups.keys().map(String::as_str).collect();
    assert_eq!(order, ["Japanese_(katakana)", "N_Ko", "Ελληνικά_(Greek)", "中文 汉字"]);
}
