//! Annotation tables in Arrow, Parquet I/O, and loaders for Omniglot, the official one-shot
//! runs and image folders.
//!
//! An [`AnnotationTable`] is an Arrow record batch with one row per image: a string `label`
//! column, and the image as encoded bytes (`image`) or as a file path (`path`). Loaders produce
//! tables, tables are filtered, joined, grouped and shuffled, and stored as Parquet files that
//! pandas and pyarrow can read and write.
//!
//! | Module | Contents |
//! |---|---|
//! | [`table`] | [`AnnotationTable`] and its column names |
//! | [`parquet`] | atomic Parquet writing, reading of every pyarrow string and binary encoding, by row group or whole |
//! | [`cache`] | a source converted to Parquet once and reused while its files are unchanged |
//! | [`decode`] | PNG/JPEG bytes to grayscale or RGB `f32` values: crop, resize filter, parallel batches |
//! | [`omniglot`] | the Omniglot archives: loading, and (feature `download`) verified download |
//! | [`one_shot_runs`] | the official 20-way one-shot runs |
//! | [`image_folder`] | `root/<class>/<image>` folders |
//! | `vision` | (feature `vision-datasets`) MNIST and CIFAR-10 from their local files |
//!
//! Features: `download` (default) enables HTTPS download of the Omniglot archives through
//! `ureq`, with checksum verification, resumable partial files and a progress bar.
//! `vision-datasets` adds `fsl_datasets::vision`: MNIST and CIFAR-10 read from their standard
//! local files into `candle-datasets` tensors, plus the candle-datasets loaders, which bring
//! an HTTP stack.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use arrow::array::{ArrayRef, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use arrow::record_batch::RecordBatch;
//! use fsl_datasets::AnnotationTable;
//! use fsl_datasets::parquet::{read_parquet, write_parquet};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("alphabet", DataType::Utf8, false),
//!     Field::new("label", DataType::Utf8, false),
//!     Field::new("path", DataType::Utf8, false),
//! ]));
//! let columns: Vec<ArrayRef> = vec![
//!     Arc::new(StringArray::from(vec!["Greek", "Greek", "Latin"])),
//!     Arc::new(StringArray::from(vec!["character01", "character01", "character01"])),
//!     Arc::new(StringArray::from(vec!["a.png", "b.png", "c.png"])),
//! ];
//! let table = AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns)?)?;
//!
//! // Character folders repeat across alphabets, so the class joins both.
//! let table = table.with_joined_column("label", &["alphabet", "label"], "/")?;
//! let groups = table.group_indices("label")?;
//! assert_eq!(groups["Greek/character01"], vec![0, 1]);
//! assert_eq!(groups["Latin/character01"], vec![2]);
//!
//! let folder = tempfile::tempdir()?;
//! let file = folder.path().join("annotations.parquet");
//! write_parquet(&table, &file)?;
//! let read_back = read_parquet(&file)?;
//! assert_eq!(read_back.strings("label")?, table.strings("label")?);
//! # Ok(())
//! # }
//! ```

mod atomic;
pub mod cache;
pub mod decode;
mod error;
pub mod image_folder;
pub mod omniglot;
pub mod one_shot_runs;
pub mod parquet;
mod source;
mod split;
pub mod table;

pub use error::{Error, Result};
pub use table::AnnotationTable;

#[cfg(feature = "vision-datasets")]
pub mod vision;
