//! `fsl eval`: evaluate a saved model.

use std::path::PathBuf;

use clap::Args;
use fsl::omniglot::{CharacterSet, Protocol, evaluate_protocols, score_one_shot_runs};

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
