//! Preparing and running the training of a network on a [`CharacterSet`].

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use fsl_augment::Augmenter;
use fsl_models::callbacks::Callback;
use fsl_models::{EpisodeSource, FewShotNetwork, History, TrainConfig};
use fsl_sequences::{EpisodeLoader, EpisodeSpec, LoaderConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::data::CharacterSet;
use super::job::TrainSettings;
use crate::Result;

/// The episode loaders and optimiser settings of one training run.
///
/// [`TrainingData::prepare`] checks the settings against the data (enough classes for n-way,
/// enough images per class for k + q), so a caller can build it before writing any file and
/// a data problem leaves nothing behind.
pub struct TrainingData {
    train: EpisodeLoader,
    validation: Option<EpisodeLoader>,
    config: TrainConfig,
}

impl TrainingData {
    /// Builds the loaders: training episodes with `augmenter` applied to their images, seeded
    /// with `seed` and resized to `image_size` pixels square. When validation runs, a tenth of
    /// the classes (at least two) is held out for it; otherwise every class trains.
    ///
    /// # Errors
    ///
    /// The errors of [`TrainSettings::validate`], and the sequence errors that name the n-way
    /// or the class that the data cannot serve.
    pub fn prepare(
        set: &CharacterSet,
        settings: &TrainSettings,
        seed: u64,
        image_size: u32,
        augmenter: Option<Arc<dyn Augmenter>>,
    ) -> Result<Self> {
        settings.validate()?;
        let set = &set.clone().with_skip_small_classes(settings.skip_small_classes);
        let config = TrainConfig {
            episodes: settings.episodes,
            learning_rate: settings.learning_rate,
            lr_decay_every: settings.lr_decay_every,
            lr_decay_factor: 0.5,
            validate_every: settings.validate_every,
            validation_episodes: 20,
            optimizer: settings.optimizer.clone(),
            schedule: settings.schedule.clone(),
            max_grad_norm: settings.max_grad_norm,
        };
        let spec = EpisodeSpec::new(settings.n_way, settings.k_shot, settings.q_query)?;
        let loader_config = |augmenter| LoaderConfig {
            image_size,
            invert: true,
            seed,
            augmenter,
            query_augmenter: None,
        };

        if settings.validate_every == 0 {
            let train = set.loader(spec, false, seed, loader_config(augmenter))?;
            return Ok(Self {
                train,
                validation: None,
                config,
            });
        }

        let (train_rows, validation_rows) = split_classes(set, 0.1, seed);
        let train_part = set.take(&train_rows)?;
        let validation_part = set.take(&validation_rows)?;
        let train = train_part.loader(spec, false, seed, loader_config(augmenter))?;

        let validation_way = settings.n_way.min(validation_part.class_count()).max(2);
        let validation_spec = EpisodeSpec::new(validation_way, 1, 5)?;
        let validation = validation_part.loader(validation_spec, false, seed ^ 0x5eed, loader_config(None))?;
        Ok(Self {
            train,
            validation: Some(validation),
            config,
        })
    }

    /// Trains `network` on the prepared episodes and returns its history.
    ///
    /// # Errors
    ///
    /// The errors of [`fsl_models::train()`], such as a diverged loss.
    pub fn train(&self, network: &FewShotNetwork) -> Result<History> {
        self.train_with_callbacks(network, &mut [])
    }

    /// Trains like [`Self::train`], calling `callbacks` after every history record.
    ///
    /// # Errors
    ///
    /// The errors of [`fsl_models::train_with_callbacks`] and of the callbacks.
    pub fn train_with_callbacks(
        &self,
        network: &FewShotNetwork,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<History> {
        self.with_sources(|train, validation| {
            fsl_models::train_with_callbacks(network, &self.config, train, validation, callbacks)
        })
    }

    /// Trains like [`Self::train_with_callbacks`] and writes a resumable checkpoint into
    /// `checkpoint_dir` after every history record.
    ///
    /// # Errors
    ///
    /// The errors of [`fsl_models::train_with_checkpoints`].
    pub fn train_with_checkpoints(
        &self,
        network: &FewShotNetwork,
        checkpoint_dir: &Path,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<History> {
        self.with_sources(|train, validation| {
            fsl_models::train_with_checkpoints(network, &self.config, checkpoint_dir, train, validation, callbacks)
        })
    }

    /// Continues the run checkpointed in `checkpoint_dir` on the same episodes, up to this
    /// configuration's episode count, and returns the network with the whole history.
    ///
    /// # Errors
    ///
    /// The errors of [`fsl_models::resume_training`], such as a missing checkpoint or one
    /// already past the episode count.
    pub fn resume(
        &self,
        checkpoint_dir: &Path,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<(FewShotNetwork, History)> {
        self.with_sources(|train, validation| {
            fsl_models::resume_training(checkpoint_dir, &self.config, train, validation, callbacks)
        })
    }

    /// Calls `run` with the training episodes and, when validation runs, the validation ones.
    fn with_sources<T>(
        &self,
        run: impl FnOnce(&mut dyn EpisodeSource, Option<&mut dyn EpisodeSource>) -> fsl_models::Result<T>,
    ) -> Result<T> {
        let mut train_source = |index: u64| self.train.episode(index);
        let result = match &self.validation {
            Some(validation) => {
                let mut validation_source = |index: u64| validation.episode(index);
                run(&mut train_source, Some(&mut validation_source))?
            }
            None => run(&mut train_source, None)?,
        };
        Ok(result)
    }
}

/// Trains `network` on `set` with any augmentation of the training images (or none): the
/// [`TrainingData::prepare`] and [`TrainingData::train`] steps in one call.
pub fn train_with_augmenter(
    network: &FewShotNetwork,
    set: &CharacterSet,
    settings: &TrainSettings,
    seed: u64,
    image_size: u32,
    augmenter: Option<Arc<dyn Augmenter>>,
) -> Result<History> {
    TrainingData::prepare(set, settings, seed, image_size, augmenter)?.train(network)
}

/// Splits rows by class: a seeded `fraction` of the classes (at least two) go to validation.
fn split_classes(set: &CharacterSet, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut classes: Vec<&String> = set.classes.iter().collect();
    classes.sort();
    classes.dedup();
    classes.shuffle(&mut StdRng::seed_from_u64(seed));

    let held_out = ((classes.len() as f64 * fraction).ceil() as usize)
        .max(2)
        .min(classes.len() / 2);
    let validation: HashSet<&String> = classes.into_iter().take(held_out).collect();
    (0..set.classes.len()).partition(|&row| !validation.contains(&set.classes[row]))
}
