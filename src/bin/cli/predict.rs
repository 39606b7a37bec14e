//! `fsl predict`: label query images with a saved model against labelled support images.

use std::path::PathBuf;

use clap::Args;
use fsl::omniglot::FewShotClassifier;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Folder of a saved model (model.safetensors and config.json), or the output folder of
    /// `fsl train` or `fsl omniglot` that contains it as `model/`.
    run: PathBuf,

    /// Support images laid out as DIR/<label>/<image> (PNG or JPEG).
    #[arg(long)]
    support: PathBuf,

    /// Query image files to label.
    #[arg(long, num_args = 1.., required = true)]
    query: Vec<PathBuf>,

    /// Print the score of every label, not only the best one.
    #[arg(long)]
    all_scores: bool,

    /// Use pixel values as they are. By default they are inverted (ink 1, background 0), the
    /// convention the Omniglot training of `fsl omniglot` and `fsl train` uses.
    #[arg(long)]
    no_invert: bool,
}

pub fn run(arguments: PredictArgs) -> fsl::Result<()> {
    let mut classifier = FewShotClassifier::load(&arguments.run, !arguments.no_invert)?;

    // The support set: every image of the folder, embedded in evaluation mode.
    let table = fsl_datasets::image_folder::load(&arguments.support)?;
    classifier.set_support_table(&table)?;
    tracing::info!(
        images = table.num_rows(),
        labels = classifier.labels().len(),
        "support set embedded"
    );
    if classifier.labels().len() == 1 {
        tracing::warn!(
            support = %arguments.support.display(),
            "the support set has one label, so every query gets it; add a folder per label"
        );
    }

    // The queries, read before any output so that a bad file fails the command.
    let mut queries = Vec::with_capacity(arguments.query.len());
    for path in &arguments.query {
        let bytes = std::fs::read(path).map_err(|source| fsl::Error::Read {
            path: path.clone(),
            source,
        })?;
        queries.push((path.display().to_string(), bytes));
    }
    let predictions = classifier.predict_bytes(&queries)?;

    // The score's name says what it is, for example a squared distance to each label's
    // prototype, where lower is closer.
    let score_name = classifier.score_name();
    let mut header = format!("query\tlabel\t{score_name}");
    if arguments.all_scores {
        header.push_str(&format!("\tscores (label={score_name})"));
    }
    println!("{header}");
    for (path, prediction) in arguments.query.iter().zip(&predictions) {
        let mut line = format!("{}\t{}\t{:.4}", path.display(), prediction.label, prediction.score);
        if arguments.all_scores {
            for (label, score) in classifier.labels().iter().zip(&prediction.scores) {
                line.push_str(&format!("\t{label}={score:.4}"));
            }
        }
        println!("{line}");
    }
    Ok(())
}
