//! The Omniglot handwritten-character dataset (Lake et al. 2015).
//!
//! An archive contains `<set>/<Alphabet>/characterNN/<id>_<drawer>.png`, for example
//! `images_background_small1/Greek/character01/0394_01.png`: 105x105 1-bit PNGs, 20 drawers per
//! character. [`load`] reads a zip archive or an extracted folder into an [`AnnotationTable`]
//! with the columns `image` (PNG bytes), `alphabet`, `label` (the character folder, unique only
//! within its alphabet), `drawer` (Int32) and `path` (the path inside the archive).

mod archive;
#[cfg(feature = "download")]
mod download;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

pub use archive::{OMNIGLOT_BASE_URL, OmniglotArchive};
#[cfg(feature = "download")]
pub use download::{
    Checksum, DownloadOptions, download_archive, download_file, download_verified, locate_or_download, md5_file,
    sha256_file,
};

use crate::error::{Error, Result};
use crate::source::{has_extension, read_entries};
use crate::table::{AnnotationTable, IMAGE, LABEL, PATH};

/// Name of the alphabet column.
pub const ALPHABET: &str = "alphabet";
/// Name of the drawer column.
pub const DRAWER: &str = "drawer";

const LAYOUT: &str = "PNG files laid out as <set>/<alphabet>/<character>/<id>_<drawer>.png";

/// Loads an Omniglot zip archive or extracted folder, rows sorted by path.
///
/// A folder may be the set folder that contains the alphabet folders, or its parent. Paths are
/// the same in both cases and equal to those inside the zip, e.g.
/// `images_background_small1/Greek/character01/0394_01.png`. Hidden files and macOS metadata
/// (`__MACOSX`, `._*`, `.DS_Store`) are skipped. The table has no root because the image bytes
/// are in it.
///
/// # Errors
///
/// [`Error::NotFound`] for a missing path, [`Error::Zip`] for a corrupt or truncated archive,
/// [`Error::NoImages`] when nothing matches the layout, and [`Error::InvalidEntry`] for a PNG
/// outside the layout or without a drawer number in its name.
pub fn load(path: &Path) -> Result<AnnotationTable> {
    let entries = read_entries(path, |entry| has_extension(entry, &["png"]))?;
    if entries.is_empty() {
        return Err(Error::NoImages {
            path: path.to_owned(),
            expected: LAYOUT.to_owned(),
        });
    }

    // An extracted set folder lacks the set component that zip paths start with.
    let set_prefix = if path.is_dir() && entries.iter().all(|e| e.path.split('/').count() == 3) {
        path.file_name()
            .map(|name| format!("{}/", name.to_string_lossy()))
            .unwrap_or_default()
    } else {
        String::new()
    };

    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let parts: Vec<&str> = entry.path.split('/').collect();
        let [.., alphabet, character, file] = parts[..] else {
            return Err(Error::InvalidEntry {
                path: path.to_owned(),
                entry: entry.path.clone(),
                reason: format!("expected {LAYOUT}"),
            });
        };
        let drawer = parse_drawer(file).ok_or_else(|| Error::InvalidEntry {
            path: path.to_owned(),
            entry: entry.path.clone(),
            reason: "the file name does not end in _<drawer number>.png".to_owned(),
        })?;

        rows.push(Row {
            alphabet: alphabet.to_owned(),
            character: character.to_owned(),
            drawer,
            path: format!("{set_prefix}{}", entry.path),
            bytes: entry.bytes,
        });
    }

    let table = build_table(rows)?;
    log_counts(&table, &path.display().to_string(), "loaded Omniglot")?;
    Ok(table)
}

/// Loads several archives or folders into one table, in the given order, keeping the first of
/// the images that share alphabet, character and file name.
///
/// The two small background archives both contain the `Greek` and `Latin` alphabets, so
/// loading both gives 8 alphabets, not 10.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an empty list, and the errors of [`load`].
pub fn load_many(paths: &[&Path]) -> Result<AnnotationTable> {
    if paths.is_empty() {
        return Err(Error::InvalidArgument(
            "no Omniglot archives or folders given".to_owned(),
        ));
    }

    let tables = paths.iter().map(|path| load(path)).collect::<Result<Vec<_>>>()?;
    let table = AnnotationTable::concat(&tables)?;

    let alphabets = table.strings(ALPHABET)?;
    let characters = table.strings(LABEL)?;
    let paths_inside = table.strings(PATH)?;
    let mut seen = HashSet::with_capacity(table.num_rows());
    let keep: Vec<bool> = (0..table.num_rows())
        .map(|row| {
            let file = paths_inside[row].rsplit('/').next().unwrap_or_default();
            seen.insert((&alphabets[row], &characters[row], file))
        })
        .collect();
    let unique = table.filter(|row| keep[row])?;

    tracing::info!(
        duplicates = table.num_rows() - unique.num_rows(),
        "dropped images present in more than one Omniglot archive"
    );
    let sources: Vec<String> = paths.iter().map(|path| path.display().to_string()).collect();
    log_counts(&unique, &sources.join(", "), "merged Omniglot archives")?;
    Ok(unique)
}

/// Returns `data_dir/<file_name>` or, failing that, the extracted `data_dir/<folder_name>`.
///
/// # Errors
///
/// [`Error::NotFound`] naming the expected zip path when neither exists.
pub fn locate(archive: OmniglotArchive, data_dir: &Path) -> Result<PathBuf> {
    let zip = data_dir.join(archive.file_name());
    if zip.is_file() {
        return Ok(zip);
    }
    let folder = data_dir.join(archive.folder_name());
    if folder.is_dir() {
        return Ok(folder);
    }

    Err(Error::NotFound { path: zip })
}

/// Loads the standard split: the background set (30 alphabets) for training and the
/// evaluation set (20 other alphabets) for testing, each a zip or extracted folder in
/// `data_dir`.
///
/// # Errors
///
/// The errors of [`locate`] and [`load`].
pub fn load_data(data_dir: &Path) -> Result<(AnnotationTable, AnnotationTable)> {
    let background = load(&locate(OmniglotArchive::Background, data_dir)?)?;
    let evaluation = load(&locate(OmniglotArchive::Evaluation, data_dir)?)?;

    Ok((background, evaluation))
}

struct Row {
    alphabet: String,
    character: String,
    drawer: i32,
    path: String,
    bytes: Vec<u8>,
}

/// Parses the drawer number from a file name such as `0394_01.png`.
fn parse_drawer(file: &str) -> Option<i32> {
    let stem = file.rsplit_once('.')?.0;
    let (_, drawer) = stem.rsplit_once('_')?;

    drawer.parse().ok()
}

fn build_table(mut rows: Vec<Row>) -> Result<AnnotationTable> {
    rows.sort_by(|a, b| a.path.cmp(&b.path));

    let schema = Arc::new(Schema::new(vec![
        Field::new(IMAGE, DataType::Binary, false),
        Field::new(ALPHABET, DataType::Utf8, false),
        Field::new(LABEL, DataType::Utf8, false),
        Field::new(DRAWER, DataType::Int32, false),
        Field::new(PATH, DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(rows.iter().map(|row| &row.bytes))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|row| &row.alphabet))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|row| &row.character))),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|row| row.drawer))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|row| &row.path))),
    ];

    AnnotationTable::from_record_batch(RecordBatch::try_new(schema, columns)?)
}

fn log_counts(table: &AnnotationTable, source: &str, message: &'static str) -> Result<()> {
    let alphabets = table.strings(ALPHABET)?;
    let characters = table.strings(LABEL)?;
    let distinct_alphabets: HashSet<&String> = alphabets.iter().collect();
    let distinct_characters: HashSet<(&String, &String)> = alphabets.iter().zip(&characters).collect();

    tracing::info!(
        source,
        alphabets = distinct_alphabets.len(),
        characters = distinct_characters.len(),
        images = table.num_rows(),
        "{message}"
    );
    Ok(())
}
