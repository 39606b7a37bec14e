//! Samplers that decide what a few-shot model is trained and evaluated on.
//!
//! Everything here works on item indices into label tables and has no tensor dependency; the
//! [`loader`] and [`parallel_loader`] modules turn indices into tensors.
//!
//! - The [`episode`] module draws N-way K-shot episodes, with every feasibility check done when
//!   the sampler is built.
//! - A [`Sequence`] serves a fixed number of batches per epoch, each a pure function of the
//!   sequence's seed, the epoch and the batch index, so an epoch resumes from
//!   `(seed, epoch, index)` and shuffles differ between epochs. The sequences are
//!   [`EpisodeSequence`], [`RandomPairs`], [`RandomBalancedPairs`], [`BalancedPairs`],
//!   [`RandomProduct`], [`Product`], [`SingleImages`], [`KShotBatches`] and [`Triplets`].
//! - A [`ParallelLoader`] turns the batches of any of these sequences into tensors on worker
//!   threads with a bounded prefetch queue, in index order and bit-identical for any number of
//!   workers; [`LoadableBatch`] lists the images each batch reads.
//! - Episode, pair and triplet sequences take their query and support items from
//!   [`LabelTables`]: one shared table or two separate ones, for example a test split queried
//!   against a labelled gallery.
//!
//! ```
//! use fsl_sequences::{EpisodeSampler, EpisodeSpec, SamplerOptions};
//!
//! // Item i has class labels[i]: three classes with three items each.
//! let labels = ["cat", "cat", "cat", "dog", "dog", "dog", "owl", "owl", "owl"];
//! let spec = EpisodeSpec::new(2, 1, 2)?;
//! let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new())?;
//!
//! // The same (seed, index) always gives the same episode.
//! let episode = sampler.episode(7, 0);
//! assert_eq!(episode, sampler.episode(7, 0));
//!
//! assert_eq!(episode.class_ids.len(), 2);
//! assert_eq!(episode.support_labels, [0, 1]);
//! assert_eq!(episode.query_labels, [0, 0, 1, 1]);
//! for (&item, &label) in episode.support.iter().zip(&episode.support_labels) {
//!     assert_eq!(labels[item], episode.class_ids[label as usize]);
//! }
//! assert!(episode.query.iter().all(|item| !episode.support.contains(item)));
//! # Ok::<(), fsl_sequences::Error>(())
//! ```
//!
//! Sequences reshuffle per epoch and resume from any batch:
//!
//! ```
//! use fsl_sequences::{BalancedPairs, LabelTables, Sequence};
//!
//! let labels = ["cat", "cat", "cat", "dog", "dog", "dog", "owl", "owl", "owl"];
//! let pairs = BalancedPairs::new(LabelTables::shared(&labels), 2, 6, 42)?;
//! assert_eq!(pairs.len(), 3);
//!
//! let epoch: Vec<_> = pairs.epoch(0).collect::<Result<_, _>>()?;
//! for batch in &epoch {
//!     // Matching and non-matching pairs alternate, so every batch is half matching.
//!     assert_eq!(batch.targets.iter().filter(|&&matching| matching).count(), 3);
//! }
//!
//! // Resuming epoch 0 at batch 2 gives the batch the full pass gave.
//! assert_eq!(pairs.epoch_from(0, 2).next().transpose()?, Some(epoch[2].clone()));
//! assert_ne!(pairs.batch(1, 0)?, epoch[0]);
//! # Ok::<(), fsl_sequences::Error>(())
//! ```

mod draw;
pub mod episode;
mod error;
pub mod kshot;
mod loadable;
mod loaded;
pub mod loader;
pub mod pairs;
pub mod parallel_loader;
mod seed;
pub mod sequence;
pub mod single;
mod tables;
pub mod triplet;

pub use episode::{
    Episode, EpisodeRanges, EpisodeSampler, EpisodeSequence, EpisodeSource, EpisodeSpec, SamplerOptions,
    VariableEpisodeSampler,
};
pub use error::{Error, Result};
pub use kshot::{KShotBatch, KShotBatches, KShotSpec};
pub use loadable::{ImageSide, LoadableBatch};
pub use loaded::{LoadedKShot, LoadedPairs, LoadedProduct, LoadedSingles, LoadedTriplets};
pub use loader::{EpisodeLoader, LoaderConfig, decode_images};
pub use pairs::{BalancedPairs, PairBatch, Product, ProductBatch, RandomBalancedPairs, RandomPairs, RandomProduct};
pub use parallel_loader::{LoaderBatches, LoaderImages, ParallelLoader};
pub use sequence::{EpochBatches, Sequence};
pub use single::{SingleBatch, SingleImages, TargetEncoding, Targets};
pub use tables::LabelTables;
pub use triplet::{TripletBatch, Triplets};
