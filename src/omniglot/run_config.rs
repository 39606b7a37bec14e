//! A training run described by one TOML or JSON file: data, model, episodes, optimiser and
//! augmentation, so that an experiment is a file to share rather than a command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fsl_augment::{Affine, Augmenter, AugmenterConfig};
use fsl_models::optim::{LrSchedule, OptimizerConfig};
use fsl_models::{EncoderConfig, ModelConfig};
use serde::{Deserialize, Serialize};

use super::job::TrainSettings;
use crate::{Error, Result};

/// Everything `fsl train --config FILE` needs. Only `data.path` is required; every other key
/// has the default of `fsl train`. Unknown keys are errors, so a misspelt key never silently
/// falls back to a default.
///
/// ```toml
/// [data]
/// path = "omniglot.parquet"
/// split = "train"
///
/// [model]
/// seed = 0
/// encoder = { kind = "conv4", in_channels = 1, hidden_channels = 64, image_size = 28 }
///
/// [episodes]
/// n_way = 20
/// k_shot = 1
/// q_query = 5
///
/// [training]
/// episodes = 1500
/// learning_rate = 0.001
/// lr_decay_every = 750
/// validate_every = 100
///
/// [augmentation]
/// type = "horizontal_flip"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The data to train on.
    pub data: DataSection,
    /// The encoder and the seed of its weights.
    #[serde(default)]
    pub model: ModelConfig,
    /// The shape of training episodes.
    #[serde(default)]
    pub episodes: EpisodeSection,
    /// Length of training, optimiser and validation.
    #[serde(default)]
    pub training: TrainingSection,
    /// The augmentation of training images; without it, the Omniglot affine distortion of
    /// Koch et al. (2015) unless `training.augment` is false.
    #[serde(default)]
    pub augmentation: Option<AugmenterConfig>,
}

/// The source of the training images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// An Omniglot archive or folder, a Parquet table or an image folder; a relative path is
    /// relative to the configuration file.
    pub path: PathBuf,
    /// Keep only the rows whose `split` column has this value.
    #[serde(default)]
    pub split: Option<String>,
    /// Side in pixels that images are resized to. Encoders that take any size (SingleConv2D,
    /// Darknet-7, Darknet-53, ResNet-12) require it. For the others it may be left out, and
    /// when given it must equal the encoder's `image_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u32>,
}

/// Classes, support and query images per training episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EpisodeSection {
    /// Classes per episode.
    pub n_way: usize,
    /// Support images per class.
    pub k_shot: usize,
    /// Query images per class.
    pub q_query: usize,
    /// Leave out the classes with fewer images than `k_shot + q_query` instead of failing.
    pub skip_small_classes: bool,
}

impl Default for EpisodeSection {
    fn default() -> Self {
        let settings = TrainSettings::default();
        Self {
            n_way: settings.n_way,
            k_shot: settings.k_shot,
            q_query: settings.q_query,
            skip_small_classes: settings.skip_small_classes,
        }
    }
}

/// The optimisation: Adam with a step schedule, and validation on held-out classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSection {
    /// Training episodes, one optimiser step each.
    pub episodes: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Halve the learning rate every this many episodes (0: never).
    pub lr_decay_every: usize,
    /// Validate every this many episodes (0: never) on a tenth of the training classes.
    pub validate_every: usize,
    /// Apply the default Omniglot distortion when no `[augmentation]` is given.
    pub augment: bool,
    /// The optimiser, for example `{ kind = "sgd", momentum = 0.9 }` or
    /// `{ kind = "adam_w", weight_decay = 0.01 }`; Adam with PyTorch's defaults unless set.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule: `{ kind = "cosine", min_learning_rate = 1e-5 }`,
    /// `{ kind = "step", every = 500, factor = 0.5 }`, or constant, which keeps the
    /// `lr_decay_every` halvings.
    pub schedule: LrSchedule,
    /// Clip the joint L2 norm of the gradients to this value before each step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_grad_norm: Option<f64>,
    /// Stop after this many validations without a better validation accuracy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping_patience: Option<usize>,
}

impl Default for TrainingSection {
    fn default() -> Self {
        let settings = TrainSettings::default();
        Self {
            episodes: settings.episodes,
            learning_rate: settings.learning_rate,
            lr_decay_every: settings.lr_decay_every,
            validate_every: settings.validate_every,
            augment: settings.augment,
            optimizer: settings.optimizer,
            schedule: settings.schedule,
            max_grad_norm: settings.max_grad_norm,
            early_stopping_patience: None,
        }
    }
}

impl RunConfig {
    /// Reads a `.toml` or `.json` file and resolves `data.path` against the file's folder.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the file cannot be read, and [`Error::InvalidSetting`] for an
    /// extension other than `.toml` and `.json`. [`Error::Config`] names the file, the key path
    /// (such as `model.encoder.kind`) and, in TOML, the line when the file does not parse: a
    /// missing `data.path`, an unknown key or encoder kind, or a value of the wrong type.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let parse_error = |message: String| Error::Config {
            path: path.to_owned(),
            message,
        };

        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        let mut config: RunConfig = match extension.as_deref() {
            Some("toml") => {
                let document =
                    toml::Deserializer::parse(&text).map_err(|error| parse_error(one_line(&error, &text)))?;
                serde_path_to_error::deserialize(document)
                    .map_err(|error| parse_error(with_key(error.path(), one_line(error.inner(), &text))))?
            }
            Some("json") => {
                let mut document = serde_json::Deserializer::from_str(&text);
                serde_path_to_error::deserialize(&mut document)
                    .map_err(|error| parse_error(with_key(error.path(), error.inner().to_string())))?
            }
            _ => {
                return Err(Error::InvalidSetting {
                    name: "config",
                    value: path.display().to_string(),
                    reason: "give a .toml or .json file".to_owned(),
                });
            }
        };

        // The copy saved in the run folder must still find the data, so the path is made
        // absolute here.
        let data = path.parent().unwrap_or(Path::new("")).join(&config.data.path);
        config.data.path = std::path::absolute(&data).map_err(|source| Error::Read { path: data, source })?;
        Ok(config)
    }

    /// Returns the configuration as TOML, every default written out, to save in a run folder.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|error| Error::Config {
            path: PathBuf::from("config.toml"),
            message: error.to_string(),
        })
    }

    /// Builds the augmentation of training images: the `[augmentation]` pipeline, or the
    /// Omniglot affine distortion of Koch et al. (2015) when there is none and
    /// `training.augment` is set.
    ///
    /// # Errors
    ///
    /// [`Error::Augment`] naming the invalid parameter of the pipeline.
    pub fn augmenter(&self) -> Result<Option<Arc<dyn Augmenter>>> {
        Ok(match &self.augmentation {
            Some(augmentation) => Some(Arc::from(augmentation.build()?)),
            None => self
                .training
                .augment
                .then(|| Arc::new(Affine::omniglot()) as Arc<dyn Augmenter>),
        })
    }

    /// Returns the training settings of the file.
    pub fn train_settings(&self) -> TrainSettings {
        TrainSettings {
            episodes: self.training.episodes,
            n_way: self.episodes.n_way,
            k_shot: self.episodes.k_shot,
            q_query: self.episodes.q_query,
            learning_rate: self.training.learning_rate,
            lr_decay_every: self.training.lr_decay_every,
            validate_every: self.training.validate_every,
            augment: self.training.augment,
            optimizer: self.training.optimizer.clone(),
            schedule: self.training.schedule.clone(),
            max_grad_norm: self.training.max_grad_norm,
            skip_small_classes: self.episodes.skip_small_classes,
        }
    }

    /// Returns the side of the square images fed to the encoder.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] when the encoder takes any size and `data.image_size` is
    /// missing, when both are given and differ, or when the encoder does not take
    /// single-channel images.
    pub fn image_size(&self) -> Result<u32> {
        let encoder = &self.model.encoder;
        if encoder.in_channels() != 1 {
            return Err(Error::InvalidSetting {
                name: "model.encoder.in_channels",
                value: encoder.in_channels().to_string(),
                reason: "the command line feeds grayscale images, so set in_channels = 1".to_owned(),
            });
        }

        match (encoder_image_size(encoder), self.data.image_size) {
            (Some(fixed), None) => Ok(fixed),
            (Some(fixed), Some(data)) if fixed == data => Ok(fixed),
            (Some(fixed), Some(data)) => Err(Error::InvalidSetting {
                name: "data.image_size",
                value: data.to_string(),
                reason: format!("the encoder takes {fixed}x{fixed} images; remove data.image_size or make it {fixed}"),
            }),
            (None, Some(data)) => Ok(data),
            (None, None) => Err(Error::InvalidSetting {
                name: "data.image_size",
                value: "missing".to_owned(),
                reason: "this encoder takes images of any size, so set the side they are resized to".to_owned(),
            }),
        }
    }
}

/// Returns the side of the square images `encoder` requires, or `None` when it takes any size.
pub fn encoder_image_size(encoder: &EncoderConfig) -> Option<u32> {
    encoder.image_size().map(|side| side as u32)
}

/// Formats a TOML error on one line, `line L, column C (source line): message`, because the command line
/// prints one line per error while toml's own text quotes the source over several lines.
/// Prefixes `message` with the key path that `serde_path_to_error` tracked, such as
/// `model.encoder`, unless the error arose at the top of the document.
fn with_key(path: &serde_path_to_error::Path, message: String) -> String {
    let key = path.to_string();
    if key.is_empty() || key == "." {
        message
    } else {
        format!("{key}: {message}")
    }
}

fn one_line(error: &toml::de::Error, text: &str) -> String {
    let Some(span) = error.span() else {
        return error.message().to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    let source_line = text.lines().nth(line - 1).unwrap_or_default().trim();
    format!("line {line}, column {column} ({source_line}): {}", error.message())
}
