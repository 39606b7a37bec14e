//! The error type of the facade and the command line.

/// Errors of the facade's jobs: each wraps the error of the crate that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or converting a dataset failed.
    #[error(transparent)]
    Datasets(#[from] fsl_datasets::Error),

    /// Sampling or loading episodes failed.
    #[error(transparent)]
    Sequences(#[from] fsl_sequences::Error),

    /// Building, training, evaluating or saving a model failed.
    #[error(transparent)]
    Models(#[from] fsl_models::Error),

    /// A tensor operation failed.
    #[error(transparent)]
    Layers(#[from] fsl_layers::Error),

    /// A tensor operation failed inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// An augmentation setting is invalid.
    #[error(transparent)]
    Augment(#[from] fsl_augment::Error),

    /// A job setting is invalid.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidSetting {
        /// The setting, as named on the command line.
        name: &'static str,
        /// The rejected value.
        value: String,
        /// Constraint the value must satisfy.
        reason: String,
    },

    /// An input file could not be read.
    #[error("failed to read {path}: {source}; check the path")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be written.
    #[error("failed to write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of the facade.
pub type Result<T> = std::result::Result<T, Error>;
