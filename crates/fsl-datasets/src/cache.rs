//! Conversion of a dataset source to Parquet once, reused while the source is unchanged.
//!
//! A [`ParquetCache`] stores each converted table as `<name>-<key>.parquet` in its folder. The
//! key is a SHA-256 digest of [`CACHE_FORMAT_VERSION`], the canonical paths of the sources and
//! the relative path, size and modification time of every file under them. Any change to a
//! source file gives a new key, so the table is built again and the entries of the same name
//! with other keys are removed.
//!
//! ```
//! use fsl_datasets::cache::{CacheStatus, ParquetCache};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = tempfile::tempdir()?;
//! std::fs::create_dir_all(data.path().join("cat"))?;
//! std::fs::write(data.path().join("cat/0.png"), b"not decoded here")?;
//! let cache = ParquetCache::new(tempfile::tempdir()?.keep());
//!
//! let build = || fsl_datasets::image_folder::load(data.path());
//! let first = cache.get_or_build("pets", &[data.path()], build)?;
//! let second = cache.get_or_build("pets", &[data.path()], build)?;
//!
//! assert_eq!(first.status, CacheStatus::Built);
//! assert_eq!(second.status, CacheStatus::Reused);
//! assert_eq!(second.table.image_bytes(0)?, b"not decoded here");
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::parquet::{read_parquet, write_parquet};
use crate::table::AnnotationTable;

/// Version of the cache layout and key, part of every key. Raise it when the Parquet contents
/// written for the same source change, so old entries are rebuilt instead of reused.
pub const CACHE_FORMAT_VERSION: u32 = 1;

/// Schema metadata key that stores the table root in a cached file, because relative `path`
/// values are useless without it.
const ROOT_METADATA_KEY: &str = "fsl.cache.root";

/// Hex digits of the digest kept in file names. Their 64 bits make an accidental clash between
/// two states of one source negligible.
const KEY_HEX_DIGITS: usize = 16;

/// Origin of the table that [`ParquetCache::get_or_build`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// The cached file matched the sources and was read.
    Reused,
    /// The table was built from the sources and written to the cache.
    Built,
}

/// A table returned by [`ParquetCache::get_or_build`].
#[derive(Debug, Clone)]
pub struct CachedTable {
    /// The annotation table. A reused table has the canonical form of the root it had when it
    /// was built.
    pub table: AnnotationTable,
    /// The cache file that contains it.
    pub file: PathBuf,
    /// Whether the file was reused or written now.
    pub status: CacheStatus,
}

/// A folder of annotation tables converted to Parquet, keyed on the state of their sources.
#[derive(Debug, Clone)]
pub struct ParquetCache {
    folder: PathBuf,
}

impl ParquetCache {
    /// Creates a cache in `folder`, which is created on the first write.
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        ParquetCache { folder: folder.into() }
    }

    /// Creates a cache in `$XDG_CACHE_HOME/fsl`, or `$HOME/.cache/fsl` when `XDG_CACHE_HOME` is
    /// unset, empty or relative (the XDG Base Directory rules).
    ///
    /// # Errors
    ///
    /// [`Error::NoCacheFolder`] when neither variable gives an absolute path.
    pub fn from_env() -> Result<Self> {
        let folder =
            default_folder(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")).ok_or(Error::NoCacheFolder)?;

        Ok(ParquetCache::new(folder))
    }

    /// Returns the cache folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Returns the file that caches the table `name` built from `sources` in their current
    /// state. The file need not exist.
    ///
    /// # Errors
    ///
    /// The errors of [`source_key`], and [`Error::InvalidArgument`] for a name that is empty,
    /// starts with a dot or has characters other than ASCII letters, digits, `-`, `_` and `.`.
    pub fn file_for(&self, name: &str, sources: &[&Path]) -> Result<PathBuf> {
        check_name(name)?;
        let key = source_key(sources)?;

        Ok(self.folder.join(format!("{name}-{}.parquet", &key[..KEY_HEX_DIGITS])))
    }

    /// Returns the cached table `name` for `sources`, or builds it with `build`, writes it
    /// atomically and removes the entries of `name` for earlier states of the sources.
    ///
    /// A cached file that cannot be read, for example one truncated by a full disk, is logged
    /// and rebuilt.
    ///
    /// # Errors
    ///
    /// The errors of [`ParquetCache::file_for`] and of `build`, [`Error::Io`] when the cache
    /// folder cannot be created, and the errors of [`write_parquet`].
    pub fn get_or_build(
        &self,
        name: &str,
        sources: &[&Path],
        build: impl FnOnce() -> Result<AnnotationTable>,
    ) -> Result<CachedTable> {
        let file = self.file_for(name, sources)?;

        if file.is_file() {
            match read_cached(&file) {
                Ok(table) => {
                    tracing::debug!(file = %file.display(), "reusing cached table");
                    return Ok(CachedTable {
                        table,
                        file,
                        status: CacheStatus::Reused,
                    });
                }
                Err(error) => {
                    tracing::warn!(file = %file.display(), %error, "cached table is unreadable; rebuilding it");
                }
            }
        }

        let table = build()?;
        std::fs::create_dir_all(&self.folder)
            .map_err(|source| Error::io("create cache folder", &self.folder, source))?;
        write_parquet(&with_root_metadata(&table)?, &file)?;
        tracing::info!(file = %file.display(), rows = table.num_rows(), "cached table");
        self.remove_stale(name, &file);

        Ok(CachedTable {
            table,
            file,
            status: CacheStatus::Built,
        })
    }

    /// Removes the entries of `name` other than `current`, logging failures because a stale
    /// entry only costs disk space.
    fn remove_stale(&self, name: &str, current: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.folder) else {
            return;
        };

        for entry in entries.flatten() {
            let path = entry.path();
            if path == current || !is_entry_of(name, &entry.file_name()) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::debug!(file = %path.display(), "removed stale cached table"),
                Err(error) => tracing::warn!(file = %path.display(), %error, "failed to remove stale cached table"),
            }
        }
    }
}

/// Returns the hex SHA-256 key of the current state of `sources`: [`CACHE_FORMAT_VERSION`],
/// the canonical path of each source in the given order, and the relative path, size and
/// modification time of every file under it, in byte-wise sorted order.
///
/// Symbolic links to files count as the files they point to. Folders reached through a
/// symbolic link contribute only their own modification time, which keeps link cycles finite.
///
/// NOTE: a rewrite that keeps a file's size and lands within the file system's timestamp
/// resolution (1 ns on ext4, 2 s on FAT) of the previous write keeps the key.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an empty `sources`, [`Error::NotFound`] for a missing source,
/// and [`Error::Io`] when a folder or file's metadata cannot be read.
pub fn source_key(sources: &[&Path]) -> Result<String> {
    if sources.is_empty() {
        return Err(Error::InvalidArgument(
            "a cached table needs at least one source path to key on".to_owned(),
        ));
    }

    let mut hasher = Sha256::new();
    hasher.update(format!("fsl parquet cache {CACHE_FORMAT_VERSION}\n"));
    for source in sources {
        let canonical = std::fs::canonicalize(source).map_err(|error| match error.kind() {
            ErrorKind::NotFound => Error::NotFound {
                path: source.to_path_buf(),
            },
            _ => Error::io("resolve", *source, error),
        })?;
        hasher.update(format!("source {}\n", canonical.display()));
        hash_tree(&mut hasher, &canonical, "")?;
    }

    Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

fn hash_tree(hasher: &mut Sha256, path: &Path, relative: &str) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::io("read metadata of", path, source))?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |duration| duration.as_nanos());
    let is_linked_folder = metadata.is_dir() && !relative.is_empty() && path.is_symlink();

    if metadata.is_dir() && !is_linked_folder {
        hasher.update(format!("folder {relative:?}\n"));
        let mut names: Vec<OsString> = std::fs::read_dir(path)
            .map_err(|source| Error::io("read folder", path, source))?
            .map(|entry| entry.map(|entry| entry.file_name()))
            .collect::<std::io::Result<_>>()
            .map_err(|source| Error::io("read folder", path, source))?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));

        for name in names {
            let child = format!("{relative}/{}", name.to_string_lossy());
            hash_tree(hasher, &path.join(&name), &child)?;
        }
    } else {
        hasher.update(format!("entry {relative:?} {} {modified}\n", metadata.len()));
    }

    Ok(())
}

/// Returns `$XDG_CACHE_HOME/fsl` if that variable is an absolute path, else `$HOME/.cache/fsl`
/// if `HOME` is one.
fn default_folder(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |value: Option<OsString>| value.map(PathBuf::from).filter(|path| path.is_absolute());

    if let Some(cache_home) = absolute(xdg_cache_home) {
        return Some(cache_home.join("fsl"));
    }

    absolute(home).map(|home| home.join(".cache").join("fsl"))
}

fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "invalid cache name {name:?}: use ASCII letters, digits, '-', '_' and '.', not starting with '.'"
        )));
    }

    Ok(())
}

/// Returns true for `<name>-<KEY_HEX_DIGITS hex digits>.parquet`.
fn is_entry_of(name: &str, file_name: &std::ffi::OsStr) -> bool {
    let Some(file_name) = file_name.to_str() else {
        return false;
    };
    let Some(key) = file_name
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_suffix(".parquet"))
    else {
        return false;
    };

    key.len() == KEY_HEX_DIGITS && key.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn with_root_metadata(table: &AnnotationTable) -> Result<AnnotationTable> {
    let Some(root) = table.root() else {
        return Ok(table.clone());
    };

    // The key names the sources by canonical path, so an entry can be reused from another
    // working folder, where a relative root would resolve elsewhere.
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let Some(root) = root.to_str() else {
        return Err(Error::InvalidArgument(format!(
            "cannot cache a table whose root {} is not valid UTF-8",
            root.display()
        )));
    };

    let batch = table.record_batch();
    let mut metadata = batch.schema().metadata().clone();
    metadata.insert(ROOT_METADATA_KEY.to_owned(), root.to_owned());
    let schema = Schema::new_with_metadata(batch.schema().fields().clone(), metadata);

    AnnotationTable::from_record_batch(batch.clone().with_schema(Arc::new(schema))?)
}

fn read_cached(file: &Path) -> Result<AnnotationTable> {
    let table = read_parquet(file)?;
    let batch = table.record_batch();
    let mut metadata = batch.schema().metadata().clone();
    let Some(root) = metadata.remove(ROOT_METADATA_KEY) else {
        return Ok(table);
    };

    // `RecordBatch::with_schema` rejects a schema with less metadata, so the batch is rebuilt
    // from its columns, which shares their buffers.
    let schema = Schema::new_with_metadata(batch.schema().fields().clone(), metadata);
    let batch = RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec())?;
    let table = AnnotationTable::from_record_batch(batch)?;
    Ok(table.with_root(PathBuf::from(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_folder_prefers_absolute_xdg_cache_home() {
        let folder = default_folder(Some("/xdg".into()), Some("/home/user".into()));

        assert_eq!(folder, Some(PathBuf::from("/xdg/fsl")));
    }

    #[test]
    fn default_folder_ignores_relative_xdg_cache_home() {
        let folder = default_folder(Some("relative".into()), Some("/home/user".into()));

        assert_eq!(folder, Some(PathBuf::from("/home/user/.cache/fsl")));
    }

    #[test]
    fn default_folder_falls_back_to_home() {
        let folder = default_folder(None, Some("/home/user".into()));

        assert_eq!(folder, Some(PathBuf::from("/home/user/.cache/fsl")));
    }

    #[test]
    fn default_folder_without_variables_is_none() {
        assert_eq!(default_folder(None, None), None);
        assert_eq!(default_folder(Some("".into()), Some("relative".into())), None);
    }

    #[test]
    fn entry_names_match_only_their_cache_name() {
        assert!(is_entry_of("omniglot", "omniglot-0123456789abcdef.parquet".as_ref()));
        assert!(!is_entry_of(
            "omniglot",
            "omniglot-small-0123456789abcdef.parquet".as_ref()
        ));
        assert!(!is_entry_of("omniglot", "omniglot-0123.parquet".as_ref()));
        assert!(!is_entry_of("omni", "omniglot-0123456789abcdef.parquet".as_ref()));
    }
}
