//! Episodic evaluation: mean accuracy over many episodes with a 95% confidence interval.

use std::fmt;

use candle_core::Tensor;
use fsl_layers::predict;

use crate::head::Head;
use crate::network::FewShotNetwork;
use crate::progress::progress_bar;
use crate::source::EpisodeSource;
use crate::{Error, Result};

/// Accuracy over many episodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvaluationReport {
    /// Number of episodes.
    pub episodes: usize,
    /// Mean of the per-episode accuracies, in `[0, 1]`.
    pub mean_accuracy: f64,
    /// Half-width of the 95% confidence interval: `1.96 · std / √episodes`, with the population
    /// standard deviation of the per-episode accuracies.
    pub confidence_95: f64,
}

impl EvaluationReport {
    /// Summarises per-episode accuracies.
    pub fn from_accuracies(accuracies: &[f64]) -> Result<Self> {
        if accuracies.is_empty() {
            return Err(Error::InvalidConfig {
                name: "episodes",
                value: "0".into(),
                reason: "evaluation needs at least one episode".into(),
            });
        }

        let count = accuracies.len() as f64;
        let mean = accuracies.iter().sum::<f64>() / count;
        let variance = accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / count;
        Ok(Self {
            episodes: accuracies.len(),
            mean_accuracy: mean,
            confidence_95: 1.96 * variance.sqrt() / count.sqrt(),
        })
    }
}

impl fmt::Display for EvaluationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2}% ± {:.2}% ({} {})",
            100.0 * self.mean_accuracy,
            100.0 * self.confidence_95,
            self.episodes,
            if self.episodes == 1 { "episode" } else { "episodes" }
        )
    }
}

/// Evaluates `network` in evaluation mode on `episodes` episodes of `source`.
pub fn evaluate(
    network: &FewShotNetwork,
    source: &mut dyn EpisodeSource,
    episodes: usize,
    label: &str,
) -> Result<EvaluationReport> {
    let bar = progress_bar(episodes as u64, label);
    let mut accuracies = Vec::with_capacity(episodes);
    for index in 0..episodes {
        let episode = source.episode(index as u64)?;
        accuracies.push(network.episode(&episode, false)?.accuracy);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let report = EvaluationReport::from_accuracies(&accuracies)?;
    tracing::info!(%report, label, "evaluation finished");
    Ok(report)
}

/// One run of the official one-shot benchmark, as tensors: one support image per class.
#[derive(Debug, Clone)]
pub struct OneShotRunImages {
    /// Name of the run, such as `run01`.
    pub name: String,
    /// Support images, one per class, `S x C x H x W`.
    pub support: Tensor,
    /// Query images, `Q x C x H x W`.
    pub queries: Tensor,
    /// For each query, the index of its correct support image.
    pub answers: Vec<usize>,
}

/// Error rates of the official one-shot runs.
#[derive(Debug, Clone, PartialEq)]
pub struct OneShotReport {
    /// Error rate of each run, in `[0, 1]`, by run name.
    pub runs: Vec<(String, f64)>,
    /// Mean error rate over the runs.
    pub mean_error: f64,
}

/// Scores each run: a query is correct when the head scores its expected support image highest.
/// Each support image is a class of its own.
pub fn evaluate_one_shot_runs(network: &FewShotNetwork, runs: &[OneShotRunImages]) -> Result<OneShotReport> {
    if runs.is_empty() {
        return Err(Error::InvalidConfig {
            name: "runs",
            value: "[]".into(),
            reason: "no one-shot run to score".into(),
        });
    }

    let mut errors = Vec::with_capacity(runs.len());
    for run in runs {
        let query_count = run.queries.dims().first().copied().unwrap_or(0);
        let support_count = run.support.dims().first().copied().unwrap_or(0);
        if query_count == 0 || support_count == 0 {
            return Err(Error::InvalidConfig {
                name: "run",
                value: run.name.clone(),
                reason: format!(
                    "it has {support_count} support images and {query_count} queries; both must be at least 1"
                ),
            });
        }
        if run.answers.len() != query_count {
            return Err(Error::InvalidConfig {
                name: "answers",
                value: run.answers.len().to_string(),
                reason: format!("run {} has {query_count} queries", run.name),
            });
        }
        // An answer outside the support set would silently count as a wrong prediction.
        if let Some(&answer) = run.answers.iter().find(|&&answer| answer >= support_count) {
            return Err(Error::InvalidConfig {
                name: "answers",
                value: answer.to_string(),
                reason: format!(
                    "run {} has {support_count} support images, so answers must be below {support_count}",
                    run.name
                ),
            });
        }

        let support = network.embed(&run.support, false)?;
        let queries = network.embed(&run.queries, false)?;
        // Each support image is its own class.
        let classes: Vec<u32> = (0..support_count as u32).collect();
        let scores = network
            .head()
            .class_scores(&queries, &support, &classes, support_count)?;
        let predictions = predict(&scores, false)?;
        let wrong = predictions
            .iter()
            .zip(&run.answers)
            .filter(|(p, a)| **p as usize != **a)
            .count();
        errors.push((run.name.clone(), wrong as f64 / query_count as f64));
    }

    let mean_error = errors.iter().map(|(_, e)| e).sum::<f64>() / errors.len() as f64;
    Ok(OneShotReport {
        runs: errors,
        mean_error,
    })
}

/// The item indices of one episode, for evaluation on embeddings computed in advance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEpisode {
    /// Support items, as rows of the embedding matrix.
    pub support: Vec<usize>,
    /// Episode label of each support item.
    pub support_labels: Vec<u32>,
    /// Query items, as rows of the embedding matrix.
    pub query: Vec<usize>,
    /// Episode label of each query item.
    pub query_labels: Vec<u32>,
    /// Number of classes of the episode.
    pub n_way: usize,
}

/// Embeds `count` items in evaluation mode, `batch_size` at a time; `images(start, len)` returns
/// the `len` images starting at item `start`.
///
/// In evaluation mode an embedding depends only on its own image, so evaluation can embed every
/// image once and then score any number of episodes with [`evaluate_embedded`].
pub fn embed_all(
    network: &FewShotNetwork,
    count: usize,
    batch_size: usize,
    mut images: impl FnMut(usize, usize) -> Result<Tensor>,
) -> Result<Tensor> {
    if count == 0 || batch_size == 0 {
        return Err(Error::InvalidConfig {
            name: "count and batch_size",
            value: format!("{count} and {batch_size}"),
            reason: "both must be at least 1".into(),
        });
    }

    let mut chunks = Vec::with_capacity(count.div_ceil(batch_size));
    for start in (0..count).step_by(batch_size) {
        let len = batch_size.min(count - start);
        // Detached, so that the chunks do not keep their autograd graphs (every intermediate
        // activation) alive until the last one is embedded.
        chunks.push(network.embed(&images(start, len)?, false)?.detach());
    }
    Ok(Tensor::cat(&chunks, 0)?)
}

/// Scores `episodes` episodes on precomputed `embeddings` (`N x D`) with `head` (usually
/// [`FewShotNetwork::head`]): each query takes the class the head scores highest.
pub fn evaluate_embedded(
    head: &Head,
    embeddings: &Tensor,
    episodes: usize,
    episode: impl FnMut(u64) -> IndexEpisode,
    label: &str,
) -> Result<EvaluationReport> {
    Ok(evaluate_embedded_predictions(head, embeddings, episodes, episode, label)?.0)
}

/// The prediction for one query of an episode, from [`evaluate_embedded_predictions`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPrediction {
    /// Index of the episode.
    pub episode: u64,
    /// Row of the query in the embedding matrix.
    pub item: usize,
    /// The query's episode label.
    pub label: u32,
    /// The episode label the head scored highest.
    pub predicted: u32,
    /// The head's score of the predicted label.
    pub score: f64,
}

/// Scores like [`evaluate_embedded`] and also returns every query's prediction, in episode
/// order, for a confusion matrix or a table of predictions.
pub fn evaluate_embedded_predictions(
    head: &Head,
    embeddings: &Tensor,
    episodes: usize,
    mut episode: impl FnMut(u64) -> IndexEpisode,
    label: &str,
) -> Result<(EvaluationReport, Vec<QueryPrediction>)> {
    let bar = progress_bar(episodes as u64, label);
    let mut accuracies = Vec::with_capacity(episodes);
    let mut predictions = Vec::new();
    let device = embeddings.device();
    for index in 0..episodes as u64 {
        let items = episode(index);
        check_index_episode(index as usize, &items)?;
        let select = |rows: &[usize]| -> Result<Tensor> {
            let rows: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
            Ok(embeddings.index_select(&Tensor::new(rows.as_slice(), device)?, 0)?)
        };

        let scores = head.class_scores(
            &select(&items.query)?,
            &select(&items.support)?,
            &items.support_labels,
            items.n_way,
        )?;
        let predicted = predict(&scores, false)?;
        let scores = scores.to_dtype(candle_core::DType::F64)?.to_vec2::<f64>()?;

        let mut correct = 0usize;
        for (position, (&item, &label)) in items.query.iter().zip(&items.query_labels).enumerate() {
            let predicted = predicted[position];
            correct += usize::from(predicted == label);
            predictions.push(QueryPrediction {
                episode: index,
                item,
                label,
                predicted,
                score: scores[position][predicted as usize],
            });
        }
        accuracies.push(correct as f64 / items.query.len() as f64);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let report = EvaluationReport::from_accuracies(&accuracies)?;
    tracing::info!(%report, label, "evaluation finished");
    Ok((report, predictions))
}

/// Checks that an episode of item indices can be scored.
///
/// A class without support items has no prototype, and a query label of `n_way` or more could
/// never be predicted. Naming the episode here is clearer than the layer's error.
fn check_index_episode(index: usize, items: &IndexEpisode) -> Result<()> {
    let invalid = |reason: String| Error::InvalidConfig {
        name: "episode",
        value: index.to_string(),
        reason,
    };
    if items.support.len() != items.support_labels.len() || items.query.len() != items.query_labels.len() {
        return Err(invalid(format!(
            "{} support items with {} labels and {} queries with {} labels; give one label per item",
            items.support.len(),
            items.support_labels.len(),
            items.query.len(),
            items.query_labels.len()
        )));
    }
    if items.query.is_empty() {
        return Err(invalid("the episode has no query to score".into()));
    }
    let mut labels = items.support_labels.iter().chain(&items.query_labels);
    if let Some(&label) = labels.find(|&&label| label as usize >= items.n_way) {
        return Err(invalid(format!(
            "label {label} is out of range for n_way = {}",
            items.n_way
        )));
    }
    if let Some(class) = (0..items.n_way as u32).find(|class| !items.support_labels.contains(class)) {
        return Err(invalid(format!(
            "class {class} has no support item, so it has no prototype"
        )));
    }
    Ok(())
}
