//! Errors of the developer tasks.

use std::path::PathBuf;
use std::process::ExitStatus;

/// A failed developer task.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("failed to {action} {}", path.display())]
    Io {
        /// The attempted action: "read", "list" or "create".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A JSON file written by criterion or by the PyTorch script does not have the expected form.
    #[error("invalid results file {}: {reason}", path.display())]
    InvalidResults {
        /// The file.
        path: PathBuf,
        /// The problem found in the file.
        reason: String,
    },

    /// A command-line value is out of range or the machine cannot run the task.
    #[error("{0}")]
    InvalidArgument(String),

    /// A command could not be started.
    #[error("failed to start `{command}`")]
    Spawn {
        /// The command line.
        command: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A command exited with an error.
    #[error("`{command}` failed ({status})")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
    },

    /// The benchmarks ran but wrote no results, usually because the filter matched nothing.
    #[error("no benchmark results were written to {}{}", dir.display(), filter_hint(.filter))]
    NoResults {
        /// The criterion output directory that was searched.
        dir: PathBuf,
        /// The `--filter` value, if any.
        filter: Option<String>,
    },
}

fn filter_hint(filter: &Option<String>) -> String {
    match filter {
        Some(filter) => format!("; check that --filter `{filter}` matches a benchmark id such as `kernel/squared_l2`"),
        None => String::new(),
    }
}

/// The result of a developer task.
pub type Result<T> = std::result::Result<T, Error>;
