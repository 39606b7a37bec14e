//! The Omniglot job: train prototypical networks on one set of alphabets, evaluate on alphabets
//! the model has never seen.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fsl_augment::{Affine, Augmenter};
use fsl_datasets::decode::{decode_luma8_named, gray_to_f32};
use fsl_datasets::omniglot::OmniglotArchive;
use fsl_datasets::one_shot_runs::read_runs;
use fsl_models::optim::{LrSchedule, OptimizerConfig};
use fsl_models::{
    Conv4Config, EncoderConfig, EvaluationReport, FewShotNetwork, HeadConfig, History, IndexEpisode, ModelConfig,
    OneShotReport, OneShotRunImages, embed_all, evaluate_embedded, evaluate_embedded_predictions,
    evaluate_one_shot_runs,
};
use fsl_sequences::{EpisodeSpec, LoaderConfig};

use super::data::{ArchiveSource, CharacterSet};
use super::training::train_with_augmenter;
use crate::{Error, Result};

/// One evaluation protocol: episodes of `n_way` classes with `k_shot` support and `q_query`
/// query images each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Classes per episode.
    pub n_way: usize,
    /// Support images per class.
    pub k_shot: usize,
    /// Query images per class.
    pub q_query: usize,
    /// Draw all classes of an episode from one alphabet.
    pub within_alphabet: bool,
}

impl Protocol {
    /// The protocols of the main job: 20-way 1-shot within an alphabet, 5-way 1-shot and 5-way
    /// 5-shot.
    pub fn standard() -> Vec<Protocol> {
        vec![
            Protocol {
                n_way: 20,
                k_shot: 1,
                q_query: 5,
                within_alphabet: true,
            },
            Protocol {
                n_way: 5,
                k_shot: 1,
                q_query: 15,
                within_alphabet: false,
            },
            Protocol {
                n_way: 5,
                k_shot: 5,
                q_query: 15,
                within_alphabet: false,
            },
        ]
    }

    /// Checks that an episode has classes to choose between and images to classify.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] for `n_way` below 2 or `q_query` of 0.
    pub fn validate(&self) -> Result<()> {
        if self.n_way < 2 {
            return Err(Error::InvalidSetting {
                name: "n_way",
                value: self.n_way.to_string(),
                reason: "an episode needs at least two classes to choose between".into(),
            });
        }
        if self.q_query == 0 {
            return Err(Error::InvalidSetting {
                name: "q_query",
                value: "0".into(),
                reason: "an episode needs at least one query image per class".into(),
            });
        }
        Ok(())
    }

    /// Returns the episode shape of the protocol.
    fn spec(&self) -> Result<EpisodeSpec> {
        Ok(EpisodeSpec::new(self.n_way, self.k_shot, self.q_query)?)
    }

    /// Returns a name such as `20-way 1-shot (within alphabet)`.
    pub fn name(&self) -> String {
        let scope = if self.within_alphabet { " (within alphabet)" } else { "" };
        format!("{}-way {}-shot{scope}", self.n_way, self.k_shot)
    }
}

/// Training settings of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// Training episodes.
    pub episodes: usize,
    /// Classes per training episode.
    pub n_way: usize,
    /// Support images per class in training.
    pub k_shot: usize,
    /// Query images per class in training.
    pub q_query: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Halve the learning rate every this many episodes (0: never).
    pub lr_decay_every: usize,
    /// Validate every this many episodes (0: never).
    pub validate_every: usize,
    /// Apply the classical Omniglot affine distortion to training images.
    pub augment: bool,
    /// The optimiser, Adam with PyTorch's defaults unless set.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule. The constant schedule keeps the `lr_decay_every` halvings.
    pub schedule: LrSchedule,
    /// Clip the joint L2 norm of the gradients to this value before each step.
    pub max_grad_norm: Option<f64>,
    /// Leave out of training episodes the classes with fewer images than k + q.
    pub skip_small_classes: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            episodes: 1500,
            n_way: 20,
            k_shot: 1,
            q_query: 5,
            learning_rate: 1e-3,
            lr_decay_every: 750,
            validate_every: 100,
            augment: true,
            optimizer: OptimizerConfig::adam(),
            schedule: LrSchedule::Constant,
            max_grad_norm: None,
            skip_small_classes: false,
        }
    }
}

/// Everything the Omniglot job needs.
#[derive(Debug, Clone)]
pub struct OmniglotJob {
    /// Location of the archives and the download settings.
    pub source: ArchiveSource,
    /// Folder for the model, history, training curve and results.
    pub output_dir: PathBuf,
    /// Seed of weights, episodes and augmentation.
    pub seed: u64,
    /// Side of the images fed to the encoder, in pixels.
    pub image_size: u32,
    /// Training settings.
    pub train: TrainSettings,
    /// Episodes of each evaluation protocol.
    pub eval_episodes: usize,
    /// Evaluation protocols.
    pub protocols: Vec<Protocol>,
    /// An official one-shot runs archive to score as well.
    pub one_shot_runs: Option<PathBuf>,
}

/// Results of the job.
#[derive(Debug, Clone)]
pub struct OmniglotReport {
    /// Alphabets trained on.
    pub train_alphabets: Vec<String>,
    /// Alphabets evaluated on.
    pub eval_alphabets: Vec<String>,
    /// Each evaluation alphabet with its number of characters, to name the alphabets that
    /// within-alphabet protocols skip.
    pub eval_alphabet_sizes: Vec<(String, usize)>,
    /// Accuracy of each protocol.
    pub results: Vec<(Protocol, EvaluationReport)>,
    /// Scores of the official one-shot runs, when requested.
    pub one_shot: Option<OneShotReport>,
    /// The training history.
    pub history: History,
    /// Folder of the saved model.
    pub model_dir: PathBuf,
}

impl OmniglotReport {
    /// Formats the results as a Markdown table.
    pub fn table(&self) -> String {
        let mut table = String::from("| protocol | episodes | accuracy | 95% CI |\n|---|---|---|---|\n");
        for (protocol, report) in &self.results {
            // Writing to a String cannot fail.
            let _ = writeln!(
                table,
                "| {} | {} | {:.2}% | ± {:.2}% |",
                protocol.name(),
                report.episodes,
                100.0 * report.mean_accuracy,
                100.0 * report.confidence_95
            );
        }
        if let Some(one_shot) = &self.one_shot {
            let _ = writeln!(
                table,
                "| official one-shot runs, mean error | {} runs | {:.2}% error | |",
                one_shot.runs.len(),
                100.0 * one_shot.mean_error
            );
        }

        // A within-alphabet episode needs n_way characters of one alphabet, so smaller
        // alphabets take no part in that row. The table names them because the row's name does not.
        for (protocol, _) in self.results.iter().filter(|(protocol, _)| protocol.within_alphabet) {
            let skipped: Vec<String> = self
                .eval_alphabet_sizes
                .iter()
                .filter(|(_, characters)| *characters < protocol.n_way)
                .map(|(alphabet, characters)| format!("{alphabet} ({characters} characters)"))
                .collect();
            if !skipped.is_empty() {
                let verb = if skipped.len() == 1 { "has" } else { "have" };
                let _ = writeln!(
                    table,
                    "\n{}: skips {}, which {verb} fewer than {} characters.",
                    protocol.name(),
                    skipped.join(", "),
                    protocol.n_way
                );
            }
        }
        table
    }
}

impl TrainSettings {
    /// Checks the settings that would otherwise fail only once training has started.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, value: usize, reason: &str| Error::InvalidSetting {
            name,
            value: value.to_string(),
            reason: reason.into(),
        };
        if self.episodes == 0 {
            return Err(invalid("episodes", 0, "train for at least one episode"));
        }
        if self.q_query == 0 {
            return Err(invalid(
                "q_query",
                0,
                "training episodes need at least one query image per class",
            ));
        }
        if self.n_way < 2 {
            return Err(invalid(
                "n_way",
                self.n_way,
                "training episodes need at least two classes",
            ));
        }
        Ok(())
    }
}

impl OmniglotJob {
    /// Checks the settings before any data is loaded, so a mistake never costs a training run.
    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        if self.eval_episodes == 0 {
            return Err(Error::InvalidSetting {
                name: "eval_episodes",
                value: "0".into(),
                reason: "evaluate on at least one episode".into(),
            });
        }
        if self.protocols.is_empty() {
            return Err(Error::InvalidSetting {
                name: "protocols",
                value: "[]".into(),
                reason: "give at least one evaluation protocol".into(),
            });
        }
        if let Some(one_shot_runs) = self.one_shot_runs.as_ref().filter(|path| !path.exists()) {
            return Err(Error::InvalidSetting {
                name: "one_shot_runs",
                value: one_shot_runs.display().to_string(),
                reason: "no such file or folder".into(),
            });
        }
        Ok(())
    }
}

/// Trains on `images_background_small1`, evaluates on the alphabets of
/// `images_background_small2` that small1 lacks, and writes everything to the output folder.
pub fn run(job: &OmniglotJob) -> Result<OmniglotReport> {
    job.validate()?;

    // Create the output folder first: an unwritable path should fail before training, not after.
    std::fs::create_dir_all(&job.output_dir).map_err(|source| Error::Io {
        path: job.output_dir.clone(),
        source,
    })?;
    if job.output_dir.join("results.md").exists() {
        tracing::warn!(output_dir = %job.output_dir.display(), "overwriting the results of an earlier run");
    }

    let train_path = job.source.locate(OmniglotArchive::BackgroundSmall1)?;
    let eval_path = job.source.locate(OmniglotArchive::BackgroundSmall2)?;

    let train_set = CharacterSet::load(&train_path)?;
    let train_alphabets = train_set.alphabet_names();
    let eval_set =
        CharacterSet::load(&eval_path)?.filter_alphabets(|alphabet| !train_alphabets.iter().any(|a| a == alphabet))?;
    let eval_alphabets = eval_set.alphabet_names();
    let eval_alphabet_sizes = eval_set.alphabet_sizes();
    tracing::info!(?train_alphabets, ?eval_alphabets, "Omniglot loaded");

    let network = FewShotNetwork::new(model_config(job.seed, job.image_size))?;
    let history = train_network(&network, &train_set, job)?;

    let model_dir = job.output_dir.join("model");
    network.save(&model_dir)?;
    history.write_csv(&job.output_dir.join("history.csv"))?;
    history.plot(&job.output_dir.join("training_curve.png"))?;

    let results = evaluate_protocols(
        &network,
        &eval_set,
        &job.protocols,
        job.eval_episodes,
        job.seed,
        job.image_size,
    )?;
    let one_shot = match &job.one_shot_runs {
        Some(path) => Some(score_one_shot_runs(&network, path, job.image_size)?),
        None => None,
    };

    let report = OmniglotReport {
        train_alphabets,
        eval_alphabets,
        eval_alphabet_sizes,
        results,
        one_shot,
        history,
        model_dir,
    };
    let results_path = job.output_dir.join("results.md");
    std::fs::write(&results_path, report.table()).map_err(|source| Error::Io {
        path: results_path,
        source,
    })?;
    Ok(report)
}

/// Returns the Conv-4 prototypical-network configuration for `image_size` images.
pub fn model_config(seed: u64, image_size: u32) -> ModelConfig {
    let conv4 = Conv4Config {
        in_channels: 1,
        hidden_channels: 64,
        image_size: image_size as usize,
        ..Default::default()
    };
    ModelConfig {
        encoder: EncoderConfig::Conv4(conv4),
        seed,
        head: HeadConfig::Prototypical,
    }
}

/// Trains `network` on `set` with the Omniglot affine distortion when `job.train.augment` is
/// set. When validation runs, a tenth of the characters (at least two) is held out for it.
pub fn train_network(network: &FewShotNetwork, set: &CharacterSet, job: &OmniglotJob) -> Result<History> {
    let augmenter: Option<Arc<dyn Augmenter>> = job
        .train
        .augment
        .then(|| Arc::new(Affine::omniglot()) as Arc<dyn Augmenter>);
    train_with_augmenter(network, set, &job.train, job.seed, job.image_size, augmenter)
}

/// Evaluates `network` on every protocol, embedding each image of `set` once.
pub fn evaluate_protocols(
    network: &FewShotNetwork,
    set: &CharacterSet,
    protocols: &[Protocol],
    episodes: usize,
    seed: u64,
    image_size: u32,
) -> Result<Vec<(Protocol, EvaluationReport)>> {
    for protocol in protocols {
        protocol.validate()?;
    }
    let embeddings = embed_set(network, set, seed, image_size)?;

    let mut results = Vec::with_capacity(protocols.len());
    for protocol in protocols {
        let sampler = set.sampler(protocol.spec()?, protocol.within_alphabet)?;
        let report = evaluate_embedded(
            network.head(),
            &embeddings,
            episodes,
            |index| index_episode(sampler.episode(seed, index)),
            &protocol.name(),
        )?;
        tracing::info!(protocol = protocol.name(), %report, "protocol evaluated");
        results.push((protocol.clone(), report));
    }
    Ok(results)
}

/// One query of an evaluation: its row in the set, its class and the predicted class.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    /// Index of the episode.
    pub episode: u64,
    /// Row of the query image in the evaluated set's table.
    pub row: usize,
    /// The query's class.
    pub class: String,
    /// The class the network predicted among those of the episode.
    pub predicted: String,
    /// The head's score of the predicted class.
    pub score: f64,
}

/// Evaluates like [`evaluate_protocols`] for one protocol and also returns every query's
/// prediction, for a confusion matrix ([`fsl_models::ConfusionMatrix`]) or a table.
pub fn evaluate_protocol_predictions(
    network: &FewShotNetwork,
    set: &CharacterSet,
    protocol: &Protocol,
    episodes: usize,
    seed: u64,
    image_size: u32,
) -> Result<(EvaluationReport, Vec<PredictionRow>)> {
    protocol.validate()?;
    let embeddings = embed_set(network, set, seed, image_size)?;
    let sampler = set.sampler(protocol.spec()?, protocol.within_alphabet)?;

    let (report, predictions) = evaluate_embedded_predictions(
        network.head(),
        &embeddings,
        episodes,
        |index| index_episode(sampler.episode(seed, index)),
        &protocol.name(),
    )?;

    // Sampling is a pure function of (seed, index), so drawing an episode again gives the
    // classes behind its labels.
    let mut rows = Vec::with_capacity(predictions.len());
    let mut classes: (u64, Vec<String>) = (u64::MAX, Vec::new());
    for prediction in predictions {
        if classes.0 != prediction.episode {
            classes = (prediction.episode, sampler.episode(seed, prediction.episode).class_ids);
        }
        rows.push(PredictionRow {
            episode: prediction.episode,
            row: prediction.item,
            class: classes.1[prediction.label as usize].clone(),
            predicted: classes.1[prediction.predicted as usize].clone(),
            score: prediction.score,
        });
    }
    Ok((report, rows))
}

/// Embeds every image of `set` in evaluation mode, in batches.
fn embed_set(network: &FewShotNetwork, set: &CharacterSet, seed: u64, image_size: u32) -> Result<candle_core::Tensor> {
    let config = LoaderConfig {
        image_size,
        invert: true,
        seed,
        augmenter: None,
        query_augmenter: None,
    };
    let all_items = set.loader(EpisodeSpec::new(1, 1, 0)?, false, seed, config)?;
    let rows: Vec<usize> = (0..set.classes.len()).collect();
    Ok(embed_all(network, rows.len(), 256, |start, len| {
        all_items
            .images(&rows[start..start + len])
            .map_err(|e| fsl_models::Error::Source(Box::new(e)))
    })?)
}

fn index_episode(episode: fsl_sequences::Episode<String>) -> IndexEpisode {
    IndexEpisode {
        n_way: episode.class_ids.len(),
        support: episode.support,
        support_labels: episode.support_labels,
        query: episode.query,
        query_labels: episode.query_labels,
    }
}

/// Scores an official one-shot runs archive (folder or zip).
pub fn score_one_shot_runs(network: &FewShotNetwork, path: &Path, image_size: u32) -> Result<OneShotReport> {
    let runs = read_runs(path)?;
    let side = image_size as usize;
    let to_tensor = |files: &[(String, Vec<u8>)]| -> Result<candle_core::Tensor> {
        let mut pixels = Vec::with_capacity(files.len() * side * side);
        for (name, bytes) in files {
            let image = decode_luma8_named(bytes, name)?;
            pixels.extend(gray_to_f32(&image, image_size, image_size, true));
        }
        Ok(candle_core::Tensor::from_vec(
            pixels,
            (files.len(), 1, side, side),
            &candle_core::Device::Cpu,
        )?)
    };

    let mut images = Vec::with_capacity(runs.len());
    for run in &runs {
        images.push(OneShotRunImages {
            name: run.name.clone(),
            support: to_tensor(&run.support)?,
            queries: to_tensor(&run.queries)?,
            answers: run.answers.clone(),
        });
    }
    Ok(evaluate_one_shot_runs(network, &images)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(sizes: &[(&str, usize)]) -> OmniglotReport {
        let accuracy = EvaluationReport {
            episodes: 10,
            mean_accuracy: 0.5,
            confidence_95: 0.01,
        };
        OmniglotReport {
            train_alphabets: vec!["Greek".into()],
            eval_alphabets: sizes.iter().map(|(name, _)| name.to_string()).collect(),
            eval_alphabet_sizes: sizes.iter().map(|(name, count)| (name.to_string(), *count)).collect(),
            results: Protocol::standard()
                .into_iter()
                .map(|protocol| (protocol, accuracy))
                .collect(),
            one_shot: None,
            history: History::default(),
            model_dir: PathBuf::from("model"),
        }
    }

    #[test]
    fn table_names_skipped_alphabet() {
        let table = report(&[("Sanskrit", 42), ("Tagalog", 17)]).table();

        assert!(
            table.contains(
                "20-way 1-shot (within alphabet): skips Tagalog (17 characters), which has fewer than 20 characters."
            ),
            "{table}"
        );
        assert!(!table.contains("Sanskrit (42"), "{table}");
    }

    #[test]
    fn table_names_several_skipped_alphabets() {
        let table = report(&[("Tagalog", 17), ("Tiny", 3)]).table();

        assert!(
            table.contains("skips Tagalog (17 characters), Tiny (3 characters), which have fewer than 20"),
            "{table}"
        );
    }

    #[test]
    fn table_without_skipped_alphabets() {
        let table = report(&[("Sanskrit", 42), ("Japanese_(katakana)", 47)]).table();

        assert!(!table.contains("skips"), "{table}");
    }
}
