//! Reading and writing annotation tables as Parquet files.
//!
//! Reading accepts what pandas, pyarrow and polars write: every string encoding (including
//! dictionary-encoded categoricals), Binary and LargeBinary images, nullable columns and several
//! row groups, which are concatenated into one table.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::file::properties::WriterProperties;
use arrow::array::RecordBatchReader;
use arrow::compute::concat_batches;
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::atomic::{RemoveOnDrop, create_temporary};
use crate::error::{Error, Result};
use crate::table::{AnnotationTable, LABEL};

/// Writes `table` to `path` with default writer properties.
///
/// # Errors
///
/// See [`write_parquet_with`].
pub fn write_parquet(table: &AnnotationTable, path: &Path) -> Result<()> {
    write_parquet_with(table, path, WriterProperties::builder().build())
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
    let (file, temporary) = create_temporary(path)?;
    let guard = RemoveOnDrop(Some(temporary.clone()));
    let parquet_error = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };

    let batch = table.record_batch();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all()
        .map_err(|source| Error::io("sync", &temporary, source))?;
    drop(file);

    std::fs::rename(&temporary, path).map_err(|source| Error::io("rename", &temporary, source))?;
    guard.disarm();

    Ok(())
}

/// Reads an annotation table; the file must have a string `label` column.
///
/// # Errors
///
/// [`Error::NotFound`] for a missing file, [`Error::Parquet`] for an unreadable file, and the
/// errors of [`AnnotationTable::from_record_batch`].
pub fn read_parquet(path: &Path) -> Result<AnnotationTable> {
    AnnotationTable::from_record_batch(read_record_batch(path)?)
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
