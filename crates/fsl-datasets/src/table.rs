//! The annotation table: an Arrow record batch with one row per image.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, UInt64Array};
use arrow::compute::{cast, concat_batches, filter_record_batch, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

/// Name of the required class-label column.
pub const LABEL: &str = "label";
/// Name of the column with encoded image bytes.
pub const IMAGE: &str = "image";
/// Name of the column with image file paths.
pub const PATH: &str = "path";

const STRING_TYPES: &str = "Utf8, LargeUtf8, Utf8View or Dictionary(integer, Utf8/LargeUtf8/Utf8View)";
const INTEGER_TYPES: &str = "Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32 or UInt64";
const IMAGE_TYPES: &str = "Binary, LargeBinary, BinaryView or Struct{bytes, path}";

/// An Arrow record batch with one row per image.
///
/// The `label` column (any string encoding) is required. Images come from the `image` column
/// or from the `path` column, resolved against an optional root folder. The `image` column
/// contains encoded PNG or JPEG bytes as Binary, LargeBinary, BinaryView, or a Struct with
/// `bytes` and `path` fields (the layout of the Hugging Face `datasets` Image feature). Other
/// common columns are `alphabet`, `drawer` and `split`.
///
/// Transformations return a new table and keep the root. Column operations (`select`,
/// `with_column` and the derived-column methods, `with_group_split`, `with_root`, `concat` of
/// one table, and a `filter` that keeps every row) share the Arrow buffers of the columns they
/// do not change, so image bytes are never copied. Row operations (`filter`, `take`, `shuffle`,
/// `sample`, `drop_duplicates`, `concat` of several tables) build new buffers with the rows
/// they keep, as the Arrow kernels do.
///
/// `concat` keeps duplicate rows, as `pandas.concat` does. [`AnnotationTable::check_unique`]
/// finds the same image in two combined sources, and [`AnnotationTable::drop_duplicates`]
/// keeps the first.
#[derive(Debug, Clone)]
pub struct AnnotationTable {
    batch: RecordBatch,
    root: Option<PathBuf>,
}

impl AnnotationTable {
    /// Wraps a record batch after checking the types of its known columns: `label` is
    /// required and a string, `path` if present is a string, and `image` if present is binary
    /// or a Struct{bytes, path}.
    ///
    /// # Errors
    ///
    /// [`Error::MissingColumn`] without `label`, and [`Error::ColumnType`] naming the column,
    /// the Arrow type found and the types accepted when a known column has another type.
    pub fn from_record_batch(batch: RecordBatch) -> Result<Self> {
        check_schema(batch.schema_ref())?;

        Ok(AnnotationTable { batch, root: None })
    }

    /// Returns a copy whose relative `path` values resolve against `root`.
    pub fn with_root(&self, root: PathBuf) -> Self {
        AnnotationTable {
            batch: self.batch.clone(),
            root: Some(root),
        }
    }

    /// Returns the folder that relative `path` values resolve against, if any.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Returns the underlying record batch.
    pub fn record_batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Returns the number of rows (images).
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Returns the column names in schema order.
    pub fn column_names(&self) -> Vec<String> {
        self.batch
            .schema()
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect()
    }

    /// Returns the column named `column`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingColumn`] when the table has no such column.
    pub fn column(&self, column: &str) -> Result<&ArrayRef> {
        self.batch.column_by_name(column).ok_or_else(|| Error::MissingColumn {
            column: column.to_owned(),
            available: self.column_names(),
        })
    }

    /// Returns the values of a string column.
    ///
    /// Accepts Utf8, LargeUtf8, Utf8View and dictionaries of those with any integer key, which
    /// covers what pandas, pyarrow and polars write.
    ///
    /// # Errors
    ///
    /// [`Error::ColumnType`] naming the column and its Arrow type for any other type, and
    /// [`Error::NullValue`] ("label is null at row 1") for the first null.
    pub fn strings(&self, column: &str) -> Result<Vec<String>> {
        let array = self.column(column)?;
        let strings = strings_of(array, column)?;

        strings
            .iter()
            .enumerate()
            .map(|(row, value)| {
                value.map(str::to_owned).ok_or_else(|| Error::NullValue {
                    column: column.to_owned(),
                    row,
                })
            })
            .collect()
    }

    /// Returns the value of a string column at one row.
    ///
    /// # Errors
    ///
    /// The errors of [`AnnotationTable::strings`], and [`Error::RowOutOfRange`].
    pub fn string(&self, column: &str, row: usize) -> Result<String> {
        if row >= self.num_rows() {
            return Err(Error::RowOutOfRange {
                row,
                num_rows: self.num_rows(),
            });
        }

        string_at(self.column(column)?, column, row)?.ok_or_else(|| Error::NullValue {
            column: column.to_owned(),
            row,
        })
    }

    /// Returns the values of an integer column as `i64`.
    ///
    /// # Errors
    ///
    /// [`Error::ColumnType`] for non-integer columns, [`Error::NullValue`] for the first null,
    /// and [`Error::InvalidArgument`] for a `UInt64` value above `i64::MAX`.
    pub fn int64s(&self, column: &str) -> Result<Vec<i64>> {
        let array = self.column(column)?;
        if !array.data_type().is_integer() {
            return Err(Error::ColumnType {
                column: column.to_owned(),
                data_type: array.data_type().clone(),
                expected: INTEGER_TYPES,
            });
        }
        if let Some(row) = first_null(array.as_ref()) {
            return Err(Error::NullValue {
                column: column.to_owned(),
                row,
            });
        }

        let values = cast(array, &DataType::Int64).map_err(|source| {
            Error::InvalidArgument(format!("column {column:?} has values that do not fit in i64: {source}"))
        })?;
        let values = values.as_primitive::<arrow::datatypes::Int64Type>();
        if let Some(row) = first_null(values) {
            return Err(Error::InvalidArgument(format!(
                "column {column:?} has a value above i64::MAX at row {row}"
            )));
        }

        Ok(values.values().to_vec())
    }

    /// Returns the encoded image bytes of one row.
    ///
    /// Uses the `image` column when the row has bytes there. Otherwise reads the file named in
    /// the `path` column (or in the `path` field of a Struct `image` column), relative to the
    /// table root unless the path is absolute.
    ///
    /// # Errors
    ///
    /// [`Error::RowOutOfRange`], [`Error::MissingImage`] naming the row when it has neither
    /// bytes nor a usable path (a relative path with no root included), [`Error::ColumnType`]
    /// for an unsupported `image` type, and [`Error::Io`] when the file cannot be read.
    pub fn image_bytes(&self, row: usize) -> Result<Vec<u8>> {
        if row >= self.num_rows() {
            return Err(Error::RowOutOfRange {
                row,
                num_rows: self.num_rows(),
            });
        }

        let mut path = None;
        if let Some(image) = self.batch.column_by_name(IMAGE) {
            match image.data_type() {
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                    if let Some(bytes) = binary_at(image.as_ref(), row) {
                        return Ok(bytes);
                    }
                }
                DataType::Struct(_) => {
                    let image = image.as_struct();
                    if image.is_valid(row) {
                        if let Some(bytes) = image.column_by_name("bytes") {
                            check_binary("image.bytes", bytes.as_ref())?;
                            if let Some(bytes) = binary_at(bytes.as_ref(), row) {
                                return Ok(bytes);
                            }
                        }
                        if let Some(paths) = image.column_by_name("path") {
                            path = string_at(paths, "image.path", row)?;
                        }
                    }
                }
                other => {
                    return Err(Error::ColumnType {
                        column: IMAGE.to_owned(),
                        data_type: other.clone(),
                        expected: IMAGE_TYPES,
                    });
                }
            }
        }

        if path.is_none()
            && let Some(paths) = self.batch.column_by_name(PATH)
        {
            path = string_at(paths, PATH, row)?;
        }
        let Some(path) = path else {
            return Err(Error::MissingImage {
                row,
                reason: "the row has neither image bytes nor a path".to_owned(),
            });
        };

        let file = self.resolve(row, &path)?;
        std::fs::read(&file).map_err(|source| Error::io("read image", file, source))
    }

    fn resolve(&self, row: usize, path: &str) -> Result<PathBuf> {
        let path = Path::new(path);
        if path.is_absolute() {
            return Ok(path.to_owned());
        }

        match &self.root {
            Some(root) => Ok(root.join(path)),
            None => Err(Error::MissingImage {
                row,
                reason: format!(
                    "the path {} is relative and the table has no root; \
                     set one with AnnotationTable::with_root",
                    path.display()
                ),
            }),
        }
    }

    /// Concatenates tables with identical schemas, in order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty slice, for tables with different roots, and for
    /// tables whose column names or Arrow types differ.
    pub fn concat(tables: &[AnnotationTable]) -> Result<Self> {
        let Some(first) = tables.first() else {
            return Err(Error::InvalidArgument(
                "cannot concatenate an empty list of tables".to_owned(),
            ));
        };
        if let Some(other) = tables.iter().find(|table| table.root != first.root) {
            return Err(Error::InvalidArgument(format!(
                "cannot concatenate tables with different roots ({:?} and {:?}) because \
                 relative paths would resolve against the wrong folder",
                first.root, other.root
            )));
        }

        // The Arrow kernel indexes columns by position and panics on a shorter schema, so
        // names and types are compared first. Nullability may differ and is merged.
        let schema = first.batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| Field::clone(f)).collect();
        for (index, table) in tables.iter().enumerate().skip(1) {
            let other = table.batch.schema();
            let same_columns = other.fields().len() == fields.len()
                && other
                    .fields()
                    .iter()
                    .zip(&fields)
                    .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
            if !same_columns {
                return Err(Error::InvalidArgument(format!(
                    "cannot concatenate table {index} with columns {:?} to table 0 with \
                     columns {:?}: names and Arrow types must match",
                    describe(&other),
                    describe(&schema)
                )));
            }
            for (field, other) in fields.iter_mut().zip(other.fields()) {
                if other.is_nullable() {
                    field.set_nullable(true);
                }
            }
        }

        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let batches: Vec<&RecordBatch> = tables.iter().map(|table| &table.batch).collect();
        let batch = concat_batches(&schema, batches)?;

        Ok(self_like(first, batch))
    }

    /// Keeps the rows for which `predicate(row)` is true.
    ///
    /// # Errors
    ///
    /// [`Error::Arrow`] if the filter kernel fails.
    pub fn filter(&self, predicate: impl Fn(usize) -> bool) -> Result<Self> {
        let mask: BooleanArray = (0..self.num_rows()).map(|row| Some(predicate(row))).collect();
        let batch = filter_record_batch(&self.batch, &mask)?;

        Ok(self_like(self, batch))
    }

    /// Returns the given rows in the given order; a row may repeat.
    ///
    /// # Errors
    ///
    /// [`Error::RowOutOfRange`] for an index past the end.
    pub fn take(&self, rows: &[usize]) -> Result<Self> {
        if let Some(&row) = rows.iter().find(|&&row| row >= self.num_rows()) {
            return Err(Error::RowOutOfRange {
                row,
                num_rows: self.num_rows(),
            });
        }

        let indices = UInt64Array::from_iter_values(rows.iter().map(|&row| row as u64));
        let batch = take_record_batch(&self.batch, &indices)?;

        Ok(self_like(self, batch))
    }

    /// Returns only the given columns, in the given order. `label` must be among them.
    ///
    /// # Errors
    ///
    /// [`Error::MissingColumn`] for an unknown column or when `label` is not selected.
    pub fn select(&self, columns: &[&str]) -> Result<Self> {
        let schema = self.batch.schema();
        let indices = columns
            .iter()
            .map(|column| {
                schema.index_of(column).map_err(|_| Error::MissingColumn {
                    column: (*column).to_owned(),
                    available: self.column_names(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = self.batch.project(&indices)?;

        let table = AnnotationTable::from_record_batch(batch)?;
        Ok(self_like(self, table.batch))
    }

    /// Adds (or replaces) the Utf8 column `new` with the values of `columns` joined by
    /// `separator`, e.g. `class = alphabet + "/" + label`.
    ///
    /// A replaced column keeps its position. Replacing `label` is allowed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty `columns`, and the errors of
    /// [`AnnotationTable::strings`] for each source column.
    pub fn with_joined_column(&self, new: &str, columns: &[&str], separator: &str) -> Result<Self> {
        if columns.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no source columns given for the joined column {new:?}"
            )));
        }

        let parts = columns
            .iter()
            .map(|column| self.strings(column))
            .collect::<Result<Vec<_>>>()?;
        let joined: StringArray = (0..self.num_rows())
            .map(|row| {
                let values: Vec<&str> = parts.iter().map(|part| part[row].as_str()).collect();
                Some(values.join(separator))
            })
            .collect();

        self.with_column(new, Arc::new(joined))
    }

    /// Adds (or replaces) the Utf8 column `new` with `map` applied to each value of the string
    /// column `column`, e.g. a lookup from character folder to a readable class name.
    ///
    /// A replaced column keeps its position. Replacing `label` is allowed.
    ///
    /// # Errors
    ///
    /// The errors of [`AnnotationTable::strings`] for `column`.
    pub fn with_mapped_column(&self, new: &str, column: &str, mut map: impl FnMut(&str) -> String) -> Result<Self> {
        let mapped: StringArray = self.strings(column)?.iter().map(|value| Some(map(value))).collect();

        self.with_column(new, Arc::new(mapped))
    }

    /// Adds (or replaces, keeping its position) the column `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the array length differs from the row count, and the
    /// errors of [`AnnotationTable::from_record_batch`] when `label` is replaced by a
    /// non-string column.
    pub fn with_column(&self, name: &str, values: ArrayRef) -> Result<Self> {
        if values.len() != self.num_rows() {
            return Err(Error::InvalidArgument(format!(
                "column {name:?} has {} values but the table has {} rows",
                values.len(),
                self.num_rows()
            )));
        }

        let schema = self.batch.schema();
        let field = Arc::new(Field::new(name, values.data_type().clone(), true));
        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
        let mut arrays = self.batch.columns().to_vec();
        match schema.index_of(name) {
            Ok(index) => {
                fields[index] = field;
                arrays[index] = values;
            }
            Err(_) => {
                fields.push(field);
                arrays.push(values);
            }
        }

        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let batch = RecordBatch::try_new(schema, arrays)?;
        let table = AnnotationTable::from_record_batch(batch)?;
        Ok(self_like(self, table.batch))
    }

    /// Groups row indices by the values of a string column, in byte-wise sorted key order.
    ///
    /// # Errors
    ///
    /// The errors of [`AnnotationTable::strings`].
    pub fn group_indices(&self, column: &str) -> Result<BTreeMap<String, Vec<usize>>> {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (row, value) in self.strings(column)?.into_iter().enumerate() {
            groups.entry(value).or_default().push(row);
        }

        Ok(groups)
    }

    /// Counts the rows per value of a string column.
    ///
    /// # Errors
    ///
    /// The errors of [`AnnotationTable::strings`].
    pub fn value_counts(&self, column: &str) -> Result<BTreeMap<String, usize>> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for value in self.strings(column)? {
            *counts.entry(value).or_default() += 1;
        }

        Ok(counts)
    }

    /// Maps each distinct value of a string column to its index in byte-wise sorted order.
    ///
    /// # Errors
    ///
    /// The errors of [`AnnotationTable::strings`].
    pub fn class_index(&self, column: &str) -> Result<BTreeMap<String, usize>> {
        let counts = self.value_counts(column)?;

        Ok(counts
            .into_keys()
            .enumerate()
            .map(|(index, class)| (class, index))
            .collect())
    }

    /// Returns the rows in a random order; the same seed gives the same order.
    ///
    /// # Errors
    ///
    /// [`Error::Arrow`] if the take kernel fails.
    pub fn shuffle(&self, seed: u64) -> Result<Self> {
        let mut rows: Vec<usize> = (0..self.num_rows()).collect();
        rows.shuffle(&mut StdRng::seed_from_u64(seed));

        self.take(&rows)
    }

    /// Returns `n` rows drawn at random without replacement, in random order. The same seed
    /// gives the same rows.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `n` exceeds the number of rows.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Self> {
        if n > self.num_rows() {
            return Err(Error::InvalidArgument(format!(
                "cannot sample {n} rows without replacement from a table of {} rows",
                self.num_rows()
            )));
        }

        let mut rng = StdRng::seed_from_u64(seed);
        let rows = rand::seq::index::sample(&mut rng, self.num_rows(), n).into_vec();

        self.take(&rows)
    }

    /// Drops rows whose values in `columns` equal those of an earlier row, keeping the first.
    ///
    /// Columns of any Arrow type can form the key, so `&["image"]` drops repeated image bytes,
    /// for example when two combined sources contain the same file.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty `columns`, [`Error::MissingColumn`] for an
    /// unknown column.
    pub fn drop_duplicates(&self, columns: &[&str]) -> Result<Self> {
        let first_rows = self.first_rows_of_keys(columns)?;
        let keep: Vec<bool> = first_rows
            .iter()
            .enumerate()
            .map(|(row, &first)| first == row)
            .collect();

        self.filter(|row| keep[row])
    }

    /// Checks that no two rows have equal values in `columns`, for example that every image
    /// of a table combined from several sources is distinct.
    ///
    /// [`AnnotationTable::concat`] keeps duplicate rows, as `pandas.concat` does. This check
    /// finds them, and [`AnnotationTable::drop_duplicates`] removes them.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateRow`] naming the first row that repeats an earlier key and that
    /// earlier row, and the errors of [`AnnotationTable::drop_duplicates`].
    pub fn check_unique(&self, columns: &[&str]) -> Result<()> {
        let first_rows = self.first_rows_of_keys(columns)?;
        let duplicate = first_rows.iter().enumerate().find(|&(row, &first)| first != row);

        match duplicate {
            None => Ok(()),
            Some((duplicate_row, &first_row)) => Err(Error::DuplicateRow {
                columns: columns.iter().map(|&column| column.to_owned()).collect(),
                first_row,
                duplicate_row,
            }),
        }
    }

    /// Returns, for each row, the first row whose values in `columns` are equal to its own.
    fn first_rows_of_keys(&self, columns: &[&str]) -> Result<Vec<usize>> {
        if columns.is_empty() {
            return Err(Error::InvalidArgument(
                "duplicate detection needs at least one key column".to_owned(),
            ));
        }

        let arrays = columns
            .iter()
            .map(|column| self.column(column).cloned())
            .collect::<Result<Vec<_>>>()?;
        let fields = arrays
            .iter()
            .map(|array| SortField::new(array.data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let rows = converter.convert_columns(&arrays)?;

        let mut first_rows = HashMap::with_capacity(self.num_rows());
        Ok(rows
            .iter()
            .enumerate()
            .map(|(row, key)| *first_rows.entry(key).or_insert(row))
            .collect())
    }
}

/// Checks the types of the known columns, as [`AnnotationTable::from_record_batch`] documents.
pub(crate) fn check_schema(schema: &Schema) -> Result<()> {
    let Ok(label) = schema.field_with_name(LABEL) else {
        return Err(Error::MissingColumn {
            column: LABEL.to_owned(),
            available: schema.fields().iter().map(|field| field.name().clone()).collect(),
        });
    };
    let checks = [
        (Some(label), is_string_type as fn(&DataType) -> bool, STRING_TYPES),
        (schema.field_with_name(PATH).ok(), is_string_type, STRING_TYPES),
        (schema.field_with_name(IMAGE).ok(), is_image_type, IMAGE_TYPES),
    ];

    for (field, accepts, expected) in checks {
        if let Some(field) = field
            && !accepts(field.data_type())
        {
            return Err(Error::ColumnType {
                column: field.name().clone(),
                data_type: field.data_type().clone(),
                expected,
            });
        }
    }

    Ok(())
}

fn is_image_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Struct(_)
    )
}

fn self_like(table: &AnnotationTable, batch: RecordBatch) -> AnnotationTable {
    AnnotationTable {
        batch,
        root: table.root.clone(),
    }
}

fn is_string_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(key, value) => key.is_integer() && is_plain_string_type(value),
        _ => false,
    }
}

fn is_plain_string_type(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Casts any accepted string encoding to Utf8 so the rest of the code reads one array type.
fn strings_of(array: &ArrayRef, column: &str) -> Result<StringArray> {
    if !is_string_type(array.data_type()) {
        return Err(Error::ColumnType {
            column: column.to_owned(),
            data_type: array.data_type().clone(),
            expected: STRING_TYPES,
        });
    }

    let utf8 = cast(array, &DataType::Utf8)?;
    Ok(utf8.as_string::<i32>().clone())
}

fn string_at(array: &ArrayRef, column: &str, row: usize) -> Result<Option<String>> {
    let value = strings_of(&array.slice(row, 1), column)?;
    if value.is_null(0) {
        return Ok(None);
    }

    Ok(Some(value.value(0).to_owned()))
}

fn check_binary(column: &str, array: &dyn Array) -> Result<()> {
    match array.data_type() {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Ok(()),
        other => Err(Error::ColumnType {
            column: column.to_owned(),
            data_type: other.clone(),
            expected: "Binary, LargeBinary or BinaryView",
        }),
    }
}

/// Returns the bytes at `row`, or `None` for a null; the caller has checked the type.
fn binary_at(array: &dyn Array, row: usize) -> Option<Vec<u8>> {
    if array.is_null(row) {
        return None;
    }

    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Some(array.as_binary_view().value(row).to_vec()),
        _ => None,
    }
}

fn first_null(array: &dyn Array) -> Option<usize> {
    (0..array.len()).find(|&row| array.is_null(row))
}

fn describe(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|field| format!("{}: {}", field.name(), field.data_type()))
        .collect()
}
