//! Reading and writing annotation tables as Parquet files.
//!
//! Reading accepts what pandas, pyarrow and polars write: every string encoding (including
//! dictionary-encoded categoricals), Binary and LargeBinary images, nullable columns and several
//! row groups. [`read_parquet`] concatenates the row groups into one table, and
//! [`RowGroupReader`] yields them one at a time for files larger than memory. Writing goes
//! through a temporary file that is renamed into place once complete, whole
//! ([`write_parquet`]) or in parts ([`ParquetTableWriter`]).

mod row_groups;
mod writer;

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::file::properties::WriterProperties;
use arrow::array::RecordBatchReader;
use arrow::compute::concat_batches;
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::table::{AnnotationTable, LABEL};

pub use row_groups::RowGroupReader;
pub use writer::{DEFAULT_MAX_ROW_GROUP_BYTES, ParquetTableWriter, default_writer_properties};

/// Writes `table` to `path` with [`default_writer_properties`].
///
/// # Errors
///
/// See [`write_parquet_with`].
pub fn write_parquet(table: &AnnotationTable, path: &Path) -> Result<()> {
    write_parquet_with(table, path, default_writer_properties())
}

/// Writes `table` to `path` with the given writer properties (compression, row-group size).
///
/// The data goes to a temporary file in the same folder, which is renamed over `path` only
/// after it was completely written and synced, so readers never see a partial file. On failure
/// the temporary file is removed and an existing file at `path` is left unchanged. The table
/// root is not stored.
///
/// # Errors
///
/// [`Error::Io`] when the temporary file cannot be created, synced or renamed, and
/// [`Error::Parquet`] when encoding fails.
pub fn write_parquet_with(table: &AnnotationTable, path: &Path, properties: WriterProperties) -> Result<()> {
    let mut writer = ParquetTableWriter::create(path, table.record_batch().schema(), properties)?;
    writer.write(table)?;
    writer.finish()
}

/// Reads an annotation table; the file must have a string `label` column.
///
/// The columns are checked from the file footer before any row is read. All row groups are
/// concatenated, and [`RowGroupReader`] reads one row group at a time instead.
///
/// # Errors
///
/// [`Error::NotFound`] for a missing file, [`Error::Parquet`] for a file that is not Parquet
/// or is truncated, and the errors of [`AnnotationTable::from_record_batch`] for the columns:
/// [`Error::MissingColumn`] without `label`, [`Error::ColumnType`] naming the column, the
/// Arrow type found and the types accepted.
pub fn read_parquet(path: &Path) -> Result<AnnotationTable> {
    let reader = RowGroupReader::open(path)?;
    let schema = reader.schema().clone();
    let tables = reader.collect::<Result<Vec<_>>>()?;

    let batches = tables.iter().map(AnnotationTable::record_batch);
    AnnotationTable::from_record_batch(concat_batches(&schema, batches)?)
}

/// Reads an annotation table whose class labels are in `label_column`, which is renamed to
/// `label` (a column already named `label` is dropped).
///
/// # Errors
///
/// The errors of [`read_parquet`], and [`Error::MissingColumn`] when `label_column` is absent.
pub fn read_parquet_with_label(path: &Path, label_column: &str) -> Result<AnnotationTable> {
    let batch = read_record_batch(path)?;
    let schema = batch.schema();
    if schema.index_of(label_column).is_err() {
        return Err(Error::MissingColumn {
            column: label_column.to_owned(),
            available: schema.fields().iter().map(|f| f.name().clone()).collect(),
        });
    }

    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        if field.name() == label_column {
            fields.push(Arc::new(Field::clone(field).with_name(LABEL)));
        } else if field.name() == LABEL {
            continue;
        } else {
            fields.push(field.clone());
        }
        arrays.push(array.clone());
    }

    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    AnnotationTable::from_record_batch(RecordBatch::try_new(schema, arrays)?)
}

/// Reads all row groups of a Parquet file into one record batch, without checking columns.
///
/// # Errors
///
/// [`Error::NotFound`] for a missing file, [`Error::Parquet`] for an unreadable file.
pub fn read_record_batch(path: &Path) -> Result<RecordBatch> {
    let file = File::open(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::io("open", path, source),
    })?;
    let parquet_error = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };

    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet_error)?
        .build()
        .map_err(parquet_error)?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|source| Error::Parquet {
            path: path.to_owned(),
            source: source.into(),
        })?;

    Ok(concat_batches(&schema, &batches)?)
}
