//! Opening any labelled image collection as an annotation table: an Omniglot archive or folder,
//! a Parquet table, or a `root/<class>/<image>` image folder.

use std::path::Path;

use fsl_datasets::{AnnotationTable, image_folder, omniglot};

use crate::{Error, Result};

/// The kind of source [`open_table`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// An Omniglot zip archive or extracted set folder.
    Omniglot,
    /// A Parquet file with a `label` column and an `image` or `path` column.
    Parquet,
    /// A `root/<class>/<image>` or `root/<split>/<class>/<image>` folder.
    ImageFolder,
}

impl SourceFormat {
    /// Guesses the format from the path: `.zip` is Omniglot, `.parquet` is Parquet, and a
    /// folder is Omniglot when its images follow Omniglot's layout and an image folder
    /// otherwise.
    pub fn detect(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("zip") => Ok(Self::Omniglot),
            Some("parquet") | Some("pq") => Ok(Self::Parquet),
            _ if path.is_dir() => {
                // Omniglot's loader rejects any PNG outside its layout, so it fails fast on a
                // user's image folder.
                if omniglot::load(path).is_ok() {
                    Ok(Self::Omniglot)
                } else {
                    Ok(Self::ImageFolder)
                }
            }
            _ if !path.exists() => Err(Error::Datasets(fsl_datasets::Error::NotFound { path: path.to_owned() })),
            _ => Err(Error::InvalidSetting {
                name: "data",
                value: path.display().to_string(),
                reason: "expected an Omniglot .zip archive, a .parquet table or an image folder".to_owned(),
            }),
        }
    }
}

/// Opens `path` as an annotation table, in the given format or the detected one.
///
/// Image folders keep their root, so their images are read from disk when decoded; Omniglot
/// tables and Parquet tables with an `image` column hold the image bytes.
pub fn open_table(path: &Path, format: Option<SourceFormat>) -> Result<AnnotationTable> {
    let format = match format {
        Some(format) => format,
        None => SourceFormat::detect(path)?,
    };
    tracing::debug!(path = %path.display(), ?format, "opening data");

    let table = match format {
        SourceFormat::Omniglot => omniglot::load(path)?,
        SourceFormat::ImageFolder => image_folder::load(path)?,
        SourceFormat::Parquet => {
            let table = fsl_datasets::parquet::read_parquet(path)?;

            // Relative paths in a Parquet table refer to files beside it.
            match (table.root(), path.parent()) {
                (None, Some(parent)) => {
                    let folder = std::path::absolute(parent).unwrap_or_else(|_| parent.to_owned());
                    table.with_root(folder)
                }
                _ => table,
            }
        }
    };
    Ok(table)
}
