//! Callbacks that [`train_with_callbacks`](crate::train::train_with_callbacks) calls after every
//! history record: early stopping, saving the best model, and any user type implementing
//! [`Callback`].

use std::path::{Path, PathBuf};

use crate::history::HistoryRecord;
use crate::network::FewShotNetwork;
use crate::{Error, Result};

/// Whether training goes on after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Train the next episode.
    Continue,
    /// End training after this record; the history keeps every record so far.
    Stop,
}

/// Code run after each history record (every validation, and at the end of training).
pub trait Callback {
    /// Inspects the newest record; returning [`Control::Stop`] ends training.
    ///
    /// # Errors
    ///
    /// Any error ends training and is returned by the training function.
    fn on_record(&mut self, record: &HistoryRecord, network: &FewShotNetwork) -> Result<Control>;
}

/// Stops training when the validation accuracy has not improved by more than `min_delta` for
/// `patience` validations in a row. Records without validation are ignored.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    patience: usize,
    min_delta: f64,
    best: Option<f64>,
    stale: usize,
}

impl EarlyStopping {
    /// Creates the callback.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a zero `patience` or a negative or non-finite `min_delta`.
    pub fn new(patience: usize, min_delta: f64) -> Result<Self> {
        if patience == 0 {
            return Err(Error::InvalidConfig {
                name: "patience",
                value: "0".to_owned(),
                reason: "wait for at least one validation without improvement".to_owned(),
            });
        }
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(Error::InvalidConfig {
                name: "min_delta",
                value: min_delta.to_string(),
                reason: "must be 0 or more".to_owned(),
            });
        }
        Ok(Self {
            patience,
            min_delta,
            best: None,
            stale: 0,
        })
    }
}

impl Callback for EarlyStopping {
    fn on_record(&mut self, record: &HistoryRecord, _network: &FewShotNetwork) -> Result<Control> {
        let Some(validation) = &record.validation else {
            return Ok(Control::Continue);
        };

        let accuracy = validation.mean_accuracy;
        match self.best {
            Some(best) if accuracy <= best + self.min_delta => self.stale += 1,
            _ => {
                self.best = Some(accuracy);
                self.stale = 0;
            }
        }

        if self.stale >= self.patience {
            tracing::info!(
                episode = record.episode,
                best_accuracy = self.best,
                "early stopping: validation accuracy stopped improving"
            );
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }
}

/// Saves the network to `dir` each time the validation accuracy reaches a new best.
///
/// The model is written to `<dir>.partial` first and swapped in only when complete, so a
/// process killed while saving leaves the last good checkpoint in `dir`, or in
/// `<dir>.previous` when it dies between the two renames of the swap.
#[derive(Debug, Clone)]
pub struct BestCheckpoint {
    dir: PathBuf,
    best: Option<f64>,
}

impl BestCheckpoint {
    /// Creates the callback; nothing is written before the first validation.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            best: None,
        }
    }

    /// Returns the best validation accuracy saved so far.
    pub fn best_accuracy(&self) -> Option<f64> {
        self.best
    }
}

impl Callback for BestCheckpoint {
    fn on_record(&mut self, record: &HistoryRecord, network: &FewShotNetwork) -> Result<Control> {
        let Some(validation) = &record.validation else {
            return Ok(Control::Continue);
        };
        if self.best.is_some_and(|best| validation.mean_accuracy <= best) {
            return Ok(Control::Continue);
        }

        save_atomically(network, &self.dir)?;
        self.best = Some(validation.mean_accuracy);
        tracing::info!(
            episode = record.episode,
            accuracy = validation.mean_accuracy,
            dir = %self.dir.display(),
            "saved the best model"
        );
        Ok(Control::Continue)
    }
}

/// Writes the model into `<dir>.partial`, then swaps it into place: the old checkpoint is
/// renamed aside, the new one renamed to `dir`, and the old one removed.
fn save_atomically(network: &FewShotNetwork, dir: &Path) -> Result<()> {
    let partial = with_suffix(dir, "partial");
    let previous = with_suffix(dir, "previous");
    let remove = |path: &Path| -> Result<()> {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(|source| Error::io("remove", path, source))?;
        }
        Ok(())
    };

    remove(&partial)?;
    network.save(&partial)?;
    remove(&previous)?;
    if dir.exists() {
        std::fs::rename(dir, &previous).map_err(|source| Error::io("rename", dir, source))?;
    }
    std::fs::rename(&partial, dir).map_err(|source| Error::io("rename", &partial, source))?;
    remove(&previous)
}

fn with_suffix(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}
