//! Downloading the Omniglot archives: checksum verification, resumable `.part` files and a
//! progress bar.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::{OmniglotArchive, locate};
use crate::error::{Error, Result};

const CHUNK_SIZE: usize = 64 * 1024;

/// A published digest of a file, as lowercase or uppercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Checksum {
    /// A SHA-256 digest, 64 hex digits.
    Sha256(String),
    /// An MD5 digest, 32 hex digits. MD5 detects corrupt and truncated downloads but not
    /// deliberate tampering, so use it only where no stronger digest is published.
    Md5(String),
}

impl Checksum {
    /// Returns the hash function name, `sha256` or `md5`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Sha256(_) => "sha256",
            Checksum::Md5(_) => "md5",
        }
    }

    /// Returns the expected hex digest.
    pub fn expected(&self) -> &str {
        match self {
            Checksum::Sha256(digest) | Checksum::Md5(digest) => digest,
        }
    }

    fn validate(&self) -> Result<()> {
        let digits = match self {
            Checksum::Sha256(_) => 64,
            Checksum::Md5(_) => 32,
        };
        let expected = self.expected();
        if expected.len() != digits || !expected.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(Error::InvalidArgument(format!(
                "expected {} digest {expected:?} is not {digits} hex digits",
                self.algorithm()
            )));
        }
        Ok(())
    }

    fn hasher(&self) -> Hasher {
        match self {
            Checksum::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Checksum::Md5(_) => Hasher::Md5(Md5::new()),
        }
    }
}

/// Settings of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Draw a progress bar on standard error. The bar is hidden anyway when standard error is
    /// not a terminal, so logs and CI output stay clean.
    pub progress: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions { progress: true }
    }
}

impl DownloadOptions {
    /// Creates the default options: a progress bar when standard error is a terminal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether a progress bar is drawn.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

/// Returns the path of an archive, downloading it only when no usable copy exists.
///
/// Looks in this order: `data_dir/<file_name>` or the extracted `data_dir/<folder_name>`,
/// then `cache_dir/<file_name>` if its digest matches [`OmniglotArchive::checksum`], then
/// downloads from `base_url` into `cache_dir`. Files in `data_dir` are the user's own and are
/// not hashed.
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
        let checksum = archive.checksum();
        let actual = file_digest(&cached, &checksum)?;
        if actual.eq_ignore_ascii_case(checksum.expected()) {
            return Ok(cached);
        }
        tracing::warn!(
            path = %cached.display(),
            algorithm = checksum.algorithm(),
            expected = checksum.expected(),
            actual,
            "cached Omniglot archive has the wrong checksum, downloading it again"
        );
    }

    download_archive(archive, base_url, cache_dir, &DownloadOptions::default())
}

/// Downloads `<base_url>/<file_name>` to `cache_dir/<file_name>`, verified with
/// [`OmniglotArchive::checksum`], and returns that path.
///
/// # Errors
///
/// The errors of [`download_file`].
pub fn download_archive(
    archive: OmniglotArchive,
    base_url: &str,
    cache_dir: &Path,
    options: &DownloadOptions,
) -> Result<PathBuf> {
    let url = format!("{}/{}", base_url.trim_end_matches('/'), archive.file_name());
    let dest = cache_dir.join(archive.file_name());

    download_file(&url, Some(&archive.checksum()), &dest, options)
}

/// Downloads `url` to `dest` and returns `dest`, keeping the file only if its SHA-256 digest
/// equals `expected_sha256` (hex, case-insensitive).
///
/// # Errors
///
/// The errors of [`download_file`].
pub fn download_verified(url: &str, expected_sha256: &str, dest: &Path) -> Result<PathBuf> {
    let checksum = Checksum::Sha256(expected_sha256.to_owned());

    download_file(url, Some(&checksum), dest, &DownloadOptions::default())
}

/// Downloads `url` to `dest` through the partial file `<dest>.part` and returns `dest`.
///
/// An existing `.part` file, left by an interrupted download, is continued with an HTTP
/// `Range: bytes=<length>-` request. A server that returns 200 instead of 206 ignores ranges,
/// so the partial file is truncated and the download starts over. After the whole body has
/// arrived the file is checked against `checksum` and renamed to `dest`. Without a checksum
/// the file is kept with a warning that logs its SHA-256 digest.
///
/// When the connection fails the `.part` file stays for the next call to continue. When the
/// checksum does not match, the `.part` file is removed and `dest` is not written, so an older
/// file at `dest` stays unchanged.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a digest with the wrong number of hex digits,
/// [`Error::ChecksumMismatch`] naming the expected and actual digests,
/// [`Error::HttpStatus`] naming the URL and status, [`Error::Http`] for connection failures,
/// and [`Error::Io`] for file-system failures.
pub fn download_file(
    url: &str,
    checksum: Option<&Checksum>,
    dest: &Path,
    options: &DownloadOptions,
) -> Result<PathBuf> {
    if let Some(checksum) = checksum {
        checksum.validate()?;
    }
    if let Some(folder) = dest.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| Error::io("create folder", folder, source))?;
    }
    let part = part_path(dest)?;

    tracing::info!(url, dest = %dest.display(), "downloading");
    let hasher = receive(url, checksum, &part, options)?;
    let actual = hasher.finalize_hex();

    match checksum {
        Some(checksum) if !checksum.expected().eq_ignore_ascii_case(&actual) => {
            remove_part(&part);
            return Err(Error::ChecksumMismatch {
                source_name: url.to_owned(),
                algorithm: checksum.algorithm(),
                expected: checksum.expected().to_ascii_lowercase(),
                actual,
            });
        }
        Some(_) => {}
        None => tracing::warn!(
            url,
            sha256 = actual,
            "no checksum given for this download, so it is not verified"
        ),
    }

    std::fs::rename(&part, dest).map_err(|source| Error::io("rename", &part, source))?;
    tracing::info!(dest = %dest.display(), digest = actual, "download complete");
    Ok(dest.to_owned())
}

/// Returns the SHA-256 hex digest of a file.
///
/// # Errors
///
/// [`Error::NotFound`] or [`Error::Io`] when the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Hasher::Sha256(Sha256::new());
    hash_file(path, &mut hasher)?;
    Ok(hasher.finalize_hex())
}

/// Returns the MD5 hex digest of a file.
///
/// # Errors
///
/// [`Error::NotFound`] or [`Error::Io`] when the file cannot be read.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut hasher = Hasher::Md5(Md5::new());
    hash_file(path, &mut hasher)?;
    Ok(hasher.finalize_hex())
}

/// Returns the digest of a file with the hash function of `checksum`.
fn file_digest(path: &Path, checksum: &Checksum) -> Result<String> {
    let mut hasher = checksum.hasher();
    hash_file(path, &mut hasher)?;
    Ok(hasher.finalize_hex())
}

/// A running digest of one of the supported hash functions.
enum Hasher {
    Sha256(Sha256),
    Md5(Md5),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(hasher) => hasher.update(bytes),
            Hasher::Md5(hasher) => hasher.update(bytes),
        }
    }

    fn finalize_hex(self) -> String {
        match self {
            Hasher::Sha256(hasher) => hex(&hasher.finalize()),
            Hasher::Md5(hasher) => hex(&hasher.finalize()),
        }
    }
}

fn hash_file(path: &Path, hasher: &mut Hasher) -> Result<()> {
    let file = File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::io("open", path, source),
    })?;

    let mut reader = BufReader::new(file);
    let mut buffer = vec![0; CHUNK_SIZE];
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|source| Error::io("read", path, source))?;
        if read == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..read]);
    }
}

/// Returns `<dest>.part`.
///
/// NOTE: two processes that download the same file at once share this partial file and can
/// interleave their writes. A checksum then rejects the result, but without one it is kept.
fn part_path(dest: &Path) -> Result<PathBuf> {
    let Some(name) = dest.file_name() else {
        return Err(Error::InvalidArgument(format!(
            "{} does not name a file",
            dest.display()
        )));
    };
    let mut part = name.to_owned();
    part.push(".part");
    Ok(dest.with_file_name(part))
}

fn remove_part(part: &Path) {
    if let Err(error) = std::fs::remove_file(part)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %part.display(), %error, "failed to remove partial download");
    }
}

/// Completes `part` from `url`, continuing an existing partial file when the server accepts a
/// range request, and returns the digest state over the whole file.
fn receive(url: &str, checksum: Option<&Checksum>, part: &Path, options: &DownloadOptions) -> Result<Hasher> {
    let new_hasher = || checksum.map_or(Hasher::Sha256(Sha256::new()), Checksum::hasher);
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

    let mut offset = match std::fs::metadata(part) {
        Ok(metadata) if metadata.is_file() => metadata.len(),
        _ => 0,
    };
    let mut request = agent.get(url);
    if offset > 0 {
        tracing::info!(path = %part.display(), bytes = offset, "resuming partial download");
        request = request.header("Range", format!("bytes={offset}-"));
    }
    let mut response = request.call().map_err(http_error)?;
    let mut status = response.status().as_u16();

    // 416 means the range starts at or past the end, so the partial file is stale or complete
    // but unverified; a fresh download settles it.
    if offset > 0 && (status == 416 || (status == 206 && content_range_start(&response) != Some(offset))) {
        tracing::warn!(
            url,
            status,
            "server rejected the resume request, downloading from the start"
        );
        offset = 0;
        response = agent.get(url).call().map_err(http_error)?;
        status = response.status().as_u16();
    }

    let resumed = match status {
        206 if offset > 0 => true,
        200 => {
            if offset > 0 {
                tracing::info!(url, "server ignored the range request, downloading from the start");
            }
            false
        }
        _ => {
            return Err(Error::HttpStatus {
                url: url.to_owned(),
                status,
            });
        }
    };

    let mut hasher = new_hasher();
    let mut file = if resumed {
        hash_file(part, &mut hasher)?;
        OpenOptions::new().append(true).open(part)
    } else {
        offset = 0;
        File::create(part)
    }
    .map_err(|source| Error::io("open", part, source))?;

    let remaining = response.body().content_length();
    let progress = progress_bar(options, remaining.map(|length| offset + length), offset);
    let mut body = response.into_body().into_reader();
    let mut buffer = vec![0; CHUNK_SIZE];
    loop {
        let read = body.read(&mut buffer).map_err(|source| {
            tracing::warn!(url, path = %part.display(), "download interrupted, keeping the partial file to resume");
            Error::Http {
                url: url.to_owned(),
                source: ureq::Error::Io(source),
            }
        })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        file.write_all(&buffer[..read])
            .map_err(|source| Error::io("write", part, source))?;
        progress.inc(read as u64);
    }
    file.sync_all().map_err(|source| Error::io("sync", part, source))?;
    progress.finish_and_clear();

    Ok(hasher)
}

/// Returns the first byte position of a `Content-Range: bytes <start>-<end>/<total>` header.
fn content_range_start(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let value = response.headers().get("content-range")?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    let (start, _) = range.split_once('-')?;

    start.trim().parse().ok()
}

fn progress_bar(options: &DownloadOptions, total: Option<u64>, position: u64) -> ProgressBar {
    if !options.progress || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }

    let progress = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    // The template is a constant, so parsing fails only on a programming error. The default
    // style is then an acceptable fallback.
    if let Ok(style) = ProgressStyle::with_template("{bytes}/{total_bytes} [{bar:40}] {bytes_per_sec}, {eta} left") {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_position(position);
    progress
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
