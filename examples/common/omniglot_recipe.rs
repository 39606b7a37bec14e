//! Data, loss checks and evaluation shared by the siamese and Gram-matrix recipes: training on
//! `images_background_small1.zip`, evaluation on the alphabets of `images_background_small2.zip`
//! that training never saw. The command line comes from `recipe.rs`, which each recipe declares
//! next to this module.

use std::error::Error;

use candle_core::Tensor;
use fsl::models::{EvaluationReport, FewShotNetwork};
use fsl::omniglot::{CharacterSet, Protocol, evaluate_protocols};
use fsl::sequences::LoaderConfig;

use super::recipe::{CommonArgs, EVAL_ARCHIVE, TRAIN_ARCHIVE};

/// Seed of the evaluation episodes, the same before and after training so that both scores
/// come from identical episodes.
const EVAL_SEED: u64 = 2024;

/// The training characters and the characters of unseen alphabets to evaluate on.
pub struct OmniglotSplit {
    /// Every character of the training archive; the class is `alphabet/character`.
    pub train: CharacterSet,
    /// The characters of the evaluation archive whose alphabet is absent from `train`.
    pub eval: CharacterSet,
}

/// Loads both archives and drops from the evaluation set the alphabets it shares with training
/// (the two small archives both contain Greek and Latin).
pub fn load_split(args: &CommonArgs) -> Result<OmniglotSplit, Box<dyn Error>> {
    let train = CharacterSet::load(&args.archive(TRAIN_ARCHIVE)?)?;
    let train_alphabets = train.alphabet_names();
    let eval = CharacterSet::load(&args.archive(EVAL_ARCHIVE)?)?
        .filter_alphabets(|alphabet| !train_alphabets.iter().any(|name| name == alphabet))?;
    if eval.classes.is_empty() {
        return Err(format!(
            "{EVAL_ARCHIVE} has no alphabet that {TRAIN_ARCHIVE} lacks, so nothing is left to evaluate on"
        )
        .into());
    }

    // The quick setting embeds 400 evaluation images instead of 2120, the evaluation's main cost.
    let eval = if args.quick {
        first_characters(&eval, QUICK_EVAL_CHARACTERS)?
    } else {
        eval
    };

    tracing::info!(
        train_alphabets = ?train_alphabets,
        train_characters = train.class_count(),
        eval_alphabets = ?eval.alphabet_names(),
        eval_characters = eval.class_count(),
        "Omniglot loaded"
    );
    Ok(OmniglotSplit { train, eval })
}

/// Characters kept for evaluation in the quick setting, enough for a 20-way episode.
const QUICK_EVAL_CHARACTERS: usize = 20;

/// Keeps the first `count` characters, in sorted order, of the alphabet with the most characters.
fn first_characters(set: &CharacterSet, count: usize) -> Result<CharacterSet, Box<dyn Error>> {
    let (alphabet, size) = set
        .alphabet_sizes()
        .into_iter()
        .max_by_key(|(_, size)| *size)
        .ok_or("the evaluation set has no alphabet")?;
    if size < count {
        return Err(
            format!("the largest evaluation alphabet, {alphabet}, has {size} characters; {count} are needed").into(),
        );
    }

    let mut characters: Vec<&String> = (0..set.classes.len())
        .filter(|&row| set.alphabets[row] == alphabet)
        .map(|row| &set.classes[row])
        .collect();
    characters.sort();
    characters.dedup();
    let kept_characters = &characters[..count];
    let rows: Vec<usize> = (0..set.classes.len())
        .filter(|&row| kept_characters.contains(&&set.classes[row]))
        .collect();
    Ok(set.take(&rows)?)
}

/// Tensors of `image_size` pixels a side with ink as 1, without augmentation.
pub fn loader_config(image_size: u32, seed: u64) -> LoaderConfig {
    LoaderConfig {
        image_size,
        invert: true,
        seed,
        augmenter: None,
        query_augmenter: None,
    }
}

/// Returns the evaluation protocol of `n_way` classes with `k_shot` support and 15 query images each, from
/// one alphabet when `within_alphabet` is set.
pub fn protocol(n_way: usize, k_shot: usize, within_alphabet: bool) -> Protocol {
    Protocol {
        n_way,
        k_shot,
        q_query: 15,
        within_alphabet,
    }
}

/// Scores `network` with its own head on `episodes` episodes of every protocol, drawn from the
/// evaluation alphabets. Every image is embedded once in evaluation mode.
pub fn evaluate(
    network: &FewShotNetwork,
    split: &OmniglotSplit,
    protocols: &[Protocol],
    episodes: usize,
    image_size: u32,
) -> Result<Vec<(Protocol, EvaluationReport)>, Box<dyn Error>> {
    Ok(evaluate_protocols(
        network,
        &split.eval,
        protocols,
        episodes,
        EVAL_SEED,
        image_size,
    )?)
}

/// Returns the value of a scalar loss, or an error when it is NaN or infinite, which ends the
/// program with a failure exit code.
pub fn finite_loss(loss: &Tensor, step: usize) -> Result<f32, Box<dyn Error>> {
    let value = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
    if !value.is_finite() {
        return Err(format!("training loss is {value} at step {step}; lower the learning rate").into());
    }
    Ok(value)
}

/// Mean training loss over a window of steps, logged when the window is full.
pub struct LossWindow {
    size: usize,
    sum: f64,
    count: usize,
    last_mean: f64,
}

impl LossWindow {
    /// Averages over `size` steps.
    pub fn new(size: usize) -> Self {
        Self {
            size: size.max(1),
            sum: 0.0,
            count: 0,
            last_mean: f64::NAN,
        }
    }

    /// Adds the loss of step `step` (counted from 1) and logs the mean when the window is full or
    /// `step` is the last of `steps`.
    pub fn push(&mut self, step: usize, steps: usize, loss: f32) {
        self.sum += f64::from(loss);
        self.count += 1;
        if self.count == self.size || step == steps {
            self.last_mean = self.sum / self.count as f64;
            tracing::info!(step, steps, mean_loss = format!("{:.4}", self.last_mean), "training");
            self.sum = 0.0;
            self.count = 0;
        }
    }

    /// Returns the mean loss of the last logged window, NaN before the first.
    pub fn last_mean(&self) -> f64 {
        self.last_mean
    }
}

/// Prints the accuracy of each protocol before and after training.
pub fn print_comparison(untrained: &[(Protocol, EvaluationReport)], trained: &[(Protocol, EvaluationReport)]) {
    println!("{:<32} {:>22} {:>22}", "evaluation alphabets", "untrained", "trained");
    for ((protocol, before), (_, after)) in untrained.iter().zip(trained) {
        println!(
            "{:<32} {:>22} {:>22}",
            protocol.name(),
            format_accuracy(before),
            format_accuracy(after)
        );
    }
}

fn format_accuracy(report: &EvaluationReport) -> String {
    format!(
        "{:.2}% ± {:.2}%",
        100.0 * report.mean_accuracy,
        100.0 * report.confidence_95
    )
}
