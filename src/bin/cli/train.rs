//! `fsl train`: train on an Omniglot archive or folder, a Parquet table or an image folder,
//! from flags or from a configuration file, and write the run folder.

use std::path::{Path, PathBuf};

use clap::Args;
use fsl::omniglot::{CharacterSet, DataSection, EpisodeSection, RunConfig, TrainingData, TrainingSection};
use fsl_models::callbacks::{BestCheckpoint, Callback, EarlyStopping, HistoryCsv};
use fsl_models::{FewShotNetwork, ModelConfig};

use super::omniglot::TrainOptions;
use super::{LogFile, create_folder, write_text};

/// Flags that a configuration file replaces.
const CONFIG_FLAGS: [&str; 13] = [
    "data",
    "split",
    "episodes",
    "n_way",
    "k_shot",
    "q_query",
    "learning_rate",
    "lr_decay_every",
    "validate_every",
    "no_augment",
    "skip_small_classes",
    "seed",
    "image_size",
];

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A TOML or JSON file with the whole run: data, model, episodes, training and
    /// augmentation (see `RunConfig` in the docs, or the config.toml of an earlier run).
    #[arg(long, conflicts_with_all = CONFIG_FLAGS)]
    config: Option<PathBuf>,

    /// Continue the run in this folder from its last checkpoint (RUN/checkpoint, written at
    /// every validation and at the end) with the settings of its config.toml, up to
    /// `training.episodes`. Raise that value in config.toml to train a finished run further.
    /// The result equals an uninterrupted run's.
    #[arg(long, value_name = "RUN", conflicts_with_all = CONFIG_FLAGS, conflicts_with_all = ["config", "output_dir"])]
    resume: Option<PathBuf>,

    /// Data to train on: an Omniglot archive (.zip) or extracted folder, a Parquet table
    /// (.parquet, written by `fsl data convert`) or an image folder DIR/<class>/<image>.
    #[arg(long, required_unless_present_any = ["config", "resume"])]
    data: Option<PathBuf>,

    /// Train only on the rows whose `split` column has this value (see `fsl data split`).
    #[arg(long)]
    split: Option<String>,

    /// Run folder: the model goes to DIR/model (model.safetensors, config.json), beside
    /// config.toml (the full configuration of the run), history.csv, training_curve.png,
    /// train.log and checkpoint/ (for --resume). With validation, DIR/best_model contains the
    /// model of the best validation.
    #[arg(long, required_unless_present = "resume")]
    output_dir: Option<PathBuf>,

    #[command(flatten)]
    train: TrainOptions,
}

impl TrainArgs {
    /// Returns the configuration of the run: the file's, or one built from the flags.
    fn run_config(&self) -> fsl::Result<RunConfig> {
        if let Some(run) = &self.resume {
            return RunConfig::read(&run.join("config.toml"));
        }
        if let Some(path) = &self.config {
            return RunConfig::read(path);
        }

        let options = &self.train;
        Ok(RunConfig {
            data: DataSection {
                path: self.data.clone().unwrap_or_default(),
                split: self.split.clone(),
                image_size: None,
            },
            model: fsl::omniglot::model_config(options.seed, options.image_size),
            episodes: EpisodeSection {
                n_way: options.n_way,
                k_shot: options.k_shot,
                q_query: options.q_query,
                skip_small_classes: options.skip_small_classes,
            },
            training: TrainingSection {
                episodes: options.episodes,
                learning_rate: options.learning_rate,
                lr_decay_every: options.lr_decay_every,
                validate_every: options.validate_every,
                augment: !options.no_augment,
                ..TrainingSection::default()
            },
            augmentation: None,
        })
    }
}

pub fn run(arguments: TrainArgs, log: &LogFile) -> fsl::Result<()> {
    // Everything that can be wrong in the configuration or the data fails before the run
    // folder is created.
    let mut config = arguments.run_config()?;
    let settings = config.train_settings();
    settings.validate()?;
    let image_size = config.image_size()?;
    let augmenter = config.augmenter()?;
    let mut stopping = match config.training.early_stopping_patience {
        Some(patience) => Some(EarlyStopping::new(patience, 0.0)?),
        None => None,
    };

    // The saved configuration names the augmentation that ran, default or not.
    if config.augmentation.is_none() {
        config.augmentation = augmenter.as_ref().and_then(|augmenter| augmenter.config());
    }

    // Building the network checks the encoder and head settings, such as a relation head of 0
    // hidden units. A resumed run must continue the model of its checkpoint.
    let network = FewShotNetwork::new(config.model.clone())?;
    if let Some(run) = &arguments.resume {
        check_resumable(run, &config)?;
    }

    let set = CharacterSet::open(&config.data.path, config.data.split.as_deref())?;
    let training = TrainingData::prepare(&set, &settings, config.model.seed, image_size, augmenter)?;

    let output = arguments
        .resume
        .as_ref()
        .or(arguments.output_dir.as_ref())
        .ok_or_else(|| fsl::Error::InvalidSetting {
            name: "output_dir",
            value: String::new(),
            reason: "give the run folder with --output-dir, or --resume RUN".to_owned(),
        })?;
    create_folder(output)?;
    log.open(&output.join("train.log"))?;
    if arguments.resume.is_none() {
        write_text(&output.join("config.toml"), &config.to_toml()?)?;
    }
    tracing::info!(config = %output.join("config.toml").display(), "training");

    // With validation, the model of the best validation accuracy is kept beside the last one.
    // The history is rewritten after every record, so a stopped run keeps it.
    let mut best = BestCheckpoint::new(output.join("best_model"));
    let mut history_csv = HistoryCsv::new(output.join("history.csv"));
    let mut callbacks: Vec<&mut dyn Callback> = vec![&mut best, &mut history_csv];
    if let Some(stopping) = stopping.as_mut() {
        callbacks.push(stopping);
    }
    let checkpoint = output.join("checkpoint");
    let (network, history) = if arguments.resume.is_some() {
        training.resume(&checkpoint, &mut callbacks)?
    } else {
        let history = training.train_with_checkpoints(&network, &checkpoint, &mut callbacks)?;
        (network, history)
    };

    network.save(&output.join("model"))?;
    history.write_csv(&output.join("history.csv"))?;
    history.plot(&output.join("training_curve.png"))?;
    println!("Saved the model to {}.", output.join("model").display());
    Ok(())
}

/// Checks that `run` has a checkpoint and that its model is the `[model]` of the run's
/// config.toml, so that an edited architecture is not silently ignored.
fn check_resumable(run: &Path, config: &RunConfig) -> fsl::Result<()> {
    let checkpoint = run.join("checkpoint");
    let saved = ["", ".previous"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", checkpoint.display())).join("config.json"))
        .find(|path| path.is_file())
        .ok_or_else(|| fsl::Error::InvalidSetting {
            name: "resume",
            value: run.display().to_string(),
            reason: "the run has no checkpoint yet (one is written at every validation and at the end); \
                     train it again with `fsl train --config`"
                .to_owned(),
        })?;
    let text = std::fs::read_to_string(&saved).map_err(|source| fsl::Error::Read {
        path: saved.clone(),
        source,
    })?;
    let model: ModelConfig = serde_json::from_str(&text).map_err(|source| fsl::Error::InvalidSetting {
        name: "resume",
        value: saved.display().to_string(),
        reason: format!("the checkpoint's model configuration does not parse: {source}"),
    })?;
    if model != config.model {
        return Err(fsl::Error::InvalidSetting {
            name: "model",
            value: run.join("config.toml").display().to_string(),
            reason: "its [model] differs from the model of the checkpoint; a resumed run keeps its \
                     architecture and head, so restore [model] or train a new run"
                .to_owned(),
        });
    }
    Ok(())
}
