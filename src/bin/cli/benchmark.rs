//! `fsl benchmark`: train several configurations on one dataset and compare them on the same
//! evaluation episodes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use fsl::omniglot::{CharacterSet, Protocol, RunConfig, TrainingData, evaluate_protocols};
use fsl_models::{EvaluationReport, FewShotNetwork};

use super::{create_folder, csv_field, write_text};

#[derive(Debug, Args)]
pub struct BenchmarkArgs {
    /// Data shared by every model: an Omniglot archive or folder, a Parquet table or an image
    /// folder with a `split` column (see `fsl data split`). It replaces each file's data.path.
    #[arg(long)]
    data: PathBuf,

    /// Split whose classes train every model.
    #[arg(long, default_value = "train")]
    train_split: String,

    /// Split whose classes, unseen in training, evaluate every model.
    #[arg(long, default_value = "test")]
    eval_split: String,

    /// Training configuration files (TOML or JSON, as for `fsl train --config`), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    models: Vec<PathBuf>,

    /// Classes per evaluation episode.
    #[arg(long, default_value_t = 5)]
    n_way: usize,

    /// Support images per class in evaluation episodes.
    #[arg(long, default_value_t = 1)]
    k_shot: usize,

    /// Query images per class in evaluation episodes.
    #[arg(long, default_value_t = 15)]
    q_query: usize,

    /// Evaluation episodes, the same for every model.
    #[arg(long, default_value_t = 600)]
    episodes: usize,

    /// Seed of the evaluation episodes.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Folder for one run folder per model (named after its file) and benchmark.md and
    /// benchmark.csv with the results.
    #[arg(long)]
    output_dir: PathBuf,
}

/// One model's row of the results.
struct Row {
    name: String,
    encoder: String,
    parameters: usize,
    report: EvaluationReport,
    train_seconds: f64,
}

/// A configuration ready to train: its file name, configuration and image side.
struct Candidate {
    name: String,
    config: RunConfig,
    image_size: u32,
}

pub fn run(arguments: BenchmarkArgs) -> fsl::Result<()> {
    let protocol = Protocol {
        n_way: arguments.n_way,
        k_shot: arguments.k_shot,
        q_query: arguments.q_query,
        within_alphabet: false,
    };
    protocol.validate()?;
    if arguments.episodes == 0 {
        return Err(fsl::Error::InvalidSetting {
            name: "episodes",
            value: "0".to_owned(),
            reason: "evaluate at least one episode".to_owned(),
        });
    }

    // Every configuration is read and checked before the first model trains, so a mistake in
    // the last file does not cost the training of the others.
    let candidates = read_candidates(&arguments.models)?;
    let train_set = CharacterSet::open(&arguments.data, Some(&arguments.train_split))?;
    let eval_set = CharacterSet::open(&arguments.data, Some(&arguments.eval_split))?;
    let mut prepared = Vec::with_capacity(candidates.len());
    for candidate in &candidates {
        let augmenter = candidate.config.augmenter()?;
        let settings = candidate.config.train_settings();
        let training = TrainingData::prepare(
            &train_set,
            &settings,
            candidate.config.model.seed,
            candidate.image_size,
            augmenter,
        )?;
        prepared.push(training);
    }

    create_folder(&arguments.output_dir)?;
    let mut rows = Vec::with_capacity(candidates.len());
    for (candidate, training) in candidates.iter().zip(&prepared) {
        tracing::info!(model = candidate.name, "training");
        let network = FewShotNetwork::new(candidate.config.model.clone())?;
        let started = Instant::now();
        let history = training.train(&network)?;
        let train_seconds = started.elapsed().as_secs_f64();

        let run = arguments.output_dir.join(&candidate.name);
        create_folder(&run)?;
        write_text(&run.join("config.toml"), &candidate.config.to_toml()?)?;
        network.save(&run.join("model"))?;
        history.write_csv(&run.join("history.csv"))?;

        // The same seed and evaluation set give every model the same episodes.
        let results = evaluate_protocols(
            &network,
            &eval_set,
            std::slice::from_ref(&protocol),
            arguments.episodes,
            arguments.seed,
            candidate.image_size,
        )?;
        let report = results[0].1;
        rows.push(Row {
            name: candidate.name.clone(),
            encoder: encoder_kind(&candidate.config),
            parameters: network.params().trainable().iter().map(|var| var.elem_count()).sum(),
            report,
            train_seconds,
        });
    }

    let table = markdown(&rows, &protocol, &arguments);
    write_text(&arguments.output_dir.join("benchmark.md"), &table)?;
    write_text(&arguments.output_dir.join("benchmark.csv"), &csv(&rows))?;
    println!("{table}");
    Ok(())
}

fn read_candidates(paths: &[PathBuf]) -> fsl::Result<Vec<Candidate>> {
    let mut candidates: Vec<Candidate> = Vec::with_capacity(paths.len());
    for path in paths {
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        if candidates.iter().any(|candidate| candidate.name == name) {
            return Err(fsl::Error::InvalidSetting {
                name: "models",
                value: path.display().to_string(),
                reason: format!("two files are named {name}; rename one, since each names its run folder"),
            });
        }

        let config = RunConfig::read(path)?;
        let image_size = config.image_size()?;
        candidates.push(Candidate {
            name,
            config,
            image_size,
        });
    }
    Ok(candidates)
}

/// Returns the serde name of the encoder, such as `conv4`.
fn encoder_kind(config: &RunConfig) -> String {
    serde_json::to_value(&config.model.encoder)
        .ok()
        .and_then(|value| value.get("kind").and_then(|kind| kind.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

fn markdown(rows: &[Row], protocol: &Protocol, arguments: &BenchmarkArgs) -> String {
    let mut table = format!(
        "{}, {} episodes on the `{}` split of {} (models trained on `{}`):\n\n",
        protocol.name(),
        arguments.episodes,
        arguments.eval_split,
        arguments.data.display(),
        arguments.train_split
    );
    table.push_str("| model | encoder | parameters | accuracy | 95% CI | training time |\n");
    table.push_str("|---|---|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.2}% | ± {:.2}% | {:.1} s |",
            row.name,
            row.encoder,
            row.parameters,
            100.0 * row.report.mean_accuracy,
            100.0 * row.report.confidence_95,
            row.train_seconds
        );
    }
    table
}

fn csv(rows: &[Row]) -> String {
    let mut csv = String::from("model,encoder,parameters,accuracy,confidence_95,train_seconds\n");
    for row in rows {
        let _ = writeln!(
            csv,
            "{},{},{},{:.6},{:.6},{:.3}",
            csv_field(&row.name),
            row.encoder,
            row.parameters,
            row.report.mean_accuracy,
            row.report.confidence_95,
            row.train_seconds
        );
    }
    csv
}
