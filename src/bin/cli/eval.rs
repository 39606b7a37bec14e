//! `fsl eval`: evaluate a saved model.

use std::path::PathBuf;

use clap::Args;
use fsl::models::ConfusionMatrix;
use fsl::omniglot::{
    CharacterSet, PredictionRow, Protocol, evaluate_protocol_predictions, evaluate_protocols, score_one_shot_runs,
};

use super::{csv_field, write_text};

/// Classes listed by `--confusion`, lowest accuracy first.
const HARDEST_CLASSES: usize = 5;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run folder of `fsl train` or `fsl omniglot` (the model is in its `model/`), or a model
    /// folder with model.safetensors and config.json.
    #[arg(value_name = "RUN", required_unless_present = "model")]
    run: Option<PathBuf>,

    /// The run or model folder, given as an option instead of RUN.
    #[arg(long, conflicts_with = "run")]
    model: Option<PathBuf>,

    /// Data to sample episodes from: an Omniglot archive (.zip) or extracted folder, a Parquet
    /// table or an image folder DIR/<class>/<image>; required unless --one-shot-runs is given.
    #[arg(long, required_unless_present = "one_shot_runs")]
    data: Option<PathBuf>,

    /// Evaluate only on the rows whose `split` column has this value (see `fsl data split`).
    #[arg(long)]
    split: Option<String>,

    /// Evaluate only on these alphabets (comma-separated), for example the ones the model was
    /// not trained on.
    #[arg(long, value_delimiter = ',')]
    alphabets: Vec<String>,

    /// Classes per episode.
    #[arg(long, default_value_t = 5)]
    n_way: usize,

    /// Support images per class.
    #[arg(long, default_value_t = 1)]
    k_shot: usize,

    /// Query images per class.
    #[arg(long, default_value_t = 15)]
    q_query: usize,

    /// Leave out the classes with fewer images than k-shot + q-query, instead of failing.
    #[arg(long)]
    skip_small_classes: bool,

    /// Draw all classes of an episode from one alphabet.
    #[arg(long)]
    within_alphabet: bool,

    /// Number of episodes.
    #[arg(long, default_value_t = 1000)]
    episodes: usize,

    /// Seed of the episodes.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Official one-shot runs archive (folder or zip of run01..run20) to score.
    #[arg(long)]
    one_shot_runs: Option<PathBuf>,

    /// Write every query's prediction to this CSV file: episode, row and path of the query,
    /// its class, the predicted class and the head's score of the predicted class. Higher
    /// scores are closer, so a prototypical network's score is the negative squared distance.
    #[arg(long, value_name = "FILE", requires = "data")]
    predictions: Option<PathBuf>,

    /// Write the confusion matrix to this CSV file as `class,predicted,count` rows, and print
    /// the classes with the lowest accuracy.
    #[arg(long, value_name = "FILE", requires = "data")]
    confusion: Option<PathBuf>,
}

pub fn run(arguments: EvalArgs) -> fsl::Result<()> {
    let run = arguments
        .run
        .as_ref()
        .or(arguments.model.as_ref())
        .ok_or_else(|| fsl::Error::InvalidSetting {
            name: "run",
            value: String::new(),
            reason: "give the run folder to evaluate".to_owned(),
        })?;
    let (network, image_size) = fsl::omniglot::load_run(run)?;

    if let Some(data) = &arguments.data {
        let protocol = Protocol {
            n_way: arguments.n_way,
            k_shot: arguments.k_shot,
            q_query: arguments.q_query,
            within_alphabet: arguments.within_alphabet,
        };
        protocol.validate()?;
        let mut set =
            CharacterSet::open(data, arguments.split.as_deref())?.with_skip_small_classes(arguments.skip_small_classes);
        if !set.has_alphabets() && (arguments.within_alphabet || !arguments.alphabets.is_empty()) {
            return Err(fsl::Error::InvalidSetting {
                name: "alphabets",
                value: arguments.alphabets.join(","),
                reason: format!(
                    "{} has no `alphabet` column, so --alphabets and --within-alphabet do not apply",
                    data.display()
                ),
            });
        }
        if !arguments.alphabets.is_empty() {
            let available = set.alphabet_names();
            if let Some(unknown) = arguments.alphabets.iter().find(|a| !available.contains(a)) {
                return Err(fsl::Error::InvalidSetting {
                    name: "alphabets",
                    value: unknown.clone(),
                    reason: format!("not in {}; available: {}", data.display(), available.join(", ")),
                });
            }
            set = set.filter_alphabets(|alphabet| arguments.alphabets.iter().any(|a| a == alphabet))?;
        }
        // An output file that cannot be written fails before the evaluation, not after it.
        for (name, path) in [
            ("predictions", &arguments.predictions),
            ("confusion", &arguments.confusion),
        ] {
            let Some(path) = path else { continue };
            write_text(path, "").map_err(|error| fsl::Error::InvalidSetting {
                name,
                value: path.display().to_string(),
                reason: format!("{error}; give a file in an existing, writable folder"),
            })?;
        }
        if arguments.predictions.is_none() && arguments.confusion.is_none() {
            for (protocol, report) in evaluate_protocols(
                &network,
                &set,
                &[protocol],
                arguments.episodes,
                arguments.seed,
                image_size,
            )? {
                println!("{}: {report}", protocol.name());
            }
        } else {
            let (report, predictions) = evaluate_protocol_predictions(
                &network,
                &set,
                &protocol,
                arguments.episodes,
                arguments.seed,
                image_size,
            )?;
            println!("{}: {report}", protocol.name());
            if let Some(path) = &arguments.predictions {
                write_text(path, &predictions_csv(&set, &predictions)?)?;
                tracing::info!(path = %path.display(), rows = predictions.len(), "predictions written");
            }
            if let Some(path) = &arguments.confusion {
                let mut matrix = ConfusionMatrix::default();
                for prediction in &predictions {
                    matrix.add(prediction.class.clone(), prediction.predicted.clone());
                }
                write_text(path, &matrix.to_csv())?;
                tracing::info!(path = %path.display(), "confusion matrix written");
                print_hardest_classes(&matrix);
            }
        }
    }
    if let Some(runs) = &arguments.one_shot_runs {
        let report = score_one_shot_runs(&network, runs, image_size)?;
        for (run, error) in &report.runs {
            println!("{run}: {:.1}% error", 100.0 * error);
        }
        println!(
            "mean error over {} runs: {:.2}%",
            report.runs.len(),
            100.0 * report.mean_error
        );
    }
    Ok(())
}

/// Formats predictions as CSV, with the path of each query when the table has one.
fn predictions_csv(set: &CharacterSet, predictions: &[PredictionRow]) -> fsl::Result<String> {
    let paths = set.table.strings(fsl::datasets::table::PATH).ok();
    let mut csv = String::from("episode,row,path,class,predicted,score\n");
    for prediction in predictions {
        let path = paths.as_ref().map_or("", |paths| paths[prediction.row].as_str());
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            prediction.episode,
            prediction.row,
            csv_field(path),
            csv_field(&prediction.class),
            csv_field(&prediction.predicted),
            prediction.score
        ));
    }
    Ok(csv)
}

fn print_hardest_classes(matrix: &ConfusionMatrix<String>) {
    let mut classes = matrix.per_class();
    classes.sort_by(|a, b| {
        a.accuracy()
            .total_cmp(&b.accuracy())
            .then_with(|| a.class.cmp(&b.class))
    });
    println!("classes with the lowest accuracy:");
    for class in classes.iter().take(HARDEST_CLASSES) {
        println!(
            "  {}: {:.1}% of {} queries",
            class.class,
            100.0 * class.accuracy(),
            class.queries
        );
    }
}
