//! Temporary files that are renamed into place only when complete.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Creates a new, uniquely named temporary file next to `path`.
pub(crate) fn create_temporary(path: &Path) -> Result<(File, PathBuf)> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = path.file_name() else {
        return Err(Error::InvalidArgument(format!(
            "{} does not name a file",
            path.display()
        )));
    };

    // A clash with a leftover file of a crashed writer only costs another attempt.
    for attempt in 0..100u32 {
        let temporary = folder.join(format!(
            ".{}.{}-{attempt}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        match OpenOptions::new().write(true).create_new(true).open(&temporary) {
            Ok(file) => return Ok((file, temporary)),
            Err(source) if source.kind() == ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(Error::io("create", temporary, source)),
        }
    }

    Err(Error::InvalidArgument(format!(
        "could not create a temporary file next to {}: 100 names are taken",
        path.display()
    )))
}

/// Removes a temporary file when an error return skips the rename.
pub(crate) struct RemoveOnDrop(pub(crate) Option<PathBuf>);

impl RemoveOnDrop {
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(error) = std::fs::remove_file(&path)
            && error.kind() != ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "failed to remove temporary file");
        }
    }
}
