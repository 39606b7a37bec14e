//! The error type of the facade and the command line.

/// Errors of the facade's jobs: each wraps the error of the crate that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or converting a dataset failed.
    #[cfg(feature = "datasets")]
    #[error(transparent)]
    Datasets(#[from] fsl_datasets::Error),

    /// Sampling or loading episodes failed.
    #[cfg(feature = "sequences")]
    #[error(transparent)]
    Sequences(#[from] fsl_sequences::Error),

    /// Building, training, evaluating or saving a model failed.
    #[cfg(feature = "models")]
    #[error(transparent)]
    Models(#[from] fsl_models::Error),

    /// A tensor operation failed.
    #[cfg(feature = "layers")]
    #[error(transparent)]
    Layers(#[from] fsl_layers::Error),

    /// A tensor operation failed inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// An augmentation setting is invalid.
    #[cfg(feature = "augment")]
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

    /// A configuration file does not parse or names an unknown key or value.
    #[error("invalid configuration {path}: {message}")]
    Config {
        /// The configuration file.
        path: std::path::PathBuf,
        /// The parse error, with the key and line when known.
        message: String,
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

impl Error {
    /// Returns whether the error lies in the input (a setting, a configuration, a data file or
    /// folder) rather than in the run itself (a failed write, a diverged training, a tensor
    /// operation). The `fsl` binary exits with 2 for the first kind and 1 for the second.
    pub fn is_input_error(&self) -> bool {
        match self {
            Self::InvalidSetting { .. } | Self::Config { .. } | Self::Read { .. } => true,
            #[cfg(feature = "augment")]
            Self::Augment(_) => true,
            #[cfg(feature = "datasets")]
            Self::Datasets(error) => is_input_dataset_error(error),
            #[cfg(feature = "sequences")]
            Self::Sequences(error) => match error {
                fsl_sequences::Error::Dataset(error) => is_input_dataset_error(error),
                fsl_sequences::Error::SpawnWorker(_)
                | fsl_sequences::Error::WorkerStopped { .. }
                | fsl_sequences::Error::Tensor(_) => false,
                _ => true,
            },
            #[cfg(feature = "models")]
            Self::Models(error) => matches!(
                error,
                fsl_models::Error::InvalidConfig { .. }
                    | fsl_models::Error::Config { .. }
                    | fsl_models::Error::Io { action: "read", .. }
                    | fsl_models::Error::InvalidCheckpoint { .. }
                    | fsl_models::Error::ResumePastEnd { .. }
                    | fsl_models::Error::OptimizerStateMismatch { .. }
                    // A layer rejecting a size, such as a relation head of 0 hidden units.
                    | fsl_models::Error::Layers(fsl_layers::Error::InvalidArgument { .. })
            ),
            #[cfg(feature = "layers")]
            Self::Layers(_) => false,
            Self::Candle(_) | Self::Io { .. } => false,
        }
    }
}

/// Classifies every dataset error as an input error except the failure of an output file.
#[cfg(feature = "datasets")]
fn is_input_dataset_error(error: &fsl_datasets::Error) -> bool {
    const OUTPUT_ACTIONS: [&str; 5] = ["write", "create", "create folder", "sync", "rename"];
    !matches!(error, fsl_datasets::Error::Io { action, .. } if OUTPUT_ACTIONS.contains(action))
}

/// Result alias of the facade.
pub type Result<T> = std::result::Result<T, Error>;
