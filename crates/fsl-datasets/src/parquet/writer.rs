//! Streaming Parquet writer that renames its temporary file into place only when finished.

use std::fs::File;
use std::path::{Path, PathBuf};

use ::parquet::arrow::ArrowWriter;
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use arrow::datatypes::SchemaRef;

use crate::atomic::{RemoveOnDrop, create_temporary};
use crate::error::{Error, Result};
use crate::table::AnnotationTable;

/// Upper bound on the estimated encoded size of one row group, the `parquet.block.size` default
/// of parquet-java. A table whose rows average more than 128 bytes, as image tables do, reaches
/// it before the row-count limit of 1,048,576 rows, so a reader that streams by row group keeps
/// about this much in memory at a time.
pub const DEFAULT_MAX_ROW_GROUP_BYTES: usize = 128 << 20;

/// Returns the writer properties of [`write_parquet`](super::write_parquet): the parquet crate's
/// defaults, with row groups limited to [`DEFAULT_MAX_ROW_GROUP_BYTES`].
pub fn default_writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_bytes(Some(DEFAULT_MAX_ROW_GROUP_BYTES))
        .build()
}

/// Writes an annotation table to Parquet in parts, so a table larger than memory can be
/// written from a stream of smaller tables.
///
/// Rows go to a temporary file in the destination folder. [`ParquetTableWriter::finish`] syncs
/// it and renames it over the destination, so an interrupted write never leaves a truncated
/// file under the final name. Dropping the writer without finishing removes the temporary file
/// and leaves an existing destination unchanged.
pub struct ParquetTableWriter {
    path: PathBuf,
    temporary: PathBuf,
    guard: RemoveOnDrop,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
}

impl std::fmt::Debug for ParquetTableWriter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ParquetTableWriter")
            .field("path", &self.path)
            .field("temporary", &self.temporary)
            .finish_non_exhaustive()
    }
}

impl ParquetTableWriter {
    /// Creates a writer for tables with `schema`, whose file will appear at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the temporary file cannot be created, and [`Error::Parquet`] when
    /// the schema cannot be stored in Parquet.
    pub fn create(path: &Path, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        let (file, temporary) = create_temporary(path)?;
        let guard = RemoveOnDrop(Some(temporary.clone()));
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|source| Error::Parquet {
            path: path.to_owned(),
            source,
        })?;

        Ok(ParquetTableWriter {
            path: path.to_owned(),
            temporary,
            guard,
            writer,
            schema,
        })
    }

    /// Appends the rows of `table`. Row groups are cut by the writer properties, not by call.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the column names or Arrow types of `table` differ from
    /// the writer's schema, and [`Error::Parquet`] when encoding fails.
    pub fn write(&mut self, table: &AnnotationTable) -> Result<()> {
        let expected = &self.schema;
        let batch = table.record_batch();
        let actual = batch.schema();
        let same_columns = actual.fields().len() == expected.fields().len()
            && actual
                .fields()
                .iter()
                .zip(expected.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same_columns {
            return Err(Error::InvalidArgument(format!(
                "cannot append a table with columns {} to {} with columns {}",
                describe(&actual),
                self.path.display(),
                describe(expected)
            )));
        }

        self.writer.write(batch).map_err(|source| self.parquet_error(source))
    }

    /// Returns the number of rows written so far, including rows not yet in a row group.
    pub fn num_rows(&self) -> usize {
        let flushed: i64 = self
            .writer
            .flushed_row_groups()
            .iter()
            .map(|group| group.num_rows())
            .sum();
        usize::try_from(flushed).unwrap_or(usize::MAX) + self.writer.in_progress_rows()
    }

    /// Writes the footer, syncs the file and renames it to the destination path.
    ///
    /// # Errors
    ///
    /// [`Error::Parquet`] when the footer cannot be written, and [`Error::Io`] when the sync or
    /// rename fails. In both cases the temporary file is removed.
    pub fn finish(self) -> Result<()> {
        let ParquetTableWriter {
            path,
            temporary,
            guard,
            writer,
            ..
        } = self;

        let file = writer.into_inner().map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        file.sync_all()
            .map_err(|source| Error::io("sync", &temporary, source))?;
        drop(file);

        std::fs::rename(&temporary, &path).map_err(|source| Error::io("rename", &temporary, source))?;
        guard.disarm();

        Ok(())
    }

    fn parquet_error(&self, source: ParquetError) -> Error {
        Error::Parquet {
            path: self.path.clone(),
            source,
        }
    }
}

fn describe(schema: &SchemaRef) -> String {
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| format!("{}: {}", field.name(), field.data_type()))
        .collect();
    format!("[{}]", columns.join(", "))
}
