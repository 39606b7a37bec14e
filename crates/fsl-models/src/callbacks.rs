//! Callbacks that [`train_with_callbacks`](crate::train::train_with_callbacks) calls after every
//! history record: early stopping, saving the best model, writing the history as CSV, and any
//! user type implementing [`Callback`].

use std::path::{Path, PathBuf};

use crate::atomic::{replace_dir, replace_file};
use crate::history::{History, HistoryRecord};
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

    /// Prepares the callback before the first episode with the records of the run so far:
    /// none for a new run, the checkpoint's for a run resumed by
    /// [`resume_training`](crate::resume::resume_training).
    ///
    /// A callback whose decisions depend on earlier records rebuilds its state from them here,
    /// so that a resumed run decides as an uninterrupted one. The default does nothing.
    ///
    /// # Errors
    ///
    /// Any error ends training before it starts.
    fn on_train_begin(&mut self, history: &History) -> Result<()> {
        let _ = history;
        Ok(())
    }
}

/// Stops training when the validation accuracy has not improved by more than `min_delta` for
/// `patience` validations in a row. Records without validation are ignored.
///
/// At the start of each run the state is rebuilt from the run's earlier records, so a resumed
/// run stops where an uninterrupted one would.
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

impl EarlyStopping {
    /// Counts `accuracy` as a new best or as one more validation without improvement.
    fn observe(&mut self, accuracy: f64) {
        match self.best {
            Some(best) if accuracy <= best + self.min_delta => self.stale += 1,
            _ => {
                self.best = Some(accuracy);
                self.stale = 0;
            }
        }
    }
}

impl Callback for EarlyStopping {
    fn on_record(&mut self, record: &HistoryRecord, _network: &FewShotNetwork) -> Result<Control> {
        let Some(validation) = &record.validation else {
            return Ok(Control::Continue);
        };

        self.observe(validation.mean_accuracy);
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

    fn on_train_begin(&mut self, history: &History) -> Result<()> {
        (self.best, self.stale) = (None, 0);
        for validation in history.records.iter().filter_map(|record| record.validation) {
            self.observe(validation.mean_accuracy);
        }
        Ok(())
    }
}

/// Saves the network to `dir` each time the validation accuracy reaches a new best.
///
/// The model is written to `<dir>.partial` first and swapped in only when complete, so a
/// process killed while saving leaves the last good checkpoint in `dir`, or in
/// `<dir>.previous` when it dies between the two renames of the swap.
///
/// At the start of each run the best accuracy is taken from the run's earlier records, so a
/// resumed run saves only models that beat every earlier validation.
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

        replace_dir(&self.dir, |partial| network.save(partial))?;
        self.best = Some(validation.mean_accuracy);
        tracing::info!(
            episode = record.episode,
            accuracy = validation.mean_accuracy,
            dir = %self.dir.display(),
            "saved the best model"
        );
        Ok(Control::Continue)
    }

    fn on_train_begin(&mut self, history: &History) -> Result<()> {
        self.best = history
            .records
            .iter()
            .filter_map(|record| record.validation)
            .map(|validation| validation.mean_accuracy)
            .reduce(f64::max);
        Ok(())
    }
}

/// Rewrites a CSV file of the history (as [`History::to_csv`] formats it) after every record,
/// so a run that is killed leaves its history on disk.
///
/// Each write goes to `<path>.partial` and is renamed over `path`, so the file is never half
/// written. A resumed run starts the file again from the checkpoint's records, dropping any row
/// written after the checkpoint.
#[derive(Debug, Clone)]
pub struct HistoryCsv {
    path: PathBuf,
    history: History,
}

impl HistoryCsv {
    /// Creates the callback; the file is written when training starts.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            history: History::default(),
        }
    }

    /// Returns the file the history is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the records written so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    fn write(&self) -> Result<()> {
        replace_file(&self.path, self.history.to_csv().as_bytes())
    }
}

impl Callback for HistoryCsv {
    fn on_record(&mut self, record: &HistoryRecord, _network: &FewShotNetwork) -> Result<Control> {
        self.history.records.push(record.clone());
        self.write()?;
        Ok(Control::Continue)
    }

    fn on_train_begin(&mut self, history: &History) -> Result<()> {
        self.history = history.clone();
        self.write()
    }
}
