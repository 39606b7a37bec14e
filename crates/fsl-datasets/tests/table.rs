//! Behaviour of AnnotationTable: validation, string encodings, transformations, image sources.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BinaryArray, DictionaryArray, Int32Array, Int64Array, LargeStringArray, StringArray,
    StringViewArray,
};
use arrow::datatypes::{DataType, Field, Int8Type, Schema, UInt16Type};
use arrow::record_batch::RecordBatch;
use fsl_datasets::{AnnotationTable, Error};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn strings(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Five rows: two Greek, two Latin, one Greek again, each with a character folder name.
fn sample() -> AnnotationTable {
    AnnotationTable::from_record_batch(batch(vec![
        ("alphabet", strings(&["Greek", "Latin", "Greek", "Latin", "Greek"])),
        ("label", strings(&["c01", "c01", "c02", "c01", "c01"])),
        ("drawer", Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5]))),
    ]))
    .unwrap()
}

#[test]
fn from_record_batch_requires_label() {
    let result = AnnotationTable::from_record_batch(batch(vec![("class", strings(&["a"]))]));

    let error = result.unwrap_err();
    assert!(matches!(&error, Error::MissingColumn { column, .. } if column == "label"));
    assert!(error.to_string().contains("class"), "{error}");
}

#[test]
fn from_record_batch_rejects_integer_label() {
    let labels: ArrayRef = Arc::new(Int64Array::from(vec![3, 5]));
    let result = AnnotationTable::from_record_batch(batch(vec![("label", labels)]));

    let message = result.unwrap_err().to_string();
    assert!(message.contains("\"label\""), "{message}");
    assert!(message.contains("Int64"), "{message}");
}

#[test]
fn strings_accept_every_string_encoding() {
    let expected = ["Latin", "N_Ko", "Latin", "Japanese_(katakana)"];
    let dict_i8: DictionaryArray<Int8Type> = expected.iter().copied().collect();
    let dict_u16_large = DictionaryArray::<UInt16Type>::try_new(
        vec![0u16, 1, 0, 2].into(),
        Arc::new(LargeStringArray::from(vec!["Latin", "N_Ko", "Japanese_(katakana)"])),
    )
    .unwrap();
    let table = AnnotationTable::from_record_batch(batch(vec![
        ("label", Arc::new(StringViewArray::from(expected.to_vec()))),
        ("large", Arc::new(LargeStringArray::from(expected.to_vec()))),
        ("dict_i8", Arc::new(dict_i8)),
        ("dict_u16_large", Arc::new(dict_u16_large)),
    ]))
    .unwrap();

    for column in ["label", "large", "dict_i8", "dict_u16_large"] {
        assert_eq!(table.strings(column).unwrap(), expected, "column {column}");
    }
}

#[test]
fn strings_reject_integer_column_naming_type() {
    let error = sample().strings("drawer").unwrap_err();

    assert!(matches!(
        &error,
        Error::ColumnType { column, data_type: DataType::Int32, .. } if column == "drawer"
    ));
    assert!(error.to_string().contains("Int32"), "{error}");
}

#[test]
fn null_label_is_error_naming_row() {
    let labels: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("b")]));
    let table = AnnotationTable::from_record_batch(batch(vec![("label", labels)])).unwrap();

    let error = table.strings("label").unwrap_err();
    assert_eq!(error.to_string(), "label is null at row 1");
    assert!(table.group_indices("label").is_err());
    assert!(table.value_counts("label").is_err());
}

#[test]
fn int64s_read_integers_and_reject_nulls() {
    assert_eq!(sample().int64s("drawer").unwrap(), vec![1, 2, 3, 4, 5]);

    let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), None, Some(5)]));
    let table = AnnotationTable::from_record_batch(batch(vec![
        ("label", strings(&["a", "b", "c"])),
        ("label_nullable", values),
    ]))
    .unwrap();
    let error = table.int64s("label_nullable").unwrap_err();
    assert_eq!(error.to_string(), "label_nullable is null at row 1");
}

#[test]
fn joined_column_builds_alphabet_class() {
    let table = sample()
        .with_joined_column("class", &["alphabet", "label"], "/")
        .unwrap();

    assert_eq!(
        table.strings("class").unwrap(),
        ["Greek/c01", "Latin/c01", "Greek/c02", "Latin/c01", "Greek/c01"]
    );
    assert_eq!(table.column_names(), ["alphabet", "label", "drawer", "class"]);
}

#[test]
fn joined_column_replaces_label_in_place() {
    let table = sample()
        .with_joined_column("label", &["alphabet", "label"], "_")
        .unwrap();

    assert_eq!(table.column_names(), ["alphabet", "label", "drawer"]);
    assert_eq!(table.strings("label").unwrap()[2], "Greek_c02");
}

#[test]
fn group_indices_and_counts_are_sorted() {
    let table = sample()
        .with_joined_column("class", &["alphabet", "label"], "/")
        .unwrap();

    let groups = table.group_indices("class").unwrap();
    let expected: BTreeMap<String, Vec<usize>> = [
        ("Greek/c01".to_owned(), vec![0, 4]),
        ("Greek/c02".to_owned(), vec![2]),
        ("Latin/c01".to_owned(), vec![1, 3]),
    ]
    .into();
    assert_eq!(groups, expected);

    let counts = table.value_counts("alphabet").unwrap();
    assert_eq!(counts, [("Greek".to_owned(), 3), ("Latin".to_owned(), 2)].into());

    let index = table.class_index("class").unwrap();
    assert_eq!(index["Greek/c01"], 0);
    assert_eq!(index["Greek/c02"], 1);
    assert_eq!(index["Latin/c01"], 2);
}

#[test]
fn filter_and_take_select_rows() {
    let table = sample();

    let greek = table
        .filter(|row| table.strings("alphabet").unwrap()[row] == "Greek")
        .unwrap();
    assert_eq!(greek.int64s("drawer").unwrap(), vec![1, 3, 5]);

    let taken = table.take(&[4, 0, 0]).unwrap();
    assert_eq!(taken.int64s("drawer").unwrap(), vec![5, 1, 1]);
}

#[test]
fn take_rejects_row_out_of_range() {
    let error = sample().take(&[0, 5]).unwrap_err();

    assert!(matches!(error, Error::RowOutOfRange { row: 5, num_rows: 5 }));
}

#[test]
fn shuffle_is_seeded_permutation() {
    let rows: Vec<String> = (0..50).map(|row| format!("r{row:02}")).collect();
    let labels: Vec<&str> = rows.iter().map(String::as_str).collect();
    let table = AnnotationTable::from_record_batch(batch(vec![("label", strings(&labels))])).unwrap();

    let first = table.shuffle(7).unwrap().strings("label").unwrap();
    let again = table.shuffle(7).unwrap().strings("label").unwrap();
    let other = table.shuffle(8).unwrap().strings("label").unwrap();

    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_ne!(first, rows);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, rows);
}

#[test]
fn drop_duplicates_keeps_first_occurrence() {
    let unique = sample().drop_duplicates(&["alphabet", "label"]).unwrap();

    assert_eq!(unique.int64s("drawer").unwrap(), vec![1, 2, 3]);
}

#[test]
fn drop_duplicates_accepts_integer_key() {
    let table = AnnotationTable::from_record_batch(batch(vec![
        ("label", strings(&["a", "b", "c", "d"])),
        ("drawer", Arc::new(Int32Array::from(vec![7, 8, 7, 9]))),
    ]))
    .unwrap();

    let unique = table.drop_duplicates(&["drawer"]).unwrap();
    assert_eq!(unique.strings("label").unwrap(), ["a", "b", "d"]);
}

#[test]
fn concat_appends_in_order() {
    let table = sample();
    let both = AnnotationTable::concat(&[table.take(&[0, 1]).unwrap(), table.take(&[4]).unwrap()]).unwrap();

    assert_eq!(both.int64s("drawer").unwrap(), vec![1, 2, 5]);
}

#[test]
fn concat_rejects_empty_and_mismatched_tables() {
    assert!(matches!(AnnotationTable::concat(&[]), Err(Error::InvalidArgument(_))));

    let other = AnnotationTable::from_record_batch(batch(vec![("label", strings(&["x"]))])).unwrap();
    let error = AnnotationTable::concat(&[sample(), other]).unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert!(error.to_string().contains("drawer: Int32"), "{error}");
}

#[test]
fn image_bytes_prefer_binary_column() {
    let images: ArrayRef = Arc::new(BinaryArray::from(vec![Some(b"first".as_slice()), None]));
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("second.png"), b"second").unwrap();
    let table = AnnotationTable::from_record_batch(batch(vec![
        ("label", strings(&["a", "b"])),
        ("image", images),
        ("path", strings(&["first.png", "second.png"])),
    ]))
    .unwrap();

    let error = table.image_bytes(1).unwrap_err();
    assert!(matches!(error, Error::MissingImage { row: 1, .. }), "{error}");
    assert!(error.to_string().contains("with_root"), "{error}");

    let table = table.with_root(folder.path().to_owned());
    assert_eq!(table.image_bytes(0).unwrap(), b"first");
    assert_eq!(table.image_bytes(1).unwrap(), b"second");
    assert!(matches!(table.image_bytes(2), Err(Error::RowOutOfRange { row: 2, .. })));
}

#[test]
fn image_bytes_report_missing_file() {
    let folder = tempfile::tempdir().unwrap();
    let table = AnnotationTable::from_record_batch(batch(vec![
        ("label", strings(&["a"])),
        ("path", strings(&["absent.png"])),
    ]))
    .unwrap()
    .with_root(folder.path().to_owned());

    let message = table.image_bytes(0).unwrap_err().to_string();
    assert!(message.contains("absent.png"), "{message}");
}

#[test]
fn image_bytes_without_source_column_name_row() {
    let error = sample().image_bytes(3).unwrap_err();

    assert!(matches!(error, Error::MissingImage { row: 3, .. }), "{error}");
}

#[test]
fn select_keeps_requested_columns() {
    let table = sample().select(&["label", "drawer"]).unwrap();

    assert_eq!(table.column_names(), ["label", "drawer"]);
    assert!(matches!(sample().select(&["drawer"]), Err(Error::MissingColumn { .. })));
}

/// Builds a table of `groups` groups with 3 rows each; group `g` is named `gNNNN`.
fn grouped(groups: usize) -> AnnotationTable {
    let names: Vec<String> = (0..groups * 3).map(|row| format!("g{:04}", row / 3)).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    AnnotationTable::from_record_batch(batch(vec![("label", strings(&names)), ("alphabet", strings(&names))])).unwrap()
}

#[test]
fn group_split_keeps_groups_together() {
    let table = grouped(1000)
        .with_group_split("alphabet", &["train", "val", "test"], &[0.7, 0.2, 0.1], 5, "split")
        .unwrap();

    let splits = table.strings("split").unwrap();
    for group in splits.chunks(3) {
        assert!(group.iter().all(|split| *split == group[0]), "{group:?}");
    }

    // Per-group counts are binomial(1000, p); 5 standard deviations: 72.5, 63.2 and 47.4.
    let counts = table.value_counts("split").unwrap();
    let groups_in = |split: &str| counts.get(split).copied().unwrap_or(0) / 3;
    assert!(groups_in("train").abs_diff(700) <= 72, "{counts:?}");
    assert!(groups_in("val").abs_diff(200) <= 63, "{counts:?}");
    assert!(groups_in("test").abs_diff(100) <= 47, "{counts:?}");
}

#[test]
fn group_split_is_seeded() {
    let table = grouped(50);
    let split = |seed| {
        table
            .with_group_split("alphabet", &["train", "test"], &[0.5, 0.5], seed, "split")
            .unwrap()
            .strings("split")
            .unwrap()
    };

    assert_eq!(split(1), split(1));
    assert_ne!(split(1), split(2));
}

#[test]
fn group_split_rejects_bad_probabilities() {
    let table = grouped(2);
    let cases: [(&[&str], &[f64]); 4] = [
        (&[], &[]),
        (&["train", "test"], &[1.0]),
        (&["train", "test"], &[0.5, 0.6]),
        (&["train", "test"], &[1.5, -0.5]),
    ];

    for (choices, probabilities) in cases {
        let result = table.with_group_split("alphabet", choices, probabilities, 0, "split");
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{choices:?} {probabilities:?}"
        );
    }
}

#[test]
fn sample_is_seeded_subset_without_repeats() {
    let rows: Vec<String> = (0..50).map(|row| format!("r{row:02}")).collect();
    let labels: Vec<&str> = rows.iter().map(String::as_str).collect();
    let table = AnnotationTable::from_record_batch(batch(vec![("label", strings(&labels))])).unwrap();

    let first = table.sample(10, 3).unwrap().strings("label").unwrap();
    let again = table.sample(10, 3).unwrap().strings("label").unwrap();
    let other = table.sample(10, 4).unwrap().strings("label").unwrap();

    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(first.len(), 10);
    let distinct: std::collections::BTreeSet<&String> = first.iter().collect();
    assert_eq!(distinct.len(), 10);
    assert!(first.iter().all(|label| rows.contains(label)));
}

#[test]
fn sample_of_all_rows_is_permutation() {
    let table = sample();

    let mut drawers = table.sample(5, 1).unwrap().int64s("drawer").unwrap();
    drawers.sort();

    assert_eq!(drawers, [1, 2, 3, 4, 5]);
}

#[test]
fn sample_rejects_more_than_rows() {
    let error = sample().sample(6, 0).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert!(error.to_string().contains("6 rows"), "{error}");
}

#[test]
fn mapped_column_applies_function() {
    let names: BTreeMap<&str, &str> = [("c01", "alpha"), ("c02", "beta")].into();
    let table = sample()
        .with_mapped_column("name", "label", |label| names[label].to_owned())
        .unwrap();

    assert_eq!(
        table.strings("name").unwrap(),
        ["alpha", "alpha", "beta", "alpha", "alpha"]
    );
    assert_eq!(table.column_names(), ["alphabet", "label", "drawer", "name"]);
}

#[test]
fn mapped_column_rejects_integer_source() {
    let error = sample()
        .with_mapped_column("name", "drawer", str::to_owned)
        .unwrap_err();

    assert!(
        matches!(&error, Error::ColumnType { column, .. } if column == "drawer"),
        "{error}"
    );
}

/// Builds an image source: labels and their encoded bytes.
fn image_source(rows: &[(&str, &[u8])]) -> AnnotationTable {
    let labels: Vec<&str> = rows.iter().map(|(label, _)| *label).collect();
    let images: Vec<&[u8]> = rows.iter().map(|(_, bytes)| *bytes).collect();
    AnnotationTable::from_record_batch(batch(vec![
        ("label", strings(&labels)),
        ("image", Arc::new(BinaryArray::from(images))),
    ]))
    .unwrap()
}

#[test]
fn combined_sources_keep_duplicate_images() {
    let first = image_source(&[("cat", b"png-a"), ("dog", b"png-b")]);
    let second = image_source(&[("cat", b"png-c"), ("puppy", b"png-b")]);

    let combined = AnnotationTable::concat(&[first, second]).unwrap();

    assert_eq!(combined.num_rows(), 4);
    assert_eq!(combined.strings("label").unwrap(), ["cat", "dog", "cat", "puppy"]);
}

#[test]
fn check_unique_finds_duplicate_image() {
    let first = image_source(&[("cat", b"png-a"), ("dog", b"png-b")]);
    let second = image_source(&[("cat", b"png-c"), ("puppy", b"png-b")]);
    let combined = AnnotationTable::concat(&[first.clone(), second]).unwrap();

    let error = combined.check_unique(&["image"]).unwrap_err();

    let Error::DuplicateRow {
        columns,
        first_row,
        duplicate_row,
    } = &error
    else {
        panic!("expected a duplicate row error, got {error}");
    };
    assert_eq!(columns, &["image"]);
    assert_eq!((*first_row, *duplicate_row), (1, 3));
    assert!(error.to_string().contains("drop_duplicates"), "{error}");
    assert!(first.check_unique(&["image"]).is_ok());
}

#[test]
fn drop_duplicates_removes_repeated_image() {
    let first = image_source(&[("cat", b"png-a"), ("dog", b"png-b")]);
    let second = image_source(&[("cat", b"png-c"), ("puppy", b"png-b")]);
    let combined = AnnotationTable::concat(&[first, second]).unwrap();

    let unique = combined.drop_duplicates(&["image"]).unwrap();

    assert_eq!(unique.strings("label").unwrap(), ["cat", "dog", "cat"]);
    assert!(unique.check_unique(&["image"]).is_ok());
}

#[test]
fn check_unique_rejects_empty_key() {
    let error = sample().check_unique(&[]).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
}

/// Returns the address of the value bytes of a Binary `image` column.
fn image_values_address(table: &AnnotationTable) -> *const u8 {
    table.column("image").unwrap().as_binary::<i32>().values().as_ptr()
}

#[test]
fn column_operations_share_image_bytes() {
    let table = image_source(&[("cat", b"png-a"), ("dog", b"png-b"), ("cat", b"png-c")])
        .with_column("alphabet", strings(&["A", "B", "A"]))
        .unwrap();
    let original = image_values_address(&table);

    let derived = [
        ("select", table.select(&["image", "label"]).unwrap()),
        (
            "with_column",
            table
                .with_column("drawer", Arc::new(Int32Array::from(vec![1, 2, 3])))
                .unwrap(),
        ),
        (
            "with_joined_column",
            table.with_joined_column("label", &["alphabet", "label"], "/").unwrap(),
        ),
        (
            "with_mapped_column",
            table.with_mapped_column("upper", "label", str::to_uppercase).unwrap(),
        ),
        (
            "with_group_split",
            table
                .with_group_split("label", &["train", "test"], &[0.5, 0.5], 1, "split")
                .unwrap(),
        ),
        ("with_root", table.with_root("/data".into())),
        (
            "concat of one table",
            AnnotationTable::concat(std::slice::from_ref(&table)).unwrap(),
        ),
        ("filter keeping every row", table.filter(|_| true).unwrap()),
    ];

    for (operation, result) in derived {
        assert_eq!(
            image_values_address(&result),
            original,
            "{operation} copied the image bytes"
        );
    }
}

#[test]
fn take_copies_only_taken_images() {
    let table = image_source(&[("cat", b"png-a"), ("dog", b"png-b"), ("cat", b"png-c")]);

    let taken = table.take(&[2, 0]).unwrap();

    assert_eq!(taken.image_bytes(0).unwrap(), b"png-c");
    assert_eq!(taken.image_bytes(1).unwrap(), b"png-a");
    assert_eq!(taken.column("image").unwrap().as_binary::<i32>().values().len(), 10);
}

#[test]
fn from_record_batch_rejects_mistyped_known_columns() {
    let cases: [(&str, ArrayRef, DataType); 2] = [
        ("path", Arc::new(Int32Array::from(vec![1])), DataType::Int32),
        ("image", strings(&["89504e47"]), DataType::Utf8),
    ];

    for (column, values, found) in cases {
        let error =
            AnnotationTable::from_record_batch(batch(vec![("label", strings(&["a"])), (column, values)])).unwrap_err();

        let Error::ColumnType {
            column: named,
            data_type,
            ..
        } = &error
        else {
            panic!("expected a column type error for {column}, got {error}");
        };
        assert_eq!(named, column);
        assert_eq!(data_type, &found, "column {column}");
    }
}
