//! Argument parsing and dispatch of the `fsl` command line.

mod eval;
mod omniglot;
mod predict;
mod train;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fsl::omniglot::ArchiveSource;
use fsl_datasets::omniglot::OMNIGLOT_BASE_URL;
use tracing_subscriber::EnvFilter;

/// Few-shot learning on candle: train and evaluate prototypical networks.
#[derive(Debug, Parser)]
#[command(name = "fsl", version, about)]
pub struct Cli {
    /// Log more (-v: debug, -vv: trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train on Omniglot background_small1 and evaluate on the unseen alphabets of small2:
    /// 20-way 1-shot within an alphabet, 5-way 1-shot and 5-way 5-shot.
    Omniglot(omniglot::OmniglotArgs),
    /// Train a prototypical network on an Omniglot archive or folder and save it.
    Train(train::TrainArgs),
    /// Evaluate a saved model episodically on an Omniglot archive, or on official one-shot runs.
    Eval(eval::EvalArgs),
    /// Label query images with a saved model against a folder of labelled support images.
    Predict(predict::PredictArgs),
}

/// Locations of the Omniglot archives and of their download.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Folder with images_background_small1.zip and images_background_small2.zip.
    #[arg(long, env = "FSL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Folder for downloaded archives [default: $XDG_CACHE_HOME/fsl or ~/.cache/fsl].
    #[arg(long, env = "FSL_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Address the archives are downloaded from when they are not in the data folder.
    #[arg(long, env = "FSL_BASE_URL", default_value = OMNIGLOT_BASE_URL)]
    pub base_url: String,
}

impl DataArgs {
    pub fn source(&self) -> ArchiveSource {
        ArchiveSource {
            data_dir: self.data_dir.clone(),
            cache_dir: self.cache_dir.clone().unwrap_or_else(default_cache_dir),
            base_url: self.base_url.clone(),
        }
    }
}

fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("fsl")
}

/// Loads a saved Conv-4 model and returns it with its input image size.
///
/// `path` is the model folder (model.safetensors and config.json) or the output folder of
/// `fsl train` and `fsl omniglot`, which keeps the model in `model/`.
pub fn load_model(path: &std::path::Path, command: &str) -> fsl::Result<(fsl_models::PrototypicalNetwork, u32)> {
    let nested = path.join("model");
    let model_dir = if !path.join("config.json").exists() && nested.join("config.json").exists() {
        nested
    } else {
        path.to_path_buf()
    };

    let network = fsl_models::PrototypicalNetwork::load(&model_dir)?;
    match &network.config().encoder {
        fsl_models::EncoderConfig::Conv4(conv4) => {
            let image_size = conv4.image_size as u32;
            Ok((network, image_size))
        }
        other => Err(fsl::Error::InvalidSetting {
            name: "model",
            value: format!("{other:?}"),
            reason: format!("fsl {command} supports Conv-4 models"),
        }),
    }
}

/// Sets up logging to standard error at info level, or lower with `-v`.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .with_target(false)
        .init();
}

/// Runs the chosen command.
pub fn run(cli: Cli) -> fsl::Result<()> {
    match cli.command {
        Command::Omniglot(arguments) => omniglot::run(arguments),
        Command::Train(arguments) => train::run(arguments),
        Command::Eval(arguments) => eval::run(arguments),
        Command::Predict(arguments) => predict::run(arguments),
    }
}
