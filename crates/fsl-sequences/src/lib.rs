//! Samplers that decide what a few-shot model is trained and evaluated on.
//!
//! The [`episode`] module draws N-way K-shot episodes as item indices into a label list, with
//! every feasibility check done when the sampler is built.
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

pub mod episode;
mod error;
pub mod loader;

pub use episode::{Episode, EpisodeSampler, EpisodeSpec, SamplerOptions};
pub use error::{Error, Result};
pub use loader::{EpisodeLoader, LoaderConfig, decode_images};
