//! Downloading the Omniglot archives with SHA-256 verification.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{OmniglotArchive, locate};
use crate::atomic::{RemoveOnDrop, create_temporary};
use crate::error::{Error, Result};

const CHUNK_SIZE: usize = 64 * 1024;

/// Returns the path of an archive, downloading it only when no usable copy exists.
///
/// Looks in this order: `data_dir/<file_name>` or the extracted `data_dir/<folder_name>`,
/// then `cache_dir/<file_name>` if its digest matches [`OmniglotArchive::sha256`] (a cached
/// file is trusted when no digest is recorded), then downloads from `base_url` into
/// `cache_dir`. Files in `data_dir` are the user's own and are not hashed.
///
/// # Errors
///
/// The errors of [`download_archive`], and [`Error::Io`] when the cached file cannot be read.
pub fn locate_or_download(
    archive: OmniglotArchive,
    data_dir: Option<&Path>,
    cache_dir: &Path,
    base_url: &str,
) -> Result<PathBuf> {
    if let Some(found) = data_dir.and_then(|data_dir| locate(archive, data_dir).ok()) {
        return Ok(found);
    }

    let cached = cache_dir.join(archive.file_name());
    if cached.is_file() {
        let Some(expected) = archive.sha256() else {
            return Ok(cached);
        };
        let actual = sha256_file(&cached)?;
        if actual == expected {
            return Ok(cached);
        }
        tracing::warn!(
            path = %cached.display(),
            expected,
            actual,
            "cached Omniglot archive has the wrong checksum, downloading it again"
        );
    }

    download_archive(archive, base_url, cache_dir)
}

/// Downloads `<base_url>/<file_name>` to `cache_dir/<file_name>` and returns that path.
///
/// Archives with a recorded digest are verified; the others are saved with a warning that
/// logs the digest received.
///
/// # Errors
///
/// The errors of [`download_verified`].
pub fn download_archive(archive: OmniglotArchive, base_url: &str, cache_dir: &Path) -> Result<PathBuf> {
    let url = format!("{}/{}", base_url.trim_end_matches('/'), archive.file_name());
    let dest = cache_dir.join(archive.file_name());

    download(&url, archive.sha256(), &dest)
}

/// Downloads `url` to `dest` and returns `dest`, keeping the file only if its SHA-256 digest
/// equals `expected_sha256` (hex, case-insensitive).
///
/// The body streams into a temporary file next to `dest` while it is hashed, and the file is
/// renamed to `dest` only after the digest matched. On any failure neither the temporary file
/// nor `dest` is left behind (an older file at `dest` stays unchanged).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a digest that is not 64 hex digits,
/// [`Error::ChecksumMismatch`] naming the expected and actual digests,
/// [`Error::HttpStatus`] naming the URL and status, [`Error::Http`] for connection failures,
/// and [`Error::Io`] for file-system failures.
pub fn download_verified(url: &str, expected_sha256: &str, dest: &Path) -> Result<PathBuf> {
    let valid = expected_sha256.len() == 64 && expected_sha256.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "expected SHA-256 digest {expected_sha256:?} is not 64 hex digits"
        )));
    }

    download(url, Some(expected_sha256), dest)
}

/// Returns the SHA-256 hex digest of a file.
///
/// # Errors
///
/// [`Error::NotFound`] or [`Error::Io`] when the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::io("open", path, source),
    })?;

    let mut reader = BufReader::new(file);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; CHUNK_SIZE];
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|source| Error::io("read", path, source))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }

    Ok(hex(&hasher.finalize()))
}

fn download(url: &str, expected_sha256: Option<&str>, dest: &Path) -> Result<PathBuf> {
    if let Some(folder) = dest.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| Error::io("create folder", folder, source))?;
    }

    tracing::info!(url, dest = %dest.display(), "downloading");
    let http_error = |source| Error::Http {
        url: url.to_owned(),
        source,
    };
    // Statuses are checked below so that the error names the URL and the status.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(http_error)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(Error::HttpStatus {
            url: url.to_owned(),
            status,
        });
    }

    let (mut file, temporary) = create_temporary(dest)?;
    let guard = RemoveOnDrop(Some(temporary.clone()));
    let mut body = response.into_body().into_reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; CHUNK_SIZE];
    loop {
        let read = body.read(&mut buffer).map_err(|source| Error::Http {
            url: url.to_owned(),
            source: ureq::Error::Io(source),
        })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        file.write_all(&buffer[..read])
            .map_err(|source| Error::io("write", &temporary, source))?;
    }
    file.sync_all()
        .map_err(|source| Error::io("sync", &temporary, source))?;
    drop(file);

    let actual = hex(&hasher.finalize());
    match expected_sha256 {
        Some(expected) if !expected.eq_ignore_ascii_case(&actual) => {
            return Err(Error::ChecksumMismatch {
                source_name: url.to_owned(),
                expected: expected.to_ascii_lowercase(),
                actual,
            });
        }
        Some(_) => {}
        None => tracing::warn!(
            url,
            sha256 = actual,
            "no recorded checksum for this download, so it is not verified"
        ),
    }

    std::fs::rename(&temporary, dest).map_err(|source| Error::io("rename", &temporary, source))?;
    guard.disarm();
    tracing::info!(dest = %dest.display(), sha256 = actual, "download complete");

    Ok(dest.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
