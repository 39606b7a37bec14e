//! Helpers shared by the facade's integration tests.

use std::path::PathBuf;

/// Returns the folder with the Omniglot archives: `FSL_DATA_DIR`, or `../shared/data/omniglot`
/// beside the repository. Panics with instructions when the archives are missing, so a test
/// never passes without its data.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("FSL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/omniglot"));
    let archive = dir.join("images_background_small1.zip");
    assert!(
        archive.is_file(),
        "Omniglot archive {} not found; set FSL_DATA_DIR to the folder holding images_background_small1.zip and images_background_small2.zip",
        archive.display()
    );
    dir
}
