//! Argument parsing and dispatch of the `fsl` command line.

mod benchmark;
mod data;
mod eval;
mod omniglot;
mod predict;
mod train;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use clap::{Args, Parser, Subcommand};
use fsl::omniglot::ArchiveSource;
use fsl_datasets::omniglot::OMNIGLOT_BASE_URL;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Few-shot learning on candle: train, evaluate and serve prototypical, matching, relation and
/// siamese networks.
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
    /// Build Parquet tables from image collections, describe them, and assign splits.
    Data(data::DataArgs),
    /// Train a network on an Omniglot archive or folder, a Parquet table or an image folder, and
    /// save it. Flags train a prototypical network; --config trains any encoder and head.
    Train(train::TrainArgs),
    /// Evaluate a saved model episodically on any data `fsl train` reads, or on the official
    /// one-shot runs.
    Eval(eval::EvalArgs),
    /// Train several configurations on one dataset and compare them on the same evaluation
    /// episodes: accuracy with 95% CI, training time and parameter count.
    Benchmark(benchmark::BenchmarkArgs),
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

/// Creates `path` and its parents, naming it in the error.
pub fn create_folder(path: &Path) -> fsl::Result<()> {
    std::fs::create_dir_all(path).map_err(|source| fsl::Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Quotes a CSV field that contains a comma, quote or line break, doubling its quotes
/// (RFC 4180).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Writes `text` to `path`, naming it in the error.
pub fn write_text(path: &Path, text: &str) -> fsl::Result<()> {
    std::fs::write(path, text).map_err(|source| fsl::Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The log file of a run, opened once the command has created its output folder.
///
/// Log lines go to standard error from the start, and also to this file once it is open.
#[derive(Clone, Default)]
pub struct LogFile {
    file: Arc<Mutex<Option<File>>>,
}

impl LogFile {
    /// Starts copying log lines to `path`, replacing an earlier file of that name.
    pub fn open(&self, path: &Path) -> fsl::Result<()> {
        let file = File::create(path).map_err(|source| fsl::Error::Io {
            path: path.to_owned(),
            source,
        })?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
        Ok(())
    }
}

impl Write for LogFile {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        match self.file.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(file) => file.write(buffer),
            None => Ok(buffer.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Sets up logging to standard error at info level, or lower with `-v`, and to the returned
/// log file once a command opens it.
pub fn init_logging(verbose: u8) -> LogFile {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let terminal = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .with_target(false)
        .with_filter(filter());

    let log_file = LogFile::default();
    let writer = log_file.clone();
    let file = tracing_subscriber::fmt::layer()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter());

    tracing_subscriber::registry().with(terminal).with(file).init();
    log_file
}

/// Runs the chosen command.
pub fn run(cli: Cli, log: &LogFile) -> fsl::Result<()> {
    match cli.command {
        Command::Omniglot(arguments) => omniglot::run(arguments),
        Command::Data(arguments) => data::run(arguments),
        Command::Train(arguments) => train::run(arguments, log),
        Command::Eval(arguments) => eval::run(arguments),
        Command::Predict(arguments) => predict::run(arguments),
        Command::Benchmark(arguments) => benchmark::run(arguments),
    }
}
