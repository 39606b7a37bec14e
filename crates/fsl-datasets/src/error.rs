//! The crate error type.

use std::path::PathBuf;

use arrow::datatypes::DataType;
use arrow::error::ArrowError;

/// Errors from reading, transforming and writing annotation tables and datasets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dataset file or folder does not exist.
    #[error(
        "{} not found; check the path",
        path.display()
    )]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },

    /// A file-system operation failed.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        /// The operation, e.g. "read" or "create".
        action: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A column required by an operation is absent.
    #[error("missing column {column:?} in the annotation table (columns: {available:?})")]
    MissingColumn {
        /// The requested column.
        column: String,
        /// The columns the table has.
        available: Vec<String>,
    },

    /// A column has an Arrow type the operation cannot read.
    #[error("column {column:?} has Arrow type {data_type}, expected {expected}")]
    ColumnType {
        /// The column name.
        column: String,
        /// Its actual Arrow type.
        data_type: DataType,
        /// The accepted types.
        expected: &'static str,
    },

    /// A value that must be present is null.
    #[error("{column} is null at row {row}")]
    NullValue {
        /// The column name.
        column: String,
        /// The row index.
        row: usize,
    },

    /// A row index is past the end of the table.
    #[error("row {row} is out of range for a table of {num_rows} rows")]
    RowOutOfRange {
        /// The requested row.
        row: usize,
        /// The number of rows in the table.
        num_rows: usize,
    },

    /// A row has no usable image source.
    #[error("no image for row {row}: {reason}")]
    MissingImage {
        /// The row index.
        row: usize,
        /// The reason neither the `image` bytes nor the `path` could be used.
        reason: String,
    },

    /// An argument is invalid, for example an empty list of tables to concatenate.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Two rows have equal values in columns that must identify a row, for example the same
    /// image bytes in two combined sources.
    #[error(
        "rows {first_row} and {duplicate_row} have the same {columns:?}; remove one with \
         AnnotationTable::drop_duplicates or fix the source"
    )]
    DuplicateRow {
        /// The key columns.
        columns: Vec<String>,
        /// The first row with the key.
        first_row: usize,
        /// A later row with the same key.
        duplicate_row: usize,
    },

    /// No cache folder is configured and none can be derived from the environment.
    #[error(
        "no cache folder: neither XDG_CACHE_HOME nor HOME is set to an absolute path; \
         pass a folder to ParquetCache::new"
    )]
    NoCacheFolder,

    /// An Arrow compute kernel failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] ArrowError),

    /// Reading or writing a Parquet file failed.
    #[error("parquet error on {}: {source}", path.display())]
    Parquet {
        /// The Parquet file.
        path: PathBuf,
        /// The underlying Parquet error.
        #[source]
        source: ::parquet::errors::ParquetError,
    },

    /// Encoded image bytes could not be decoded.
    #[error(
        "failed to decode image {source_name}: {source}; replace it with a valid PNG or JPEG \
         file, or remove it"
    )]
    Decode {
        /// The file name, archive entry or table row the bytes came from.
        source_name: String,
        /// The underlying decoder error.
        #[source]
        source: image::ImageError,
    },

    /// A zip archive is corrupt, truncated or not a zip file.
    #[error(
        "failed to read zip archive {}{}: {source}; the file is damaged, truncated or not a zip \
         archive, so download or copy it again",
        path.display(),
        entry_suffix(entry)
    )]
    Zip {
        /// The archive file.
        path: PathBuf,
        /// The entry being read, if the failure concerns one entry.
        entry: Option<String>,
        /// The underlying zip error.
        #[source]
        source: zip::result::ZipError,
    },

    /// A folder or archive contains no images of the accepted kinds.
    #[error("no images found in {}: expected {expected}", path.display())]
    NoImages {
        /// The folder or archive that was scanned.
        path: PathBuf,
        /// The expected layout and file extensions.
        expected: String,
    },

    /// A file inside a dataset does not follow the dataset's naming scheme.
    #[error("invalid dataset entry {entry} in {}: {reason}", path.display())]
    InvalidEntry {
        /// The folder or archive.
        path: PathBuf,
        /// The entry path inside it.
        entry: String,
        /// The problem and the expected form.
        reason: String,
    },

    /// A one-shot run folder is incomplete or its `class_labels.txt` is invalid.
    #[error("invalid one-shot run {run}{}: {reason}", line_suffix(*line))]
    InvalidRun {
        /// The run folder name, e.g. `run01`.
        run: String,
        /// The 1-based line of `class_labels.txt`, if the failure concerns one line.
        line: Option<usize>,
        /// The problem found.
        reason: String,
    },

    /// A downloaded or cached file does not have the expected digest.
    #[error("checksum mismatch for {source_name}: expected {algorithm} {expected}, got {actual}")]
    ChecksumMismatch {
        /// The URL or file that was checked.
        source_name: String,
        /// The hash function, `sha256` or `md5`.
        algorithm: &'static str,
        /// The expected hex digest.
        expected: String,
        /// The digest of the received bytes.
        actual: String,
    },

    /// A crop box is malformed or does not fit inside its image.
    #[error("invalid crop box for {source_name}: {reason}")]
    InvalidCrop {
        /// The file name or table row of the image.
        source_name: String,
        /// The box, the image size and the expected form.
        reason: String,
    },

    /// A dataset file such as an MNIST idx file or a CIFAR-10 batch is truncated or malformed.
    #[error("invalid dataset file {}: {reason}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// The problem and the expected format.
        reason: String,
    },

    /// Building a tensor failed.
    #[cfg(feature = "vision-datasets")]
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),

    /// An HTTP server returned a status other than 200 (or 206 for a resumed download).
    #[error("download of {url} failed with HTTP status {status}")]
    HttpStatus {
        /// The requested URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },

    /// An HTTP request failed before a status was received, or while reading the body.
    #[cfg(feature = "download")]
    #[error("download of {url} failed: {source}")]
    Http {
        /// The requested URL.
        url: String,
        /// The underlying HTTP client error.
        #[source]
        source: ureq::Error,
    },
}

/// The crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn entry_suffix(entry: &Option<String>) -> String {
    match entry {
        Some(entry) => format!(" (entry {entry})"),
        None => String::new(),
    }
}

fn line_suffix(line: Option<usize>) -> String {
    match line {
        Some(line) => format!(", class_labels.txt line {line}"),
        None => String::new(),
    }
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
