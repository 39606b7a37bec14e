//! Resumable training. A run checkpointed halfway and resumed in a fresh network ends with the
//! same weights, optimiser state and history, bit for bit, as an uninterrupted run. Also covered:
//! bad or interrupted checkpoints, callbacks that rebuild their state, the history CSV and the
//! optimiser state round trip.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use fsl_layers::EpisodeBatch;
use fsl_models::callbacks::{BestCheckpoint, Callback, Control, EarlyStopping, HistoryCsv};
use fsl_models::optim::{LrSchedule, Optimizer, OptimizerConfig, OptimizerState};
use fsl_models::resume::TRAINING_STATE_FILE;
use fsl_models::{
    BasicCnnConfig, Conv4Config, EncoderConfig, Error, EvaluationReport, FewShotNetwork, HeadConfig, History,
    HistoryRecord, ModelConfig, TrainConfig, TrainingCheckpoint, resume_training, train_with_checkpoints,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const IMAGE_SIZE: usize = 16;

/// Episodes of a whole run. The interrupted runs stop halfway.
const EPISODES: usize = 8;

fn conv4(hidden_channels: usize) -> ModelConfig {
    ModelConfig {
        encoder: EncoderConfig::Conv4(Conv4Config {
            in_channels: 1,
            hidden_channels,
            image_size: IMAGE_SIZE,
            ..Default::default()
        }),
        seed: 11,
        head: HeadConfig::Prototypical,
    }
}

fn basic_cnn_with_dropout() -> ModelConfig {
    ModelConfig {
        encoder: EncoderConfig::BasicCnn(BasicCnnConfig {
            in_channels: 1,
            image_size: IMAGE_SIZE,
            conv_channels: 4,
            embedding_size: 16,
            conv_dropout: 0.2,
            dense_dropout: 0.5,
            dropout_seed: 5,
        }),
        seed: 11,
        head: HeadConfig::Prototypical,
    }
}

/// Images with uniform pixels in `[low, low + 0.5)` from a generator seeded by `seed`.
fn seeded_images(count: usize, low: f32, seed: u64) -> candle_core::Result<Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..count * IMAGE_SIZE * IMAGE_SIZE)
        .map(|_| low + 0.5 * rng.random::<f32>())
        .collect();
    Tensor::from_vec(values, (count, 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu)
}

/// Builds a 2-way 2-shot 3-query episode where class 0 is dark and class 1 bright. The same
/// index gives the same episode.
fn episode(index: u64) -> candle_core::Result<EpisodeBatch> {
    let support = Tensor::cat(
        &[seeded_images(2, 0.0, 4 * index)?, seeded_images(2, 0.5, 4 * index + 1)?],
        0,
    )?;
    let query = Tensor::cat(
        &[
            seeded_images(3, 0.0, 4 * index + 2)?,
            seeded_images(3, 0.5, 4 * index + 3)?,
        ],
        0,
    )?;
    Ok(EpisodeBatch {
        support,
        support_labels: vec![0, 0, 1, 1],
        query,
        query_labels: vec![0, 0, 0, 1, 1, 1],
        n_way: 2,
    })
}

fn validation_episode(index: u64) -> candle_core::Result<EpisodeBatch> {
    episode(1_000_000 + index)
}

fn train_config(optimizer: OptimizerConfig, schedule: LrSchedule) -> TrainConfig {
    TrainConfig {
        episodes: EPISODES,
        learning_rate: 0.01,
        validate_every: 2,
        validation_episodes: 2,
        optimizer,
        schedule,
        ..Default::default()
    }
}

fn sgd_with_momentum() -> OptimizerConfig {
    OptimizerConfig::Sgd {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-4,
    }
}

fn bits(tensor: &Tensor) -> Vec<u32> {
    tensor
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|value| value.to_bits())
        .collect()
}

/// Copies every parameter and buffer of the network out as bit patterns.
fn weight_bits(network: &FewShotNetwork) -> BTreeMap<String, Vec<u32>> {
    network
        .params()
        .tensors()
        .into_iter()
        .map(|(name, tensor)| (name, bits(&tensor)))
        .collect()
}

/// Returns the step count and every optimiser buffer as bit patterns, keyed by parameter and
/// buffer name.
fn optimizer_bits(state: &OptimizerState) -> (u64, BTreeMap<String, Vec<u32>>) {
    let mut buffers = BTreeMap::new();
    for parameter in &state.parameters {
        for (buffer, tensor) in &parameter.buffers {
            buffers.insert(format!("{}.{buffer}", parameter.name), bits(tensor));
        }
    }
    (state.steps, buffers)
}

type RecordBits = (usize, u64, u64, Option<(usize, u64, u64)>);

fn history_bits(history: &History) -> Vec<RecordBits> {
    history
        .records
        .iter()
        .map(|record| {
            let validation = record.validation.map(|report| {
                (
                    report.episodes,
                    report.mean_accuracy.to_bits(),
                    report.confidence_95.to_bits(),
                )
            });
            (
                record.episode,
                record.train_loss.to_bits(),
                record.train_accuracy.to_bits(),
                validation,
            )
        })
        .collect()
}

/// Stops training at the record of one episode, standing in for a process killed right after
/// that record's checkpoint.
struct StopAt(usize);

impl Callback for StopAt {
    fn on_record(&mut self, record: &HistoryRecord, _network: &FewShotNetwork) -> fsl_models::Result<Control> {
        Ok(if record.episode == self.0 {
            Control::Stop
        } else {
            Control::Continue
        })
    }
}

/// Trains `config` straight into one folder, and in a second folder trains half of it, drops
/// the network, and resumes from the checkpoint in a network loaded from disk. Then checks that
/// weights, optimiser state and history are bit-identical.
///
/// With `stop_with_callback` the first half runs with the full configuration until a callback
/// stops it, because a cosine schedule spans the configured episodes. Otherwise the first half
/// runs with half the episodes.
fn assert_resume_matches_uninterrupted(model: ModelConfig, config: TrainConfig, stop_with_callback: bool) {
    let half = config.episodes / 2;
    let dir = tempfile::tempdir().unwrap();
    let straight_dir = dir.path().join("straight");
    let resumed_dir = dir.path().join("resumed");

    let straight = FewShotNetwork::new(model.clone()).unwrap();
    let straight_history = train_with_checkpoints(
        &straight,
        &config,
        &straight_dir,
        &mut episode,
        Some(&mut validation_episode),
        &mut [],
    )
    .unwrap();
    assert_eq!(straight_history.records.len(), config.episodes / config.validate_every);

    let interrupted = FewShotNetwork::new(model).unwrap();
    let first_half = if stop_with_callback {
        let mut stop = StopAt(half);
        train_with_checkpoints(
            &interrupted,
            &config,
            &resumed_dir,
            &mut episode,
            Some(&mut validation_episode),
            &mut [&mut stop],
        )
        .unwrap()
    } else {
        let config = TrainConfig {
            episodes: half,
            ..config.clone()
        };
        train_with_checkpoints(
            &interrupted,
            &config,
            &resumed_dir,
            &mut episode,
            Some(&mut validation_episode),
            &mut [],
        )
        .unwrap()
    };
    drop(interrupted);
    assert_eq!(first_half.records.last().map(|record| record.episode), Some(half));
    let checkpoint = TrainingCheckpoint::load(&resumed_dir).unwrap();
    assert_eq!(checkpoint.next_episode, half);
    assert_eq!(history_bits(&checkpoint.history), history_bits(&first_half));

    let (resumed, resumed_history) = resume_training(
        &resumed_dir,
        &config,
        &mut episode,
        Some(&mut validation_episode),
        &mut [],
    )
    .unwrap();

    assert_eq!(history_bits(&resumed_history), history_bits(&straight_history));
    let expected_weights = weight_bits(&straight);
    assert_ne!(
        weight_bits(&FewShotNetwork::new(straight.config().clone()).unwrap()),
        expected_weights,
        "training must move the weights"
    );
    assert_eq!(weight_bits(&resumed), expected_weights);

    let straight_checkpoint = TrainingCheckpoint::load(&straight_dir).unwrap();
    let resumed_checkpoint = TrainingCheckpoint::load(&resumed_dir).unwrap();
    assert_eq!(straight_checkpoint.next_episode, config.episodes);
    assert_eq!(resumed_checkpoint.next_episode, config.episodes);
    let (steps, buffers) = optimizer_bits(&straight_checkpoint.optimizer);
    assert_eq!(steps, config.episodes as u64);
    assert!(!buffers.is_empty(), "the optimiser must keep buffers");
    assert_eq!(optimizer_bits(&resumed_checkpoint.optimizer), (steps, buffers));
    assert_eq!(weight_bits(&resumed_checkpoint.network), expected_weights);
    assert_eq!(
        history_bits(&resumed_checkpoint.history),
        history_bits(&straight_history)
    );
}

#[test]
fn adam_resume_matches_uninterrupted() {
    assert_resume_matches_uninterrupted(
        conv4(4),
        train_config(OptimizerConfig::adam(), LrSchedule::Constant),
        false,
    );
}

#[test]
fn sgd_momentum_resume_matches_uninterrupted() {
    assert_resume_matches_uninterrupted(conv4(4), train_config(sgd_with_momentum(), LrSchedule::Constant), false);
}

/// The decays at episodes 3 and 6 fall on both sides of the checkpoint at episode 4.
#[test]
fn step_schedule_resume_matches_uninterrupted() {
    let schedule = LrSchedule::Step { every: 3, factor: 0.5 };
    assert_resume_matches_uninterrupted(conv4(6), train_config(sgd_with_momentum(), schedule), false);
}

#[test]
fn cosine_adamw_resume_matches_uninterrupted() {
    let optimizer = OptimizerConfig::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    let schedule = LrSchedule::Cosine {
        min_learning_rate: 1e-4,
    };
    assert_resume_matches_uninterrupted(conv4(4), train_config(optimizer, schedule), true);
}

#[test]
fn dropout_resume_matches_uninterrupted() {
    assert_resume_matches_uninterrupted(
        basic_cnn_with_dropout(),
        train_config(OptimizerConfig::adam(), LrSchedule::Constant),
        false,
    );
}

/// Writes the checkpoint of a 4-episode Adam run into `dir` and returns its history.
fn write_checkpoint(dir: &Path) -> History {
    let network = FewShotNetwork::new(conv4(4)).unwrap();
    let config = TrainConfig {
        episodes: EPISODES / 2,
        ..train_config(OptimizerConfig::adam(), LrSchedule::Constant)
    };
    train_with_checkpoints(
        &network,
        &config,
        dir,
        &mut episode,
        Some(&mut validation_episode),
        &mut [],
    )
    .unwrap()
}

fn resume_error(dir: &Path, config: &TrainConfig) -> Error {
    resume_training(dir, config, &mut episode, Some(&mut validation_episode), &mut [])
        .err()
        .expect("resuming must fail")
}

#[test]
fn checkpoint_folder_has_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("run");
    write_checkpoint(&checkpoint);

    for file in [
        "model.safetensors",
        "config.json",
        "optimizer.safetensors",
        "optimizer.json",
        TRAINING_STATE_FILE,
    ] {
        assert!(checkpoint.join(file).is_file(), "{file} is missing");
    }
    assert!(!dir.path().join("run.partial").exists());
    assert!(!dir.path().join("run.previous").exists());
}

#[test]
fn resume_rejects_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-run");

    let error = resume_error(&missing, &train_config(OptimizerConfig::adam(), LrSchedule::Constant));
    match &error {
        Error::InvalidCheckpoint { path, .. } => assert_eq!(path, &missing),
        other => panic!("expected InvalidCheckpoint, got {other:?}"),
    }
    assert!(error.to_string().contains("no-such-run"), "{error}");
}

#[test]
fn resume_rejects_truncated_training_state() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
    let state_path = dir.path().join(TRAINING_STATE_FILE);
    let json = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(&state_path, &json[..json.len() / 2]).unwrap();

    let error = resume_error(dir.path(), &train_config(OptimizerConfig::adam(), LrSchedule::Constant));
    match &error {
        Error::InvalidCheckpoint { path, .. } => assert_eq!(path, &state_path),
        other => panic!("expected InvalidCheckpoint, got {other:?}"),
    }
    assert!(error.to_string().contains(TRAINING_STATE_FILE), "{error}");
}

#[test]
fn resume_rejects_corrupt_weights() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
    std::fs::write(dir.path().join("model.safetensors"), b"not a safetensors file").unwrap();

    let error = resume_error(dir.path(), &train_config(OptimizerConfig::adam(), LrSchedule::Constant));
    match &error {
        Error::InvalidCheckpoint { path, .. } => assert_eq!(path, dir.path()),
        other => panic!("expected InvalidCheckpoint, got {other:?}"),
    }
    assert!(error.to_string().contains("model.safetensors"), "{error}");
}

#[test]
fn resume_rejects_missing_optimizer_buffers() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
    let buffers = dir.path().join("optimizer.safetensors");
    std::fs::remove_file(&buffers).unwrap();

    let error = resume_error(dir.path(), &train_config(OptimizerConfig::adam(), LrSchedule::Constant));
    match &error {
        Error::InvalidCheckpoint { path, .. } => assert_eq!(path, &buffers),
        other => panic!("expected InvalidCheckpoint, got {other:?}"),
    }
}

#[test]
fn resume_rejects_fewer_episodes_than_trained() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
    let config = TrainConfig {
        episodes: 3,
        ..train_config(OptimizerConfig::adam(), LrSchedule::Constant)
    };

    let error = resume_error(dir.path(), &config);
    match &error {
        Error::ResumePastEnd { trained, episodes, .. } => assert_eq!((*trained, *episodes), (4, 3)),
        other => panic!("expected ResumePastEnd, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("trained 4 episodes"), "{message}");
    assert!(message.contains("the 3 episodes"), "{message}");
}

#[test]
fn resume_rejects_other_optimizer_kind() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());

    let error = resume_error(dir.path(), &train_config(sgd_with_momentum(), LrSchedule::Constant));
    match &error {
        Error::OptimizerStateMismatch { parameter, reason } => {
            assert_eq!(parameter, &None);
            assert!(reason.contains("Adam"), "{reason}");
            assert!(reason.contains("SGD"), "{reason}");
        }
        other => panic!("expected OptimizerStateMismatch, got {other:?}"),
    }
}

#[test]
fn resume_at_end_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let history = write_checkpoint(dir.path());
    let before = weight_bits(&TrainingCheckpoint::load(dir.path()).unwrap().network);
    let config = TrainConfig {
        episodes: EPISODES / 2,
        ..train_config(OptimizerConfig::adam(), LrSchedule::Constant)
    };

    let (network, resumed) = resume_training(
        dir.path(),
        &config,
        &mut episode,
        Some(&mut validation_episode),
        &mut [],
    )
    .unwrap();
    assert_eq!(history_bits(&resumed), history_bits(&history));
    assert_eq!(weight_bits(&network), before);
}

/// A process killed while writing the next checkpoint leaves a half-written `.partial` folder
/// beside the last good one, which must still load and resume.
#[test]
fn partial_write_keeps_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("run");
    write_checkpoint(&checkpoint);
    let partial = dir.path().join("run.partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join("model.safetensors"), b"half of a tensor").unwrap();

    let loaded = TrainingCheckpoint::load(&checkpoint).unwrap();
    assert_eq!(loaded.next_episode, EPISODES / 2);

    let config = train_config(OptimizerConfig::adam(), LrSchedule::Constant);
    let (_, history) = resume_training(
        &checkpoint,
        &config,
        &mut episode,
        Some(&mut validation_episode),
        &mut [],
    )
    .unwrap();
    assert_eq!(history.records.last().map(|record| record.episode), Some(EPISODES));
    assert!(!partial.exists(), "the next checkpoint must clear the partial folder");
    assert_eq!(TrainingCheckpoint::load(&checkpoint).unwrap().next_episode, EPISODES);
}

/// A process killed between the two renames of a swap leaves the last good checkpoint in
/// `.previous` and none at the folder itself.
#[test]
fn interrupted_swap_resumes_from_previous() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("run");
    write_checkpoint(&checkpoint);
    let previous = dir.path().join("run.previous");
    std::fs::rename(&checkpoint, &previous).unwrap();
    let partial = dir.path().join("run.partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join("config.json"), b"{").unwrap();

    let loaded = TrainingCheckpoint::load(&checkpoint).unwrap();
    assert_eq!(loaded.next_episode, EPISODES / 2);

    let config = train_config(OptimizerConfig::adam(), LrSchedule::Constant);
    resume_training(
        &checkpoint,
        &config,
        &mut episode,
        Some(&mut validation_episode),
        &mut [],
    )
    .unwrap();
    assert_eq!(TrainingCheckpoint::load(&checkpoint).unwrap().next_episode, EPISODES);
    assert!(checkpoint.is_dir());
    assert!(!previous.exists());
    assert!(!partial.exists());
}

fn csv_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn history_csv_written_after_each_record() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("history.csv");
    let network = FewShotNetwork::new(conv4(4)).unwrap();
    let config = train_config(OptimizerConfig::adam(), LrSchedule::Constant);

    /// Reads the CSV at every record, after the `HistoryCsv` callback before it has run.
    struct RowCounter<'a> {
        path: &'a Path,
        rows: Vec<usize>,
    }
    impl Callback for RowCounter<'_> {
        fn on_record(&mut self, _record: &HistoryRecord, _network: &FewShotNetwork) -> fsl_models::Result<Control> {
            self.rows.push(csv_rows(self.path).len());
            Ok(Control::Continue)
        }
    }

    let mut csv = HistoryCsv::new(&csv_path);
    let mut counter = RowCounter {
        path: &csv_path,
        rows: Vec::new(),
    };
    let history = fsl_models::train_with_callbacks(
        &network,
        &config,
        &mut episode,
        Some(&mut validation_episode),
        &mut [&mut csv, &mut counter],
    )
    .unwrap();

    // A header and one row per record so far.
    assert_eq!(counter.rows, vec![2, 3, 4, 5]);
    assert_eq!(std::fs::read_to_string(&csv_path).unwrap(), history.to_csv());
    let rows = csv_rows(&csv_path);
    assert_eq!(
        rows[0],
        "episode,train_loss,train_accuracy,validation_accuracy,validation_ci95"
    );
    let episodes: Vec<&str> = rows[1..].iter().map(|row| row.split(',').next().unwrap()).collect();
    assert_eq!(episodes, ["2", "4", "6", "8"]);
    assert_eq!(csv.history(), &history);
    assert!(!dir.path().join("history.csv.partial").exists());
}

/// A resumed run rewrites the CSV from the checkpoint's records, dropping a row that a killed
/// run wrote after its last checkpoint.
#[test]
fn history_csv_resumes_from_checkpoint_records() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("run");
    let csv_path = dir.path().join("history.csv");
    write_checkpoint(&checkpoint);
    std::fs::write(
        &csv_path,
        "episode,train_loss,train_accuracy,validation_accuracy,validation_ci95\n2,1,0,,\n4,1,0,,\n6,9,9,,\n",
    )
    .unwrap();

    let mut csv = HistoryCsv::new(&csv_path);
    let config = train_config(OptimizerConfig::adam(), LrSchedule::Constant);
    let (_, history) = resume_training(
        &checkpoint,
        &config,
        &mut episode,
        Some(&mut validation_episode),
        &mut [&mut csv],
    )
    .unwrap();

    assert_eq!(history.records.len(), 4);
    assert_eq!(std::fs::read_to_string(&csv_path).unwrap(), history.to_csv());
    assert!(!csv_rows(&csv_path).iter().any(|row| row.starts_with("6,9,9")));
}

fn record_with_accuracy(episode: usize, accuracy: f64) -> HistoryRecord {
    HistoryRecord {
        episode,
        train_loss: 0.5,
        train_accuracy: 0.5,
        validation: Some(EvaluationReport {
            episodes: 2,
            mean_accuracy: accuracy,
            confidence_95: 0.0,
        }),
    }
}

#[test]
fn early_stopping_rebuilds_state_from_history() {
    let network = FewShotNetwork::new(conv4(4)).unwrap();
    let history = History {
        records: vec![record_with_accuracy(2, 0.5), record_with_accuracy(4, 0.4)],
    };
    let next = record_with_accuracy(6, 0.45);

    let mut fresh = EarlyStopping::new(2, 0.0).unwrap();
    assert_eq!(fresh.on_record(&next, &network).unwrap(), Control::Continue);

    // Best 0.5 with one stale validation: a second one without improvement stops.
    let mut resumed = EarlyStopping::new(2, 0.0).unwrap();
    resumed.on_train_begin(&history).unwrap();
    assert_eq!(resumed.on_record(&next, &network).unwrap(), Control::Stop);
}

#[test]
fn best_checkpoint_rebuilds_best_from_history() {
    let dir = tempfile::tempdir().unwrap();
    let best_dir = dir.path().join("best");
    let network = FewShotNetwork::new(conv4(4)).unwrap();
    let history = History {
        records: vec![record_with_accuracy(2, 0.8), record_with_accuracy(4, 0.6)],
    };

    let mut callback = BestCheckpoint::new(&best_dir);
    callback.on_train_begin(&history).unwrap();
    assert_eq!(callback.best_accuracy(), Some(0.8));

    callback.on_record(&record_with_accuracy(6, 0.7), &network).unwrap();
    assert!(!best_dir.exists(), "0.7 is below the best of 0.8 and must not be saved");
    callback.on_record(&record_with_accuracy(8, 0.9), &network).unwrap();
    assert!(best_dir.join("model.safetensors").is_file());
    assert_eq!(callback.best_accuracy(), Some(0.9));
}

/// Two named parameters `a` (5 values) and `b` (2 x 3) and a quadratic loss over both.
fn quadratic_problem(seed: u64) -> (Vec<(String, Var)>, impl Fn() -> Tensor) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = |count: usize| -> Vec<f32> { (0..count).map(|_| rng.random_range(-1.0f32..1.0)).collect() };
    let a = Var::from_vec(values(5), 5, &Device::Cpu).unwrap();
    let b = Var::from_vec(values(6), (2, 3), &Device::Cpu).unwrap();
    let named = vec![("a".to_owned(), a.clone()), ("b".to_owned(), b.clone())];
    let loss = move || {
        let a_term = a.as_tensor().sqr().unwrap().sum_all().unwrap();
        let b_term = (b.as_tensor() * 3.0).unwrap().sum_all().unwrap();
        (a_term + b_term).unwrap()
    };
    (named, loss)
}

fn step(optimizer: &mut Optimizer, loss: &impl Fn() -> Tensor) {
    let grads = loss().backward().unwrap();
    optimizer.step(&grads, 0.05).unwrap();
}

fn var_bits(named: &[(String, Var)]) -> Vec<Vec<u32>> {
    named.iter().map(|(_, var)| bits(var.as_tensor())).collect()
}

#[test]
fn optimizer_state_round_trips_through_files() {
    for config in [OptimizerConfig::adam(), sgd_with_momentum()] {
        let (named, loss) = quadratic_problem(1);
        let mut optimizer = Optimizer::with_names(config.clone(), named.clone()).unwrap();
        for _ in 0..3 {
            step(&mut optimizer, &loss);
        }

        let dir = tempfile::tempdir().unwrap();
        let state = optimizer.state();
        state.save(dir.path()).unwrap();
        let loaded = OptimizerState::load(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(optimizer_bits(&loaded), optimizer_bits(&state), "{config:?}");
        assert_eq!(loaded.config, config);
        let names: Vec<&str> = loaded.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);

        // Optimisers over copies of the parameters: one restored from the files takes the same
        // next step as the original, and one without the state takes another step.
        let (copy, copy_loss) = quadratic_problem(1);
        let (cold_copy, cold_loss) = quadratic_problem(1);
        for (((_, var), (_, cold)), (_, original)) in copy.iter().zip(&cold_copy).zip(&named) {
            var.set(original.as_tensor()).unwrap();
            cold.set(original.as_tensor()).unwrap();
        }
        let mut restored = Optimizer::with_names(config.clone(), copy.clone()).unwrap();
        restored.restore(&loaded).unwrap();
        assert_eq!(restored.steps(), 3);
        let mut cold = Optimizer::with_names(config.clone(), cold_copy.clone()).unwrap();

        step(&mut optimizer, &loss);
        step(&mut restored, &copy_loss);
        step(&mut cold, &cold_loss);
        assert_eq!(var_bits(&copy), var_bits(&named), "{config:?}");
        assert_ne!(var_bits(&cold_copy), var_bits(&named), "{config:?}");
    }
}

#[test]
fn optimizer_state_without_buffers_round_trips() {
    let config = OptimizerConfig::Sgd {
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    };
    let (named, loss) = quadratic_problem(2);
    let mut optimizer = Optimizer::with_names(config.clone(), named).unwrap();
    step(&mut optimizer, &loss);

    let dir = tempfile::tempdir().unwrap();
    optimizer.state().save(dir.path()).unwrap();
    let loaded = OptimizerState::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.steps, 1);
    assert!(loaded.parameters.iter().all(|parameter| parameter.buffers.is_empty()));

    let (other, _) = quadratic_problem(2);
    let mut restored = Optimizer::with_names(config, other).unwrap();
    restored.restore(&loaded).unwrap();
    assert_eq!(restored.steps(), 1);
}

fn mismatch(result: fsl_models::Result<()>) -> (Option<String>, String) {
    match result {
        Err(Error::OptimizerStateMismatch { parameter, reason }) => (parameter, reason),
        other => panic!("expected OptimizerStateMismatch, got {other:?}"),
    }
}

#[test]
fn optimizer_restore_rejects_other_parameters() {
    let (named, loss) = quadratic_problem(3);
    let mut optimizer = Optimizer::with_names(OptimizerConfig::adam(), named.clone()).unwrap();
    step(&mut optimizer, &loss);
    let state = optimizer.state();

    let renamed = vec![named[0].clone(), ("c".to_owned(), named[1].1.clone())];
    let mut other = Optimizer::with_names(OptimizerConfig::adam(), renamed).unwrap();
    let (parameter, reason) = mismatch(other.restore(&state));
    assert_eq!(parameter.as_deref(), Some("b"));
    assert!(reason.contains("`b`"), "{reason}");
    assert_eq!(other.steps(), 0, "a rejected state must change nothing");

    let reshaped = Var::from_vec(vec![0f32; 6], (3, 2), &Device::Cpu).unwrap();
    let mut other = Optimizer::with_names(
        OptimizerConfig::adam(),
        vec![named[0].clone(), ("b".to_owned(), reshaped)],
    )
    .unwrap();
    let (parameter, reason) = mismatch(other.restore(&state));
    assert_eq!(parameter.as_deref(), Some("b"));
    assert!(reason.contains("[2, 3]"), "{reason}");
    assert!(reason.contains("[3, 2]"), "{reason}");

    let mut fewer = Optimizer::with_names(OptimizerConfig::adam(), vec![named[0].clone()]).unwrap();
    let (parameter, _) = mismatch(fewer.restore(&state));
    assert_eq!(parameter.as_deref(), Some("b"));

    let mut sgd = Optimizer::with_names(sgd_with_momentum(), named).unwrap();
    let (parameter, reason) = mismatch(sgd.restore(&state));
    assert_eq!(parameter, None);
    assert!(reason.contains("Adam"), "{reason}");
}

#[test]
fn optimizer_for_params_uses_model_names() {
    let network = FewShotNetwork::new(conv4(4)).unwrap();
    let optimizer = Optimizer::for_params(OptimizerConfig::adam(), network.params()).unwrap();
    let state = optimizer.state();

    let tensors = network.params().tensors();
    assert_eq!(state.parameters.len(), network.params().trainable().len());
    for parameter in &state.parameters {
        let tensor = tensors
            .get(&parameter.name)
            .unwrap_or_else(|| panic!("`{}` is not a model parameter", parameter.name));
        assert_eq!(tensor.dims(), parameter.shape.as_slice(), "{}", parameter.name);
    }
    assert!(
        state
            .parameters
            .iter()
            .any(|parameter| parameter.name == "encoder.block0.conv.weight")
    );
}

#[test]
fn optimizer_load_rejects_corrupt_description() {
    let (named, loss) = quadratic_problem(4);
    let mut optimizer = Optimizer::with_names(OptimizerConfig::adam(), named).unwrap();
    step(&mut optimizer, &loss);
    let dir = tempfile::tempdir().unwrap();
    optimizer.state().save(dir.path()).unwrap();
    let description = dir.path().join("optimizer.json");
    std::fs::write(&description, "{ \"steps\": ").unwrap();

    match OptimizerState::load(dir.path(), &Device::Cpu) {
        Err(Error::InvalidCheckpoint { path, .. }) => assert_eq!(path, description),
        other => panic!("expected InvalidCheckpoint, got {other:?}"),
    }
}
