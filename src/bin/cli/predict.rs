//! `fsl predict`: label query images with a saved model against labelled support images.

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use clap::Args;
use fsl_datasets::decode::{decode_luma8_named, gray_to_f32};
use fsl_layers::{SquaredL2, SupportSetClassifier};
use fsl_models::PrototypicalNetwork;

/// Images embedded per encoder call, so that a large support folder needs bounded memory.
const EMBED_BATCH: usize = 256;

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
    let (network, image_size) = super::load_model(&arguments.run, "predict")?;
    let invert = !arguments.no_invert;

    // The support set: every image of the folder, embedded in evaluation mode.
    let table = fsl_datasets::image_folder::load(&arguments.support)?;
    let labels = table.strings("label")?;
    let paths = table.strings("path")?;
    let mut support_images = Vec::with_capacity(table.num_rows());
    for (row, path) in paths.iter().enumerate() {
        let bytes = table.image_bytes(row)?;
        support_images.push(gray_to_f32(
            &decode_luma8_named(&bytes, path)?,
            image_size,
            image_size,
            invert,
        ));
    }
    let support = embed(&network, &support_images, image_size)?;

    // A prototypical network compares a query with each label's prototype, the mean of its
    // support embeddings, so the classifier stores one prototype per label.
    let (codes, names) = fsl_layers::encode_labels(&labels);
    let prototypes = fsl_layers::prototypes(&support, &codes)?;
    let prototype_labels: Vec<String> = prototypes
        .classes
        .iter()
        .map(|&code| names[code as usize].clone())
        .collect();
    let mut classifier = SupportSetClassifier::new(SquaredL2);
    classifier.set_support(&prototypes.embeddings, &prototype_labels)?;
    tracing::info!(
        images = labels.len(),
        labels = classifier.classes().len(),
        "support set embedded"
    );
    if classifier.classes().len() == 1 {
        tracing::warn!(
            support = %arguments.support.display(),
            "the support set has one label, so every query gets it; add a folder per label"
        );
    }

    // The queries, read and decoded before any output so that a bad file fails the command.
    let mut query_images = Vec::with_capacity(arguments.query.len());
    for path in &arguments.query {
        let bytes = std::fs::read(path).map_err(|source| fsl::Error::Read {
            path: path.clone(),
            source,
        })?;
        let name = path.display().to_string();
        query_images.push(gray_to_f32(
            &decode_luma8_named(&bytes, &name)?,
            image_size,
            image_size,
            invert,
        ));
    }
    let predictions = classifier.predict(&embed(&network, &query_images, image_size)?)?;

    // Scores are squared distances to each label's prototype: lower is closer.
    println!("query\tlabel\tsquared distance to prototype");
    for (path, prediction) in arguments.query.iter().zip(&predictions) {
        let mut line = format!("{}\t{}\t{:.4}", path.display(), prediction.label, prediction.score);
        if arguments.all_scores {
            for (label, score) in classifier.classes().iter().zip(&prediction.scores) {
                line.push_str(&format!("\t{label}={score:.4}"));
            }
        }
        println!("{line}");
    }
    Ok(())
}

/// Embeds images given as `side x side` pixel vectors, in evaluation mode and in batches.
fn embed(network: &PrototypicalNetwork, images: &[Vec<f32>], side: u32) -> fsl::Result<Tensor> {
    let side = side as usize;
    let mut embeddings = Vec::with_capacity(images.len().div_ceil(EMBED_BATCH));
    for batch in images.chunks(EMBED_BATCH) {
        let pixels: Vec<f32> = batch.iter().flatten().copied().collect();
        let tensor = Tensor::from_vec(pixels, (batch.len(), 1, side, side), &Device::Cpu)?;
        embeddings.push(network.embed(&tensor, false)?);
    }
    Ok(Tensor::cat(&embeddings, 0)?)
}
