//! Turning sampled episodes into tensors: decode once, augment per item, resize, stack.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use fsl_augment::{Augmenter, item_seed};
use fsl_datasets::AnnotationTable;
use fsl_datasets::decode::{decode_row, gray_to_f32};
use fsl_layers::EpisodeBatch;
use image::GrayImage;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::episode::{EpisodeSampler, EpisodeSpec, SamplerOptions};
use crate::{Error, Result};

/// Decodes every image of a table to 8-bit grayscale, in parallel.
///
/// Fails on the first image that cannot be read or decoded, naming its row or file.
pub fn decode_images(table: &AnnotationTable) -> Result<Vec<GrayImage>> {
    let images: std::result::Result<Vec<GrayImage>, fsl_datasets::Error> = (0..table.num_rows())
        .into_par_iter()
        .map(|row| decode_row(table, row))
        .collect();
    Ok(images?)
}

/// Settings that turn images into tensors.
#[derive(Clone)]
pub struct LoaderConfig {
    /// Side of the square tensors, in pixels.
    pub image_size: u32,
    /// Map dark ink to 1 and white background to 0 (`1 - luma/255`), as Omniglot models expect.
    pub invert: bool,
    /// Seed of the augmentation streams.
    pub seed: u64,
    /// Augmentation applied to every image at its original resolution, before resizing.
    pub augmenter: Option<Arc<dyn Augmenter>>,
    /// Augmentation of the query images when it differs from the support images': `None`
    /// applies `augmenter` to both.
    pub query_augmenter: Option<Arc<dyn Augmenter>>,
}

impl LoaderConfig {
    /// Returns the augmenter of a support image, or of a query image with `query`.
    pub fn augmenter_for(&self, query: bool) -> Option<&Arc<dyn Augmenter>> {
        match (query, &self.query_augmenter) {
            (true, Some(augmenter)) => Some(augmenter),
            _ => self.augmenter.as_ref(),
        }
    }

    /// Returns whether any image is augmented.
    fn augments(&self) -> bool {
        self.augmenter.is_some() || self.query_augmenter.is_some()
    }

    /// Returns the pixels of one support or query image, augmented with a generator seeded by
    /// `seed` when an augmenter applies, then resized.
    pub(crate) fn image_pixels(&self, image: &GrayImage, query: bool, seed: u64) -> Vec<f32> {
        let size = self.image_size;
        match self.augmenter_for(query) {
            Some(augmenter) => {
                let mut rng = StdRng::seed_from_u64(seed);
                gray_to_f32(&augmenter.augment(image, &mut rng), size, size, self.invert)
            }
            None => gray_to_f32(image, size, size, self.invert),
        }
    }
}

/// Stacks the pixels of an episode's support images followed by its query images into an
/// [`EpisodeBatch`] of `image_size` x `image_size` single-channel images.
pub(crate) fn episode_batch<L>(
    episode: crate::episode::Episode<L>,
    pixels: Vec<f32>,
    image_size: u32,
    device: &Device,
) -> Result<EpisodeBatch> {
    let side = image_size as usize;
    let (support_count, query_count) = (episode.support.len(), episode.query.len());
    let all = Tensor::from_vec(pixels, (support_count + query_count, 1, side, side), device)?;

    Ok(EpisodeBatch {
        support: all.narrow(0, 0, support_count)?,
        support_labels: episode.support_labels,
        query: all.narrow(0, support_count, query_count)?,
        query_labels: episode.query_labels,
        n_way: episode.class_ids.len(),
    })
}

impl std::fmt::Debug for LoaderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoaderConfig")
            .field("image_size", &self.image_size)
            .field("invert", &self.invert)
            .field("seed", &self.seed)
            .field("augmenter", &self.augmenter.is_some())
            .field("query_augmenter", &self.query_augmenter.is_some())
            .finish()
    }
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            image_size: 28,
            invert: true,
            seed: 0,
            augmenter: None,
            query_augmenter: None,
        }
    }
}

/// Produces the tensors of episode `index` from a sampler and decoded images.
///
/// Episode `index` depends only on the sampler seed, the loader seed and `index`: augmentation
/// streams are derived per item from `(seed, index, position)`, so the result does not depend on
/// the number of threads or on which episodes were produced before.
pub struct EpisodeLoader {
    sampler: EpisodeSampler<String>,
    sampler_seed: u64,
    images: Arc<Vec<GrayImage>>,
    resized: Option<Arc<Vec<Vec<f32>>>>,
    config: LoaderConfig,
    device: Device,
}

impl EpisodeLoader {
    /// Creates a loader over items whose class is `labels[i]` and whose image is `images[i]`.
    ///
    /// Episodes are drawn by an [`EpisodeSampler`] built from `labels`, `spec` and `options`,
    /// seeded with `sampler_seed`.
    pub fn new(
        labels: &[String],
        spec: EpisodeSpec,
        options: SamplerOptions<String>,
        sampler_seed: u64,
        images: Arc<Vec<GrayImage>>,
        config: LoaderConfig,
    ) -> Result<Self> {
        if config.image_size == 0 {
            return Err(Error::InvalidLoader {
                reason: "image_size must be at least 1 pixel".into(),
            });
        }
        if labels.len() != images.len() {
            return Err(Error::InvalidLoader {
                reason: format!(
                    "{} labels but {} images; give one image per label",
                    labels.len(),
                    images.len()
                ),
            });
        }
        let sampler = EpisodeSampler::new(labels, spec, options)?;

        // Without augmentation every image always gives the same tensor, so resize once.
        let resized = if !config.augments() {
            let size = config.image_size;
            Some(Arc::new(
                images
                    .par_iter()
                    .map(|image| gray_to_f32(image, size, size, config.invert))
                    .collect(),
            ))
        } else {
            None
        };
        Ok(Self {
            sampler,
            sampler_seed,
            images,
            resized,
            config,
            device: Device::Cpu,
        })
    }

    /// Returns the sampler.
    pub fn sampler(&self) -> &EpisodeSampler<String> {
        &self.sampler
    }

    /// Returns the number of items (labels and images).
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Returns whether the loader has no items.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Returns the images of `items`, resized and without augmentation, as `len x 1 x H x W`.
    pub fn images(&self, items: &[usize]) -> Result<Tensor> {
        if let Some(&bad) = items.iter().find(|&&item| item >= self.images.len()) {
            return Err(Error::InvalidLoader {
                reason: format!("item {bad} requested but there are {} items", self.images.len()),
            });
        }

        let size = self.config.image_size;
        let pixels: Vec<f32> = items
            .par_iter()
            .map(|&item| match &self.resized {
                Some(resized) => resized[item].clone(),
                None => gray_to_f32(&self.images[item], size, size, self.config.invert),
            })
            .collect::<Vec<_>>()
            .concat();
        let side = size as usize;
        Ok(Tensor::from_vec(pixels, (items.len(), 1, side, side), &self.device)?)
    }

    /// Builds the tensors of episode `index`.
    pub fn episode(&self, index: u64) -> Result<EpisodeBatch> {
        let episode = self.sampler.episode(self.sampler_seed, index);

        let items: Vec<usize> = episode.support.iter().chain(&episode.query).copied().collect();
        let pixels = self.pixels(&items, episode.support.len(), index);
        episode_batch(episode, pixels, self.config.image_size, &self.device)
    }

    /// Returns the pixels of `items`, augmented and resized, concatenated in order; the first
    /// `support_count` items are support images, the others queries.
    fn pixels(&self, items: &[usize], support_count: usize, episode_index: u64) -> Vec<f32> {
        let per_item: Vec<Vec<f32>> = match &self.resized {
            Some(resized) => items.iter().map(|&item| resized[item].clone()).collect(),
            None => items
                .par_iter()
                .enumerate()
                .map(|(position, &item)| {
                    let seed = item_seed(self.config.seed, episode_index, position as u64);
                    self.config
                        .image_pixels(&self.images[item], position >= support_count, seed)
                })
                .collect(),
        };
        per_item.concat()
    }
}
