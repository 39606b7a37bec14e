//! Command-line plumbing shared by the Omniglot recipes: where the archives are, whether to run
//! the quick setting, and how an error ends the program.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The Omniglot archive the recipes train on (5 alphabets, 2720 images).
pub const TRAIN_ARCHIVE: &str = "images_background_small1.zip";

/// The Omniglot archive the recipes evaluate on. Its alphabets absent from [`TRAIN_ARCHIVE`] are
/// never seen in training.
pub const EVAL_ARCHIVE: &str = "images_background_small2.zip";

/// Options every recipe takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Folder containing images_background_small1.zip and images_background_small2.zip.
    #[arg(long, env = "FSL_DATA_DIR", default_value = "../shared/data/omniglot")]
    pub data_dir: PathBuf,

    /// Run the reduced setting (seconds instead of minutes), as CI does with FSL_EXAMPLE_QUICK=1.
    /// An empty value, 0, f, false, n, no or off leaves it off.
    #[arg(long, env = "FSL_EXAMPLE_QUICK", value_parser = clap::builder::FalseyValueParser::new())]
    pub quick: bool,
}

impl CommonArgs {
    /// Returns the path of `archive` in the data folder, or an error naming the path and the two
    /// ways to point to another folder.
    pub fn archive(&self, archive: &str) -> Result<PathBuf, String> {
        let path = self.data_dir.join(archive);
        if path.is_file() {
            return Ok(path);
        }
        Err(format!(
            "Omniglot archive not found: {}; pass --data-dir DIR or set FSL_DATA_DIR to the folder \
             containing {TRAIN_ARCHIVE} and {EVAL_ARCHIVE}",
            display_path(&path)
        ))
    }
}

/// Sends logs to standard error, at the level of `RUST_LOG` (info unless set).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Prints an error with its chain of causes to standard error and returns a failure exit code.
/// Success returns 0.
pub fn exit_code(result: Result<(), Box<dyn Error>>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    let mut shown = error.to_string();
    eprintln!("error: {shown}");

    // Many errors already include their cause in their message, so a cause is printed only when
    // it adds something.
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !shown.contains(&message) {
            eprintln!("  caused by: {message}");
        }
        shown = message;
        source = cause.source();
    }
    ExitCode::FAILURE
}

/// Returns `path` made absolute when possible, so that an error shows where the program looked.
pub fn display_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
