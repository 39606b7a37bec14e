//! Writes that a killed process cannot leave half done: folders are written beside their
//! destination and swapped in by renames, files are written to a temporary file and renamed over
//! the old one.
//!
//! Renames are atomic against a process being killed, but nothing here calls `fsync`, so a power
//! loss may still lose the newest write.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes a folder with `write` into `<dir>.partial`, then swaps it into place: the old folder is
/// renamed to `<dir>.previous`, the new one renamed to `dir`, and the old one removed.
///
/// A process killed at any point leaves the last complete folder in `dir`, or in
/// `<dir>.previous` when it dies between the two renames. The next call moves such a
/// `<dir>.previous` back to `dir` before it removes anything.
pub(crate) fn replace_dir(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let partial = with_suffix(dir, "partial");
    let previous = with_suffix(dir, "previous");

    if !dir.exists() && previous.exists() {
        rename(&previous, dir)?;
    }
    remove_dir(&partial)?;
    write(&partial)?;
    remove_dir(&previous)?;
    if dir.exists() {
        rename(dir, &previous)?;
    }
    rename(&partial, dir)?;
    remove_dir(&previous)
}

/// Returns the folder that contains the last complete write of [`replace_dir`] to `dir`: `dir`
/// itself, or `<dir>.previous` when a process died between the two renames of a swap; `None`
/// when neither exists.
pub(crate) fn last_complete_dir(dir: &Path) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    let previous = with_suffix(dir, "previous");
    previous.is_dir().then_some(previous)
}

/// Writes `contents` to `<path>.partial` and renames it over `path`, so readers see either the
/// old file or the new one.
pub(crate) fn replace_file(path: &Path, contents: &[u8]) -> Result<()> {
    let partial = with_suffix(path, "partial");
    std::fs::write(&partial, contents).map_err(|source| Error::io("write", &partial, source))?;
    rename(&partial, path)
}

fn remove_dir(path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path).map_err(|source| Error::io("remove", path, source))?;
    }
    Ok(())
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| Error::io("rename", from, source))
}

/// Returns `path` with `.suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}
