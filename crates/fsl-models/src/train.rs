//! Episodic training with a chosen optimiser and schedule, periodic validation and a history
//! of the run.

use std::path::Path;

use candle_core::DType;

use crate::callbacks::{Callback, Control};
use crate::evaluate::EvaluationReport;
use crate::history::{History, HistoryRecord};
use crate::network::FewShotNetwork;
use crate::optim::{LrSchedule, Optimizer, OptimizerConfig, OptimizerState, clip_grad_norm};
use crate::progress::progress_bar;
use crate::source::EpisodeSource;
use crate::{Error, Result};

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Number of training episodes (one optimiser step each).
    pub episodes: usize,
    /// Base learning rate of the optimiser.
    pub learning_rate: f64,
    /// The learning rate is multiplied by `lr_decay_factor` every `lr_decay_every` episodes
    /// (0 disables the decay). A `schedule` other than constant replaces this decay.
    pub lr_decay_every: usize,
    /// Factor of each learning-rate decay step.
    pub lr_decay_factor: f64,
    /// Validate every this many episodes (0 disables validation).
    pub validate_every: usize,
    /// Number of episodes of each validation.
    pub validation_episodes: usize,
    /// The optimiser: Adam with PyTorch's defaults unless set.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule. The constant schedule keeps the `lr_decay_every` steps.
    pub schedule: LrSchedule,
    /// Clip the joint L2 norm of all gradients to this value before each step.
    pub max_grad_norm: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            episodes: 1000,
            learning_rate: 1e-3,
            lr_decay_every: 0,
            lr_decay_factor: 0.5,
            validate_every: 0,
            validation_episodes: 100,
            optimizer: OptimizerConfig::adam(),
            schedule: LrSchedule::Constant,
            max_grad_norm: None,
        }
    }
}

impl TrainConfig {
    /// Checks every setting.
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |name, value: String, reason: &str| Error::InvalidConfig {
            name,
            value,
            reason: reason.into(),
        };
        if self.episodes == 0 {
            return Err(invalid("episodes", "0".into(), "train for at least one episode"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be a positive number",
            ));
        }
        if !(self.lr_decay_factor.is_finite() && self.lr_decay_factor > 0.0) {
            return Err(invalid(
                "lr_decay_factor",
                self.lr_decay_factor.to_string(),
                "must be a positive number",
            ));
        }
        self.optimizer.validate()?;
        if let Some(max_norm) = self.max_grad_norm.filter(|norm| !(norm.is_finite() && *norm > 0.0)) {
            return Err(invalid(
                "max_grad_norm",
                max_norm.to_string(),
                "must be a positive number",
            ));
        }
        if self.validate_every > 0 && self.validation_episodes == 0 {
            return Err(invalid(
                "validation_episodes",
                "0".into(),
                "validation needs at least one episode",
            ));
        }
        Ok(())
    }
}

/// Trains `network` on `episodes` episodes of `train`, validating on `validation` if given.
///
/// The history has one record per validation, or one at the end without validation; each holds
/// the mean training loss and accuracy since the previous record.
pub fn train(
    network: &FewShotNetwork,
    config: &TrainConfig,
    train: &mut dyn EpisodeSource,
    validation: Option<&mut dyn EpisodeSource>,
) -> Result<History> {
    train_with_callbacks(network, config, train, validation, &mut [])
}

/// Trains like [`train`] and calls every callback after each history record, in order; training
/// ends early when one returns [`Control::Stop`].
///
/// Before the first episode every callback's [`Callback::on_train_begin`] runs with an empty
/// history.
pub fn train_with_callbacks(
    network: &FewShotNetwork,
    config: &TrainConfig,
    train: &mut dyn EpisodeSource,
    validation: Option<&mut dyn EpisodeSource>,
    callbacks: &mut [&mut dyn Callback],
) -> Result<History> {
    run(network, config, Start::default(), None, train, validation, callbacks)
}

/// The point a run starts from: episode 0 with a fresh optimiser, or a checkpoint's.
#[derive(Default)]
pub(crate) struct Start {
    /// Index of the first episode to train, which is also the learning-rate schedule position.
    pub(crate) next_episode: usize,
    /// The optimiser state to restore, if any.
    pub(crate) optimizer: Option<OptimizerState>,
    /// The records written before `next_episode`.
    pub(crate) history: History,
}

/// Trains from `start` to `config.episodes`, writing a resumable checkpoint into
/// `checkpoint_dir` after every record when one is given.
pub(crate) fn run(
    network: &FewShotNetwork,
    config: &TrainConfig,
    start: Start,
    checkpoint_dir: Option<&Path>,
    train: &mut dyn EpisodeSource,
    mut validation: Option<&mut dyn EpisodeSource>,
    callbacks: &mut [&mut dyn Callback],
) -> Result<History> {
    config.validate()?;

    let trainable = network.params().trainable();
    let mut optimizer = Optimizer::for_params(config.optimizer.clone(), network.params())?;
    if let Some(state) = &start.optimizer {
        optimizer.restore(state)?;
    }
    let schedule = match config.schedule {
        LrSchedule::Constant => LrSchedule::Step {
            every: config.lr_decay_every,
            factor: config.lr_decay_factor,
        },
        ref other => other.clone(),
    };
    // The rate of the episode before the start, so that a resumed run logs a decay only where
    // an uninterrupted one does.
    let mut learning_rate = match start.next_episode {
        0 => config.learning_rate,
        next => schedule.learning_rate(config.learning_rate, next - 1, config.episodes),
    };
    let mut history = start.history;
    for callback in callbacks.iter_mut() {
        callback.on_train_begin(&history)?;
    }
    let (mut loss_sum, mut accuracy_sum, mut window) = (0.0f64, 0.0f64, 0usize);
    let bar = progress_bar(config.episodes as u64, "training");
    bar.set_position(start.next_episode as u64);

    for index in start.next_episode..config.episodes {
        let scheduled = schedule.learning_rate(config.learning_rate, index, config.episodes);
        if matches!(schedule, LrSchedule::Step { .. }) && scheduled != learning_rate {
            tracing::info!(episode = index, learning_rate = scheduled, "learning rate decayed");
        }
        learning_rate = scheduled;

        let episode = train.episode(index as u64)?;
        network.encoder().seed_episode(index as u64);
        let buffers = network.params().snapshot_buffers()?;
        let output = network.episode(&episode, true)?;
        let loss = output.loss.to_scalar::<f32>()?;
        if !loss.is_finite() {
            // The failed step leaves no trace: no optimiser update, and the batch norms'
            // running statistics as they were before it.
            network.params().restore_buffers(&buffers)?;
            return Err(Error::Diverged { episode: index, loss });
        }
        let mut grads = output.loss.backward()?;
        if let Some(max_norm) = config.max_grad_norm {
            clip_grad_norm(&mut grads, &trainable, max_norm)?;
        }
        optimizer.step(&grads, learning_rate)?;

        // ReLU maps NaN to 0, so NaN weights or running statistics can leave the loss finite.
        // Only the parameters themselves show that the network is broken.
        check_finite_parameters(network, index)?;

        loss_sum += f64::from(loss);
        accuracy_sum += output.accuracy;
        window += 1;
        bar.inc(1);
        bar.set_prefix(format!(
            "loss {:.3} acc {:.1}%",
            loss_sum / window as f64,
            100.0 * accuracy_sum / window as f64
        ));

        let done = index + 1;
        let validate_now = config.validate_every > 0 && done % config.validate_every == 0;
        if validate_now || done == config.episodes {
            let validation_report = match (&mut validation, validate_now) {
                (Some(source), true) => Some(validate(network, &mut **source, config.validation_episodes)?),
                _ => None,
            };
            let record = HistoryRecord {
                episode: done,
                train_loss: loss_sum / window as f64,
                train_accuracy: accuracy_sum / window as f64,
                validation: validation_report,
            };
            // Without validation the field is left out rather than printed as `None`. `display`
            // logs the number bare, as the other fields, instead of as a quoted string.
            let validation_accuracy = record
                .validation
                .map(|report| tracing::field::display(format!("{:.4}", report.mean_accuracy)));
            tracing::info!(
                episode = record.episode,
                train_loss = format_args!("{:.4}", record.train_loss),
                train_accuracy = format_args!("{:.4}", record.train_accuracy),
                validation_accuracy,
                "training progress"
            );
            let mut stop = false;
            for callback in callbacks.iter_mut() {
                stop |= callback.on_record(&record, network)? == Control::Stop;
            }
            history.records.push(record);
            (loss_sum, accuracy_sum, window) = (0.0, 0.0, 0);
            // After the callbacks, so that a checkpoint never gets ahead of what they saved.
            if let Some(dir) = checkpoint_dir {
                crate::resume::write_checkpoint(dir, network, &optimizer, config.episodes, &history)?;
            }
            if stop {
                break;
            }
        }
    }
    bar.finish_and_clear();
    Ok(history)
}

fn validate(network: &FewShotNetwork, source: &mut dyn EpisodeSource, episodes: usize) -> Result<EvaluationReport> {
    let mut accuracies = Vec::with_capacity(episodes);
    for index in 0..episodes {
        let episode = source.episode(index as u64)?;
        accuracies.push(network.episode(&episode, false)?.accuracy);
    }
    EvaluationReport::from_accuracies(&accuracies)
}

fn check_finite_parameters(network: &FewShotNetwork, episode: usize) -> Result<()> {
    for (name, tensor) in network.params().tensors() {
        // In f64 a sum of f32 values is finite exactly when every value is, so one reduction
        // checks a whole tensor.
        let total = tensor.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
        if !total.is_finite() {
            return Err(Error::NonFiniteParameter { episode, name });
        }
    }
    Ok(())
}
