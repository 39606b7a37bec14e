//! Serving a prototypical network with a support set: label new drawings by the nearest
//! prototype, then swap the support set for other classes without reloading the encoder.
//!
//! Without `--model`, the recipe first trains a Conv-4 prototypical network on
//! `images_background_small1`: 300 episodes of 20-way 1-shot 5-query with the Koch et al.
//! affine distortion, and Adam at 1e-3 halved after 150 episodes. With `--model DIR` it loads a
//! saved model instead: a run folder of `fsl train` or `fsl omniglot`, or a model folder such as
//! the `model/` that the `prototypical_networks` example writes.
//!
//! It then writes two labelled image folders into a temporary folder, from alphabets of
//! `images_background_small2` that the training archive lacks. The first contains 20 characters of
//! `Japanese_(katakana)`, the second 20 of `Sanskrit`. Each character's first drawing is its
//! support image and its other 19 drawings are queries. `FewShotClassifier` takes the first
//! support set from the image folder (`set_support_table`) and labels its queries with
//! `predict_bytes`. It then swaps to the second support set, given as bytes
//! (`set_support_bytes`), and labels that set's queries. A query's label is its nearest
//! prototype, and its score is the squared Euclidean distance to that prototype.
//!
//! ```sh
//! cargo run --release --example serving -- --data-dir ../shared/data/omniglot
//! cargo run --release --example serving -- --model runs/examples/prototypical_networks/prototypical/model
//! # The reduced setting CI runs: 10 training episodes, 5 characters and 3 queries per set.
//! FSL_EXAMPLE_QUICK=1 cargo run --example serving
//! ```
//!
//! Measured at the full setting on 2026-12-05 (working tree on commit 41a040a), on 2 cores shared
//! with other builds and tests (load average 11), seed 0, release build already compiled: 300
//! training episodes, then 20-way 1-shot accuracy of 65.53% (249 of 380 queries) on
//! `Japanese_(katakana)` and 50.53% (192 of 380) on `Sanskrit`, 135 s in all. Each figure comes
//! from one support set of one drawing per character, so it varies more than an average over
//! episodes would.
//! Serving the model of the `prototypical_networks` example (500 training episodes) with
//! `--model` gave 63.95% (243 of 380) and 53.16% (202 of 380) in 4 s.

#[path = "common/recipe.rs"]
mod recipe;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use fsl::augment::Affine;
use fsl::datasets::image_folder;
use fsl::models::FewShotNetwork;
use fsl::omniglot::{CharacterSet, FewShotClassifier, TrainSettings, model_config, train_with_augmenter};
use recipe::{CommonArgs, EVAL_ARCHIVE, TRAIN_ARCHIVE};

// The same allocator as the `fsl` binary: it keeps freed pages for the next training step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Side of the images fed to Conv-4 when the recipe trains its own model, in pixels.
const IMAGE_SIZE: u32 = 28;

/// Labels Omniglot drawings against two support sets, one after the other.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,

    /// A saved model (run folder of `fsl train` or `fsl omniglot`, or a folder with
    /// model.safetensors and config.json) to serve instead of training one.
    #[arg(long)]
    model: Option<PathBuf>,

    /// Seed of the training run when no model is given.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Sizes of the full and the quick setting.
struct Setting {
    train_episodes: usize,
    characters_per_set: usize,
    queries_per_character: usize,
}

impl Setting {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                train_episodes: 10,
                characters_per_set: 5,
                queries_per_character: 3,
            }
        } else {
            // Every character has 20 drawings: one is the support image, the rest are queries.
            Self {
                train_episodes: 300,
                characters_per_set: 20,
                queries_per_character: 19,
            }
        }
    }
}

/// An image file's name and its encoded bytes, as `FewShotClassifier` takes them.
type NamedImage = (String, Vec<u8>);

fn main() -> ExitCode {
    recipe::init_tracing();
    recipe::exit_code(run(Args::parse()))
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let setting = Setting::new(args.common.quick);
    let eval_path = args.common.archive(EVAL_ARCHIVE)?;
    let workspace = tempfile::tempdir()?;
    let started = Instant::now();

    // The encoder is the only part of the classifier that training changes.
    let model_dir = match &args.model {
        Some(dir) => dir.clone(),
        None => {
            let dir = workspace.path().join("model");
            train_model(&args, &setting, &dir)?;
            dir
        }
    };
    // The classifier scores with the head the model was trained with; for this prototypical
    // network, the squared distance to each label's prototype.
    let mut classifier = FewShotClassifier::load(&model_dir, true)?;
    println!(
        "serving {} ({}x{} images)",
        recipe::display_path(&model_dir),
        classifier.image_size(),
        classifier.image_size()
    );

    let eval_set = CharacterSet::load(&eval_path)?;
    let mut summaries = Vec::new();
    for (step, alphabet) in ["Japanese_(katakana)", "Sanskrit"].into_iter().enumerate() {
        let folder = workspace.path().join(alphabet);
        write_support_and_queries(&eval_set, alphabet, &setting, &folder)?;

        // The first support set comes from an image folder, the second from bytes in memory:
        // the two ways a service receives one. Either call replaces the previous set and keeps
        // the encoder.
        if step == 0 {
            classifier.set_support_table(&image_folder::load(&folder.join("support"))?)?;
        } else {
            let (images, labels) = read_labelled_images(&folder.join("support"))?;
            classifier.set_support_bytes(&images, &labels)?;
        }
        println!(
            "\nsupport set {}: {} labels ({} ... {})",
            step + 1,
            classifier.labels().len(),
            classifier.labels()[0],
            classifier.labels()[classifier.labels().len() - 1]
        );

        let (queries, truths) = read_labelled_images(&folder.join("query"))?;
        let predictions = classifier.predict_bytes(&queries)?;
        for ((name, _), prediction) in queries.iter().zip(&predictions).take(3) {
            println!(
                "  {name}: {} (squared distance {:.1})",
                prediction.label, prediction.score
            );
        }
        let correct = predictions
            .iter()
            .zip(&truths)
            .filter(|(prediction, truth)| &prediction.label == *truth)
            .count();
        let accuracy = correct as f64 / predictions.len() as f64;
        println!(
            "  {alphabet}: {correct} of {} queries labelled correctly ({:.2}%)",
            predictions.len(),
            100.0 * accuracy
        );
        summaries.push((alphabet, classifier.labels().len(), correct, predictions.len()));
    }

    println!();
    for (alphabet, labels, correct, queries) in summaries {
        println!(
            "{alphabet}: {labels}-way 1-shot, accuracy {:.2}% ({correct}/{queries})",
            100.0 * correct as f64 / queries as f64
        );
    }
    println!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Trains a Conv-4 prototypical network on the training archive and saves it to `dir`.
fn train_model(args: &Args, setting: &Setting, dir: &Path) -> Result<(), Box<dyn Error>> {
    let train_set = CharacterSet::load(&args.common.archive(TRAIN_ARCHIVE)?)?;
    let network = FewShotNetwork::new(model_config(args.seed, IMAGE_SIZE))?;
    let settings = TrainSettings {
        episodes: setting.train_episodes,
        lr_decay_every: setting.train_episodes / 2,
        validate_every: 0,
        ..TrainSettings::default()
    };
    let history = train_with_augmenter(
        &network,
        &train_set,
        &settings,
        args.seed,
        IMAGE_SIZE,
        Some(Arc::new(Affine::omniglot())),
    )?;
    if let Some(last) = history.records.last() {
        println!(
            "trained {} episodes: training loss {:.4}, training accuracy {:.2}%",
            last.episode,
            last.train_loss,
            100.0 * last.train_accuracy
        );
    }
    network.save(dir)?;
    Ok(())
}

/// Writes `folder/support/<label>/<drawing>.png` (the first drawing of each character) and
/// `folder/query/<label>/<drawing>.png` (the next drawings) for the first characters of
/// `alphabet`, in sorted order. The label is `<alphabet>-<character>`.
fn write_support_and_queries(
    set: &CharacterSet,
    alphabet: &str,
    setting: &Setting,
    folder: &Path,
) -> Result<(), Box<dyn Error>> {
    let alphabet_set = set.filter_alphabets(|name| name == alphabet)?;
    let mut characters = alphabet_set.classes.clone();
    characters.sort();
    characters.dedup();
    if characters.len() < setting.characters_per_set {
        return Err(format!(
            "{alphabet} has {} characters in {EVAL_ARCHIVE}, but the recipe needs {}",
            characters.len(),
            setting.characters_per_set
        )
        .into());
    }

    let paths = alphabet_set.table.strings(fsl::datasets::table::PATH)?;
    for character in &characters[..setting.characters_per_set] {
        // Rows are sorted by path, so the drawings of a character come in a fixed order.
        let rows: Vec<usize> = (0..alphabet_set.classes.len())
            .filter(|&row| &alphabet_set.classes[row] == character)
            .collect();
        let label = character.replace('/', "-");
        for (position, &row) in rows.iter().take(1 + setting.queries_per_character).enumerate() {
            let role = if position == 0 { "support" } else { "query" };
            let file_name = Path::new(&paths[row])
                .file_name()
                .ok_or("Omniglot entry without a file name")?;
            let target = folder.join(role).join(&label).join(file_name);
            std::fs::create_dir_all(target.parent().ok_or("target without a parent folder")?)?;
            std::fs::write(&target, alphabet_set.table.image_bytes(row)?)?;
        }
    }
    Ok(())
}

/// Reads `folder/<label>/<image>` into named images and their labels, as a service would
/// receive them.
fn read_labelled_images(folder: &Path) -> Result<(Vec<NamedImage>, Vec<String>), Box<dyn Error>> {
    let table = image_folder::load(folder)?;
    let labels = table.strings(fsl::datasets::table::LABEL)?;
    let paths = table.strings(fsl::datasets::table::PATH)?;
    let mut images = Vec::with_capacity(labels.len());
    for (row, path) in paths.into_iter().enumerate() {
        images.push((path, table.image_bytes(row)?));
    }
    Ok((images, labels))
}
