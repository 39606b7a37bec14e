//! The JSON file of a training checkpoint: the run's position and its history.
//!
//! Floating-point values are stored as strings in Rust's shortest round-trip notation, because
//! `serde_json` without its `float_roundtrip` feature may parse a number into a neighbouring
//! float, and a resumed history must be bit-identical to an uninterrupted one.

use serde::{Deserialize, Serialize};

use crate::evaluate::EvaluationReport;
use crate::history::{History, HistoryRecord};

/// Version of the layout below. A checkpoint of another version is rejected.
pub(super) const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrainingState {
    pub(super) format_version: u32,
    /// Index of the next episode to train, which is also the learning-rate schedule position.
    pub(super) next_episode: usize,
    /// Episodes of the configuration that wrote the checkpoint.
    pub(super) episodes: usize,
    pub(super) history: Vec<RecordState>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordState {
    episode: usize,
    #[serde(with = "exact_f64")]
    train_loss: f64,
    #[serde(with = "exact_f64")]
    train_accuracy: f64,
    validation: Option<ValidationState>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationState {
    episodes: usize,
    #[serde(with = "exact_f64")]
    mean_accuracy: f64,
    #[serde(with = "exact_f64")]
    confidence_95: f64,
}

impl TrainingState {
    pub(super) fn new(next_episode: usize, episodes: usize, history: &History) -> Self {
        let history = history
            .records
            .iter()
            .map(|record| RecordState {
                episode: record.episode,
                train_loss: record.train_loss,
                train_accuracy: record.train_accuracy,
                validation: record.validation.map(|report| ValidationState {
                    episodes: report.episodes,
                    mean_accuracy: report.mean_accuracy,
                    confidence_95: report.confidence_95,
                }),
            })
            .collect();
        Self {
            format_version: FORMAT_VERSION,
            next_episode,
            episodes,
            history,
        }
    }

    pub(super) fn history(&self) -> History {
        let records = self
            .history
            .iter()
            .map(|record| HistoryRecord {
                episode: record.episode,
                train_loss: record.train_loss,
                train_accuracy: record.train_accuracy,
                validation: record.validation.as_ref().map(|report| EvaluationReport {
                    episodes: report.episodes,
                    mean_accuracy: report.mean_accuracy,
                    confidence_95: report.confidence_95,
                }),
            })
            .collect();
        History { records }
    }

    /// Returns why the state cannot be a checkpoint of a run, if it cannot.
    pub(super) fn inconsistency(&self) -> Option<String> {
        if self.format_version != FORMAT_VERSION {
            return Some(format!(
                "format version {} is not the supported version {FORMAT_VERSION}",
                self.format_version
            ));
        }
        if self.next_episode > self.episodes {
            return Some(format!(
                "next episode {} is past the run's {} episodes",
                self.next_episode, self.episodes
            ));
        }
        // Checkpoints are written at records, so the last record is the checkpoint's position.
        let last = self.history.last().map(|record| record.episode);
        if last != Some(self.next_episode) {
            return Some(format!(
                "the last history record is at episode {last:?}, the next episode is {}",
                self.next_episode
            ));
        }
        if self.history.windows(2).any(|pair| pair[0].episode >= pair[1].episode) {
            return Some("the history records are not in increasing episode order".to_owned());
        }
        None
    }
}

/// Serialises an `f64` as the string of its shortest round-trip notation.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:?}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("invalid number {text:?}")))
    }
}
