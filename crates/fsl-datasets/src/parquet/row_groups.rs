//! Reading a Parquet file one row group at a time.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use ::parquet::errors::ParquetError;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, Result};
use crate::table::{AnnotationTable, check_schema};

/// An iterator over the row groups of a Parquet file, each as an [`AnnotationTable`].
///
/// Opening reads only the footer and checks the columns, so a file with a missing or mistyped
/// column fails before any data is read. Each call to `next` then reads one row group, so the
/// memory in use is that of one row group rather than the whole file.
#[derive(Debug)]
pub struct RowGroupReader {
    path: PathBuf,
    file: File,
    metadata: ArrowReaderMetadata,
    next_row_group: usize,
}

impl RowGroupReader {
    /// Opens `path` and checks that its schema is that of an annotation table.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a missing file, [`Error::Parquet`] for a file that is not
    /// Parquet or is truncated, and the errors of [`AnnotationTable::from_record_batch`] for
    /// the columns.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| match source.kind() {
            ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
            _ => Error::io("open", path, source),
        })?;
        let metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(|source| Error::Parquet {
            path: path.to_owned(),
            source,
        })?;
        check_schema(metadata.schema())?;

        Ok(RowGroupReader {
            path: path.to_owned(),
            file,
            metadata,
            next_row_group: 0,
        })
    }

    /// Returns the Arrow schema of every table the reader yields.
    pub fn schema(&self) -> &SchemaRef {
        self.metadata.schema()
    }

    /// Returns the number of row groups in the file.
    pub fn num_row_groups(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    /// Returns the number of rows in the file, from its footer.
    pub fn num_rows(&self) -> usize {
        let rows = self.metadata.metadata().file_metadata().num_rows();
        usize::try_from(rows).unwrap_or(0)
    }

    fn read_row_group(&self, row_group: usize) -> Result<AnnotationTable> {
        let rows = self.metadata.metadata().row_group(row_group).num_rows();
        let batch_size = usize::try_from(rows).unwrap_or(0).max(1);

        // A second handle lets each row group have its own reader while the footer, already
        // parsed, is shared.
        let file = self
            .file
            .try_clone()
            .map_err(|source| Error::io("reopen", &self.path, source))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
            .with_row_groups(vec![row_group])
            .with_batch_size(batch_size)
            .build()
            .map_err(|source| self.parquet_error(source))?;
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|source| self.parquet_error(source.into()))?;

        let batch = concat_batches(self.schema(), &batches)?;
        AnnotationTable::from_record_batch(batch)
    }

    fn parquet_error(&self, source: ParquetError) -> Error {
        Error::Parquet {
            path: self.path.clone(),
            source,
        }
    }
}

impl Iterator for RowGroupReader {
    type Item = Result<AnnotationTable>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_row_group >= self.num_row_groups() {
            return None;
        }

        let row_group = self.next_row_group;
        self.next_row_group += 1;
        Some(self.read_row_group(row_group))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.num_row_groups() - self.next_row_group;
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for RowGroupReader {}
