//! The error type of `fsl-models`.

use std::path::PathBuf;

/// Errors raised while building, training, evaluating, saving or loading models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A layer, kernel or loss failed.
    #[error(transparent)]
    Layers(#[from] fsl_layers::Error),

    /// A tensor operation failed inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// A configuration value is invalid.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidConfig {
        /// The configuration field.
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// Constraint the value must satisfy.
        reason: String,
    },

    /// A file could not be read or written.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// Action that failed, such as "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A model configuration file is not valid JSON for this version.
    #[error("invalid model configuration {path}: {source}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },

    /// The training loss became NaN or infinite.
    #[error("training diverged at episode {episode}: loss is {loss}; lower the learning rate")]
    Diverged {
        /// The episode whose loss was not finite.
        episode: usize,
        /// The loss value.
        loss: f32,
    },

    /// A parameter or batch-norm running statistic became NaN or infinite during training.
    #[error(
        "training diverged at episode {episode}: parameter {name} contains NaN or infinite values; \
         check the images for NaN or infinite pixels and lower the learning rate"
    )]
    NonFiniteParameter {
        /// The episode after whose update the parameter was not finite.
        episode: usize,
        /// The parameter name, such as `encoder.block0.conv.weight`.
        name: String,
    },

    /// An episode source (sampler or loader) failed.
    #[error("episode source failed: {0}")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The training curve could not be drawn.
    #[error("failed to draw {path}: {reason}")]
    Plot {
        /// The image file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },

    /// An optimiser state does not fit the optimiser it is restored into: another optimiser
    /// kind, or parameters with other names or shapes.
    #[error("optimizer state does not fit this optimizer: {reason}")]
    OptimizerStateMismatch {
        /// The parameter that differs, when one does.
        parameter: Option<String>,
        /// Description of the difference.
        reason: String,
    },

    /// A checkpoint folder is missing, incomplete or corrupt.
    #[error("invalid checkpoint {path}: {reason}")]
    InvalidCheckpoint {
        /// The folder or file.
        path: PathBuf,
        /// Description of the problem and of the fix.
        reason: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<Error>>,
    },

    /// A training run is resumed with fewer episodes than its checkpoint has already trained.
    #[error(
        "the checkpoint {path} has already trained {trained} episodes, more than the {episodes} \
         episodes of the training configuration; set episodes to at least {trained}"
    )]
    ResumePastEnd {
        /// The checkpoint folder.
        path: PathBuf,
        /// Episodes trained before the checkpoint was written.
        trained: usize,
        /// Episodes of the training configuration given to resume.
        episodes: usize,
    },
}

/// Result alias of `fsl-models`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the action and the file.
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
