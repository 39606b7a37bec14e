//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Returns the folder with the real Omniglot archives: `FSL_DATA_DIR`, or the shared data folder
/// beside the repository. Panics with instructions when an archive is missing, so tests that
/// need the data never pass without it.
pub fn omniglot_archive(file_name: &str) -> PathBuf {
    let folder = match std::env::var_os("FSL_DATA_DIR") {
        Some(folder) => PathBuf::from(folder),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/omniglot"),
    };
    let archive = folder.join(file_name);
    assert!(
        archive.is_file(),
        "Omniglot archive {} not found: set FSL_DATA_DIR to the folder that contains {file_name}",
        archive.display()
    );
    archive
}

/// Returns the path of a fixture committed in tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Returns the names of the entries of a folder, sorted.
pub fn folder_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
