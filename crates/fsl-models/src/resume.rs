//! Resumable training: a checkpoint folder written at every history record, and a run that
//! continues from it exactly as if it had never stopped.
//!
//! A checkpoint folder contains the network ([`FewShotNetwork::save`]: `model.safetensors` and
//! `config.json`), the optimiser state ([`OptimizerState::save`]: `optimizer.safetensors` and
//! `optimizer.json`) and [`TRAINING_STATE_FILE`]: the next episode index, which is both the
//! position of the episode source and of the learning-rate schedule, and the history so far.
//! Callbacks rebuild their state from that history in [`Callback::on_train_begin`].
//!
//! Each checkpoint is written into `<dir>.partial` and swapped into place by renames, so a
//! process killed while writing leaves the last complete checkpoint in `dir`, or in
//! `<dir>.previous` when it dies between the two renames; [`TrainingCheckpoint::load`] reads
//! either.
//!
//! A resumed run repeats an uninterrupted one bit for bit when it gets the same configuration,
//! episode sources and callbacks: episodes come from the source by index, and dropout masks
//! are seeded per episode by [`Encoder::seed_episode`](crate::Encoder::seed_episode).
//!
//! # Example
//!
//! Train 4 of 8 episodes with checkpoints, then continue in a network loaded from the folder:
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use fsl_layers::EpisodeBatch;
//! use fsl_models::callbacks::HistoryCsv;
//! use fsl_models::{Conv4Config, EncoderConfig, FewShotNetwork, ModelConfig, TrainConfig};
//! use fsl_models::{resume_training, train_with_checkpoints};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let encoder = Conv4Config { in_channels: 1, hidden_channels: 4, image_size: 16, ..Default::default() };
//! let network = FewShotNetwork::new(ModelConfig { encoder: EncoderConfig::Conv4(encoder), ..Default::default() })?;
//!
//! // Episode `index` must be the same every time it is requested.
//! let mut source = |index: u64| -> candle_core::Result<EpisodeBatch> {
//!     let images = |count: usize, offset: f64| {
//!         Tensor::full(0.25f32, (count, 1, 16, 16), &Device::Cpu)?.affine(1.0, offset + index as f64 * 1e-3)
//!     };
//!     Ok(EpisodeBatch {
//!         support: Tensor::cat(&[images(1, 0.0)?, images(1, 0.5)?], 0)?,
//!         support_labels: vec![0, 1],
//!         query: Tensor::cat(&[images(1, 0.0)?, images(1, 0.5)?], 0)?,
//!         query_labels: vec![0, 1],
//!         n_way: 2,
//!     })
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let checkpoint = dir.path().join("run");
//! let config = TrainConfig { episodes: 8, validate_every: 2, validation_episodes: 1, ..Default::default() };
//! let first_half = TrainConfig { episodes: 4, ..config.clone() };
//! train_with_checkpoints(&network, &first_half, &checkpoint, &mut source, None, &mut [])?;
//!
//! let mut csv = HistoryCsv::new(dir.path().join("history.csv"));
//! let (_network, history) = resume_training(&checkpoint, &config, &mut source, None, &mut [&mut csv])?;
//! assert_eq!(history.records.last().map(|record| record.episode), Some(8));
//! assert_eq!(std::fs::read_to_string(csv.path())?, history.to_csv());
//! # Ok(())
//! # }
//! ```

mod state;

use std::path::Path;

use crate::atomic::{last_complete_dir, replace_dir};
use crate::callbacks::Callback;
use crate::history::History;
use crate::network::FewShotNetwork;
use crate::optim::{LrSchedule, Optimizer, OptimizerState};
use crate::source::EpisodeSource;
use crate::train::{Start, TrainConfig, run};
use crate::{Error, Result};

use state::TrainingState;

/// The file of a checkpoint folder with the next episode index and the history.
pub const TRAINING_STATE_FILE: &str = "training_state.json";

/// Everything needed to continue a training run, read from a checkpoint folder.
pub struct TrainingCheckpoint {
    /// The network with its weights and batch-norm statistics at the checkpoint.
    pub network: FewShotNetwork,
    /// The optimiser's buffers and step count.
    pub optimizer: OptimizerState,
    /// Index of the next episode to train: episodes trained so far, and the position of the
    /// episode source and the learning-rate schedule.
    pub next_episode: usize,
    /// Episodes of the configuration that wrote the checkpoint.
    pub episodes: usize,
    /// The history up to the checkpoint.
    pub history: History,
}

impl std::fmt::Debug for TrainingCheckpoint {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TrainingCheckpoint")
            .field("model", self.network.config())
            .field("optimizer", &self.optimizer)
            .field("next_episode", &self.next_episode)
            .field("episodes", &self.episodes)
            .field("history", &self.history)
            .finish()
    }
}

impl TrainingCheckpoint {
    /// Reads the checkpoint in `dir`, or in `<dir>.previous` when a process died while swapping
    /// a new checkpoint in.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCheckpoint`] naming the folder or file that is missing, unreadable or
    /// inconsistent, including an optimiser state whose parameters are not the model's.
    pub fn load(dir: &Path) -> Result<Self> {
        let invalid = |path: &Path, reason: String, source: Option<Error>| Error::InvalidCheckpoint {
            path: path.to_path_buf(),
            reason,
            source: source.map(Box::new),
        };
        let folder = last_complete_dir(dir).ok_or_else(|| {
            invalid(
                dir,
                "the folder does not exist: a run writes its first checkpoint at its first history record \
                 (validation or end), so check the path or train the run again"
                    .to_owned(),
                None,
            )
        })?;
        if folder != dir {
            tracing::warn!(
                dir = %dir.display(),
                previous = %folder.display(),
                "a checkpoint write was interrupted; resuming from the previous checkpoint"
            );
        }

        let state_path = folder.join(TRAINING_STATE_FILE);
        let json = std::fs::read_to_string(&state_path).map_err(|source| {
            invalid(
                &state_path,
                format!("cannot read the training state: {source}"),
                Some(Error::io("read", &state_path, source)),
            )
        })?;
        let state: TrainingState = serde_json::from_str(&json).map_err(|source| {
            invalid(
                &state_path,
                format!("the training state is not valid: {source}"),
                Some(Error::Config {
                    path: state_path.clone(),
                    source,
                }),
            )
        })?;
        if let Some(reason) = state.inconsistency() {
            return Err(invalid(&state_path, reason, None));
        }

        let network = FewShotNetwork::load(&folder)
            .map_err(|source| invalid(&folder, format!("cannot load the model: {source}"), Some(source)))?;
        let optimizer = OptimizerState::load(&folder, network.params().device())?;
        Optimizer::for_params(optimizer.config.clone(), network.params())
            .and_then(|mut fresh| fresh.restore(&optimizer))
            .map_err(|source| {
                invalid(
                    &folder,
                    format!("the optimizer state does not fit the model: {source}"),
                    Some(source),
                )
            })?;

        Ok(Self {
            network,
            optimizer,
            next_episode: state.next_episode,
            episodes: state.episodes,
            history: state.history(),
        })
    }
}

/// Trains like [`train_with_callbacks`](crate::train_with_callbacks) and writes a resumable
/// checkpoint into `checkpoint_dir` after every history record, after the callbacks have run.
///
/// A checkpoint already in `checkpoint_dir` is replaced at the first record; use
/// [`resume_training`] to continue it instead.
///
/// # Errors
///
/// The errors of training, and [`Error::Io`] when a checkpoint cannot be written.
pub fn train_with_checkpoints(
    network: &FewShotNetwork,
    config: &TrainConfig,
    checkpoint_dir: &Path,
    train: &mut dyn EpisodeSource,
    validation: Option<&mut dyn EpisodeSource>,
    callbacks: &mut [&mut dyn Callback],
) -> Result<History> {
    if last_complete_dir(checkpoint_dir).is_some() {
        tracing::warn!(
            dir = %checkpoint_dir.display(),
            "starting a new run: its first record replaces the checkpoint in this folder"
        );
    }
    run(
        network,
        config,
        Start::default(),
        Some(checkpoint_dir),
        train,
        validation,
        callbacks,
    )
}

/// Loads the checkpoint in `checkpoint_dir` into a new network and trains it on to
/// `config.episodes`, writing further checkpoints into the same folder.
///
/// Returns the network and the whole history, the checkpoint's records first. The callbacks get
/// the checkpoint's records in [`Callback::on_train_begin`]. A run that a callback stopped can
/// be resumed too: training goes on, and the callbacks decide again at the next record. With
/// `config.episodes` equal to the checkpoint's position nothing is trained.
///
/// # Errors
///
/// [`Error::InvalidCheckpoint`] for a missing or corrupt checkpoint, [`Error::ResumePastEnd`]
/// when `config.episodes` is below the episodes already trained,
/// [`Error::OptimizerStateMismatch`] when `config.optimizer` is of another kind than the
/// checkpoint's optimiser, and the errors of training.
pub fn resume_training(
    checkpoint_dir: &Path,
    config: &TrainConfig,
    train: &mut dyn EpisodeSource,
    validation: Option<&mut dyn EpisodeSource>,
    callbacks: &mut [&mut dyn Callback],
) -> Result<(FewShotNetwork, History)> {
    config.validate()?;
    let checkpoint = TrainingCheckpoint::load(checkpoint_dir)?;
    if config.episodes < checkpoint.next_episode {
        return Err(Error::ResumePastEnd {
            path: checkpoint_dir.to_path_buf(),
            trained: checkpoint.next_episode,
            episodes: config.episodes,
        });
    }
    if matches!(config.schedule, LrSchedule::Cosine { .. }) && config.episodes != checkpoint.episodes {
        tracing::warn!(
            checkpoint_episodes = checkpoint.episodes,
            episodes = config.episodes,
            "the cosine schedule spans the configured episodes, so the resumed learning rates \
             differ from those of the run that wrote the checkpoint"
        );
    }
    tracing::info!(
        dir = %checkpoint_dir.display(),
        episode = checkpoint.next_episode,
        episodes = config.episodes,
        "resuming training"
    );

    let start = Start {
        next_episode: checkpoint.next_episode,
        optimizer: Some(checkpoint.optimizer),
        history: checkpoint.history,
    };
    let history = run(
        &checkpoint.network,
        config,
        start,
        Some(checkpoint_dir),
        train,
        validation,
        callbacks,
    )?;
    Ok((checkpoint.network, history))
}

/// Writes a checkpoint of the run after its last record into `dir`, replacing the previous one
/// only once the new one is complete.
pub(crate) fn write_checkpoint(
    dir: &Path,
    network: &FewShotNetwork,
    optimizer: &Optimizer,
    episodes: usize,
    history: &History,
) -> Result<()> {
    let next_episode = history.records.last().map_or(0, |record| record.episode);
    let state = TrainingState::new(next_episode, episodes, history);
    let json = serde_json::to_string_pretty(&state).map_err(|source| Error::Io {
        action: "write",
        path: dir.join(TRAINING_STATE_FILE),
        source: source.into(),
    })?;
    let optimizer_state = optimizer.state();

    replace_dir(dir, |partial| {
        network.save(partial)?;
        optimizer_state.save(partial)?;
        let state_path = partial.join(TRAINING_STATE_FILE);
        std::fs::write(&state_path, &json).map_err(|source| Error::io("write", &state_path, source))
    })?;
    tracing::debug!(dir = %dir.display(), episode = next_episode, "wrote a training checkpoint");
    Ok(())
}
