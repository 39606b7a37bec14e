//! Reading every file of a dataset that is either a zip archive or an extracted folder.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

use zip::ZipArchive;
use zip::result::ZipError;

use crate::error::{Error, Result};

const MAX_PREALLOCATION: u64 = 64 << 20;

/// One file of a dataset: its `/`-separated path inside the archive or folder, and its bytes.
pub(crate) struct Entry {
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

/// Returns true for hidden files and folders and for the `__MACOSX` folder of macOS archives,
/// which also covers AppleDouble `._name` files.
pub(crate) fn is_junk(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.') || part == "__MACOSX")
}

/// Returns true when `path` ends in one of `extensions`, compared case-insensitively.
pub(crate) fn has_extension(path: &str, extensions: &[&str]) -> bool {
    let Some((_, extension)) = path.rsplit_once('.') else {
        return false;
    };

    extensions
        .iter()
        .any(|accepted| extension.eq_ignore_ascii_case(accepted))
}

/// Reads the files of a zip archive or folder for which `wanted(path)` is true, skipping junk,
/// sorted by path. Folder paths are relative to `path`.
pub(crate) fn read_entries(path: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<Entry>> {
    let metadata = std::fs::metadata(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::io("read metadata of", path, source),
    })?;

    let mut entries = if metadata.is_dir() {
        let mut entries = Vec::new();
        read_folder(path, "", &wanted, &mut entries)?;
        entries
    } else {
        read_zip(path, &wanted)?
    };

    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

fn read_folder(folder: &Path, prefix: &str, wanted: &impl Fn(&str) -> bool, entries: &mut Vec<Entry>) -> Result<()> {
    let listing = std::fs::read_dir(folder).map_err(|source| Error::io("list folder", folder, source))?;

    for item in listing {
        let item = item.map_err(|source| Error::io("list folder", folder, source))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if is_junk(&name) {
            continue;
        }

        let relative = format!("{prefix}{name}");
        let path = item.path();
        let metadata = std::fs::metadata(&path).map_err(|source| Error::io("read metadata of", &path, source))?;
        if metadata.is_dir() {
            read_folder(&path, &format!("{relative}/"), wanted, entries)?;
        } else if wanted(&relative) {
            let bytes = std::fs::read(&path).map_err(|source| Error::io("read", &path, source))?;
            entries.push(Entry { path: relative, bytes });
        }
    }

    Ok(())
}

fn read_zip(path: &Path, wanted: &impl Fn(&str) -> bool) -> Result<Vec<Entry>> {
    let file = File::open(path).map_err(|source| Error::io("open", path, source))?;
    let zip_error = |entry: Option<String>, source| Error::Zip {
        path: path.to_owned(),
        entry,
        source,
    };
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(None, e))?;

    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive
            .by_index(index)
            .map_err(|e| zip_error(Some(format!("#{index}")), e))?;
        // Archives made on Windows may use backslashes.
        let name = file.name().replace('\\', "/");
        if file.is_dir() || is_junk(&name) || !wanted(&name) {
            continue;
        }

        // The declared size comes from the archive, so a corrupt header must not decide the
        // allocation alone.
        let capacity = file.size().min(MAX_PREALLOCATION);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| zip_error(Some(name.clone()), ZipError::Io(e)))?;
        entries.push(Entry { path: name, bytes });
    }

    Ok(entries)
}
