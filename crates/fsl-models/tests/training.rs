//! Training: configuration checks, the history and its CSV and PNG outputs, learning on an easy
//! task, and the errors of bad images and bad episodes.

use candle_core::{Device, Tensor};
use fsl_layers::EpisodeBatch;
use fsl_models::callbacks::{BestCheckpoint, Callback, Control, EarlyStopping};
use fsl_models::optim::{LrSchedule, OptimizerConfig};
use fsl_models::{
    Conv4Config, EncoderConfig, Error, EvaluationReport, FewShotNetwork, HeadConfig, History, HistoryRecord,
    ModelConfig, TrainConfig, train, train_with_callbacks,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const IMAGE_SIZE: usize = 16;

fn network(hidden_channels: usize) -> FewShotNetwork {
    let config = ModelConfig {
        encoder: EncoderConfig::Conv4(Conv4Config {
            in_channels: 1,
            hidden_channels,
            image_size: IMAGE_SIZE,
            ..Default::default()
        }),
        seed: 17,
        head: HeadConfig::Prototypical,
    };
    FewShotNetwork::new(config).unwrap()
}

/// Builds a 2-way 2-shot 3-query episode. Class 0 images have mean brightness 0.3 and class 1
/// images 0.7, each pixel with uniform noise of +-0.25 from a generator seeded by `seed`.
fn dark_or_bright(seed: u64) -> candle_core::Result<EpisodeBatch> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = |labels: &[u32]| -> candle_core::Result<Tensor> {
        let mut values = Vec::with_capacity(labels.len() * IMAGE_SIZE * IMAGE_SIZE);
        for &label in labels {
            let mean = if label == 0 { 0.3 } else { 0.7 };
            values.extend((0..IMAGE_SIZE * IMAGE_SIZE).map(|_| mean + rng.random_range(-0.25f32..0.25)));
        }
        Tensor::from_vec(values, (labels.len(), 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu)
    };
    let support_labels = vec![0, 0, 1, 1];
    let query_labels = vec![1, 0, 0, 1, 0, 1];
    Ok(EpisodeBatch {
        support: images(&support_labels)?,
        support_labels,
        query: images(&query_labels)?,
        query_labels,
        n_way: 2,
    })
}

fn invalid_field(config: &TrainConfig) -> &'static str {
    let mut source = dark_or_bright;
    match train(&network(4), config, &mut source, None) {
        Err(Error::InvalidConfig { name, .. }) => name,
        other => panic!("expected InvalidConfig for {config:?}, got {other:?}"),
    }
}

fn history_with_gap() -> History {
    let validation = EvaluationReport::from_accuracies(&[0.5, 1.0]).unwrap();
    History {
        records: vec![
            HistoryRecord {
                episode: 2,
                train_loss: 0.75,
                train_accuracy: 0.5,
                validation: Some(validation),
            },
            HistoryRecord {
                episode: 3,
                train_loss: 0.25,
                train_accuracy: 1.0,
                validation: None,
            },
        ],
    }
}

#[test]
fn train_rejects_zero_episodes() {
    assert_eq!(
        invalid_field(&TrainConfig {
            episodes: 0,
            ..Default::default()
        }),
        "episodes"
    );
}

#[test]
fn train_rejects_non_positive_learning_rate() {
    for learning_rate in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
        let config = TrainConfig {
            episodes: 1,
            learning_rate,
            ..Default::default()
        };
        assert_eq!(invalid_field(&config), "learning_rate", "learning rate {learning_rate}");
    }
}

#[test]
fn train_rejects_validation_without_episodes() {
    let config = TrainConfig {
        episodes: 1,
        validate_every: 1,
        validation_episodes: 0,
        ..Default::default()
    };
    assert_eq!(invalid_field(&config), "validation_episodes");
}

#[test]
fn history_has_record_per_validation_and_end() {
    let network = network(4);
    let config = TrainConfig {
        episodes: 5,
        validate_every: 2,
        validation_episodes: 3,
        ..Default::default()
    };
    let mut source = dark_or_bright;
    let mut validation = |index: u64| dark_or_bright(1000 + index);

    let history = train(&network, &config, &mut source, Some(&mut validation)).unwrap();

    let episodes: Vec<usize> = history.records.iter().map(|r| r.episode).collect();
    assert_eq!(episodes, [2, 4, 5]);
    for record in &history.records[..2] {
        let report = record.validation.expect("validation ran at this record");
        assert_eq!(report.episodes, 3);
        assert!((0.0..=1.0).contains(&report.mean_accuracy), "{report:?}");
    }
    assert!(history.records[2].validation.is_none());
    for record in &history.records {
        assert!(record.train_loss.is_finite(), "{record:?}");
        assert!(record.train_loss > 0.0, "{record:?}");
        assert!((0.0..=1.0).contains(&record.train_accuracy), "{record:?}");
    }
}

#[test]
fn history_without_validation_has_one_record() {
    let network = network(4);
    let mut source = dark_or_bright;

    let history = train(
        &network,
        &TrainConfig {
            episodes: 3,
            ..Default::default()
        },
        &mut source,
        None,
    )
    .unwrap();

    assert_eq!(history.records.len(), 1);
    assert_eq!(history.records[0].episode, 3);
    assert!(history.records[0].validation.is_none());
}

#[test]
fn csv_has_header_and_empty_cells() {
    let csv = history_with_gap().to_csv();
    let lines: Vec<&str> = csv.lines().collect();

    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(
        lines[0],
        "episode,train_loss,train_accuracy,validation_accuracy,validation_ci95"
    );
    // Population std 0.25 over two episodes: 1.96 * 0.25 / sqrt(2).
    let ci = 1.96 * 0.25 / 2f64.sqrt();
    assert_eq!(lines[1], format!("2,0.75,0.5,0.75,{ci}"));
    assert_eq!(lines[2], "3,0.25,1,,");
}

#[test]
fn csv_written_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    let history = history_with_gap();

    history.write_csv(&path).unwrap();

    assert_eq!(std::fs::read_to_string(&path).unwrap(), history.to_csv());
}

#[test]
fn plot_writes_readable_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curve.png");

    history_with_gap().plot(&path).unwrap();

    let image = image::open(&path).unwrap();
    assert_eq!((image.width(), image.height()), (960, 480));

    // The curves must have been drawn: a blank white canvas has a single colour.
    let pixels = image.to_rgb8();
    let first = *pixels.get_pixel(0, 0);
    assert!(
        pixels.pixels().any(|pixel| *pixel != first),
        "the plot is a blank canvas"
    );
}

/// The marker of the last episode lies wholly inside the loss panel (480 pixels wide, with a
/// 15-pixel margin), not cut by its right edge.
#[test]
fn plot_keeps_last_marker_inside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curve.png");

    history_with_gap().plot(&path).unwrap();

    let pixels = image::open(&path).unwrap().to_rgb8();
    let rightmost_red = pixels
        .enumerate_pixels()
        .filter(|(x, _, pixel)| *x < 480 && pixel.0 == [255, 0, 0])
        .map(|(x, _, _)| x)
        .max()
        .expect("the loss curve is drawn in red");
    assert!(rightmost_red + 3 < 480 - 15, "last marker reaches x = {rightmost_red}");
}

#[test]
fn plot_rejects_empty_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curve.png");

    let error = History::default().plot(&path).unwrap_err();

    assert!(matches!(error, Error::Plot { .. }), "{error:?}");
    assert!(error.to_string().contains("curve.png"), "{error}");
}

#[test]
fn learns_dark_versus_bright() {
    let network = network(8);
    let config = TrainConfig {
        episodes: 30,
        learning_rate: 1e-2,
        validate_every: 10,
        validation_episodes: 10,
        ..Default::default()
    };
    let mut source = dark_or_bright;
    let mut validation = |index: u64| dark_or_bright(5000 + index);

    let history = train(&network, &config, &mut source, Some(&mut validation)).unwrap();

    let last = history.records.last().unwrap();
    assert_eq!(last.episode, 30);
    assert!(
        last.train_accuracy > 0.9,
        "training accuracy of episodes 21-30 is {}",
        last.train_accuracy
    );
    assert!(last.train_loss < history.records[0].train_loss, "{history:?}");
    let validation = last.validation.unwrap();
    assert!(
        validation.mean_accuracy > 0.9,
        "validation accuracy is {}",
        validation.mean_accuracy
    );
}

#[test]
fn learns_with_sgd_cosine_schedule_and_clipping() {
    let network = network(8);
    let config = TrainConfig {
        episodes: 30,
        learning_rate: 5e-2,
        validate_every: 10,
        validation_episodes: 10,
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-4,
        },
        schedule: LrSchedule::Cosine {
            min_learning_rate: 1e-3,
        },
        max_grad_norm: Some(5.0),
        ..Default::default()
    };
    let mut source = dark_or_bright;
    let mut validation = |index: u64| dark_or_bright(5000 + index);

    let history = train(&network, &config, &mut source, Some(&mut validation)).unwrap();

    let last = history.records.last().unwrap();
    assert!(last.train_loss < history.records[0].train_loss, "{history:?}");
    let validation = last.validation.unwrap();
    assert!(
        validation.mean_accuracy > 0.9,
        "validation accuracy is {}",
        validation.mean_accuracy
    );
}

#[test]
fn train_rejects_invalid_optimiser_and_clipping() {
    let momentum = TrainConfig {
        optimizer: OptimizerConfig::Sgd {
            momentum: 1.5,
            nesterov: false,
            weight_decay: 0.0,
        },
        ..Default::default()
    };
    assert_eq!(invalid_field(&momentum), "momentum");

    let clipping = TrainConfig {
        max_grad_norm: Some(-1.0),
        ..Default::default()
    };
    assert_eq!(invalid_field(&clipping), "max_grad_norm");
}

#[test]
fn early_stopping_ends_training_when_validation_stalls() {
    let network = network(8);
    let config = TrainConfig {
        episodes: 200,
        learning_rate: 1e-2,
        validate_every: 5,
        validation_episodes: 5,
        ..Default::default()
    };
    let mut source = dark_or_bright;
    let mut validation = |index: u64| dark_or_bright(5000 + index);
    let mut stopping = EarlyStopping::new(2, 0.0).unwrap();

    let history = train_with_callbacks(
        &network,
        &config,
        &mut source,
        Some(&mut validation),
        &mut [&mut stopping],
    )
    .unwrap();

    // The easy task reaches its best validation accuracy within a few validations, and two
    // validations without improvement end the run.
    let last = history.records.last().unwrap();
    assert!(last.episode < 200, "{history:?}");
    let accuracies: Vec<f64> = history
        .records
        .iter()
        .map(|record| record.validation.unwrap().mean_accuracy)
        .collect();
    let best = accuracies.iter().copied().fold(f64::MIN, f64::max);
    let last_two = &accuracies[accuracies.len() - 2..];
    assert!(last_two.iter().all(|&accuracy| accuracy <= best), "{accuracies:?}");
}

struct StopAtFirst {
    calls: usize,
}

impl Callback for StopAtFirst {
    fn on_record(&mut self, _record: &HistoryRecord, _network: &FewShotNetwork) -> fsl_models::Result<Control> {
        self.calls += 1;
        Ok(Control::Stop)
    }
}

#[test]
fn custom_callback_stops_training() {
    let network = network(4);
    let config = TrainConfig {
        episodes: 50,
        validate_every: 5,
        validation_episodes: 2,
        ..Default::default()
    };
    let mut source = dark_or_bright;
    let mut validation = |index: u64| dark_or_bright(5000 + index);
    let mut stop = StopAtFirst { calls: 0 };

    let history =
        train_with_callbacks(&network, &config, &mut source, Some(&mut validation), &mut [&mut stop]).unwrap();

    assert_eq!(stop.calls, 1);
    assert_eq!(history.records.len(), 1);
    assert_eq!(history.records[0].episode, 5);
}

#[test]
fn best_checkpoint_keeps_best_validation_model() {
    let network = network(8);
    let config = TrainConfig {
        episodes: 20,
        learning_rate: 1e-2,
        validate_every: 5,
        validation_episodes: 5,
        ..Default::default()
    };
    let mut source = dark_or_bright;
    let mut validation = |index: u64| dark_or_bright(5000 + index);
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("best");
    let mut checkpoint = BestCheckpoint::new(&dir);

    let history = train_with_callbacks(
        &network,
        &config,
        &mut source,
        Some(&mut validation),
        &mut [&mut checkpoint],
    )
    .unwrap();

    let best = history
        .records
        .iter()
        .map(|record| record.validation.unwrap().mean_accuracy)
        .fold(f64::MIN, f64::max);
    assert_eq!(checkpoint.best_accuracy(), Some(best));
    let loaded = FewShotNetwork::load(&dir).unwrap();
    assert_eq!(loaded.config(), network.config());
    let names: Vec<String> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["best"], "no partial or previous checkpoint is left");
}

#[test]
fn early_stopping_rejects_invalid_settings() {
    let zero = EarlyStopping::new(0, 0.0).unwrap_err();
    assert!(matches!(zero, Error::InvalidConfig { name: "patience", .. }), "{zero}");

    let negative = EarlyStopping::new(3, -0.1).unwrap_err();
    assert!(
        matches!(negative, Error::InvalidConfig { name: "min_delta", .. }),
        "{negative}"
    );
}

#[test]
fn encoder_rejects_wrong_image_size() {
    let network = network(4);
    let images = Tensor::zeros((2, 1, 20, 20), candle_core::DType::F32, &Device::Cpu).unwrap();

    let error = network.embed(&images, false).unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidConfig {
                name: "image shape",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("1x20x20"), "{message}");
    assert!(message.contains("1x16x16"), "{message}");
}

#[test]
fn encoder_rejects_wrong_channel_count() {
    let network = network(4);
    let images = Tensor::zeros((2, 3, 16, 16), candle_core::DType::F32, &Device::Cpu).unwrap();

    let error = network.embed(&images, true).unwrap_err();

    assert!(error.to_string().contains("3x16x16"), "{error}");
}

#[test]
fn single_image_training_stays_finite() {
    let network = network(4);
    let mut rng = StdRng::seed_from_u64(8);
    let values: Vec<f32> = (0..IMAGE_SIZE * IMAGE_SIZE).map(|_| rng.random()).collect();
    let image = Tensor::from_vec(values, (1, 1, IMAGE_SIZE, IMAGE_SIZE), &Device::Cpu).unwrap();

    // With 16x16 images the last block still normalises 2x2 positions per channel, so batch
    // statistics exist for a single image and the call must succeed with finite values.
    let embedding = network.embed(&image, true).unwrap();

    let values = embedding.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
    for (name, tensor) in network.params().tensors() {
        let values = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(
            values.iter().all(|v| v.is_finite()),
            "{name} holds a non-finite value: {values:?}"
        );
    }
}

#[test]
fn train_rejects_nan_images() {
    let network = network(4);
    // Copied out now: `Var::set` writes into the storage that the store's tensors share.
    let values = |network: &FewShotNetwork| -> std::collections::BTreeMap<String, Vec<f32>> {
        let tensors = network.params().tensors();
        tensors
            .into_iter()
            .map(|(name, tensor)| (name, tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
            .collect()
    };
    let initial = values(&network);
    let mut source = |index: u64| -> candle_core::Result<EpisodeBatch> {
        let mut episode = dark_or_bright(index)?;
        episode.query = (episode.query * f64::NAN)?;
        Ok(episode)
    };

    // NaN propagates through the encoder (its ReLU keeps NaN, as PyTorch's does), so the loss
    // rejects the scores of the first episode before any optimiser step.
    let error = train(
        &network,
        &TrainConfig {
            episodes: 2,
            ..Default::default()
        },
        &mut source,
        None,
    )
    .unwrap_err();

    match &error {
        Error::Layers(fsl_layers::Error::NonFinite { name, row }) => {
            assert_eq!(*name, "scores");
            assert_eq!(*row, 0);
        }
        other => panic!("expected NonFinite scores, got {other:?}"),
    }
    assert!(error.to_string().contains("NaN"), "{error}");

    // The batch norms saw the NaN batch before the loss rejected it: their running statistics
    // must be back to their values before it, not NaN.
    assert_eq!(values(&network), initial, "the rejected episode changed the network");
}

#[test]
fn train_propagates_source_error() {
    let network = network(4);
    let mut source = |index: u64| -> candle_core::Result<EpisodeBatch> {
        if index == 1 {
            return Err(candle_core::Error::Msg("episode 1 is unreadable".into()));
        }
        dark_or_bright(index)
    };

    let error = train(
        &network,
        &TrainConfig {
            episodes: 3,
            ..Default::default()
        },
        &mut source,
        None,
    )
    .unwrap_err();

    assert!(matches!(error, Error::Source(_)), "{error:?}");
    assert!(error.to_string().contains("episode 1 is unreadable"), "{error}");
}

#[test]
fn episode_rejects_label_count_mismatch() {
    let network = network(4);
    let mut episode = dark_or_bright(0).unwrap();
    episode.query_labels.pop();

    let error = network.episode(&episode, false).unwrap_err();

    assert!(
        error.to_string().contains("6 query images but 5 query labels"),
        "{error}"
    );
}
