//! **fsl**: few-shot learning in Rust, on [candle](candle_core).
//!
//! This facade re-exports the crates of the workspace, each behind a cargo feature of the same
//! name (all on by default), so a project can depend on `fsl` alone or on any one crate:
//!
//! | feature | crate | contents |
//! |---|---|---|
//! | `layers` | [`layers`] (`fsl-layers`) | kernels, prototypes, losses, metrics, CPU operations with their gradients |
//! | `models` | [`models`] (`fsl-models`) | encoders; prototypical, matching, relation and siamese networks; training, evaluation, checkpoints |
//! | `sequences` | [`sequences`] (`fsl-sequences`) | episode samplers and loaders |
//! | `datasets` | [`datasets`] (`fsl-datasets`) | Arrow annotation tables, Parquet, Omniglot, image folders |
//! | `augment` | [`augment`] (`fsl-augment`) | seeded image augmentation |
//! | `vision-datasets` | | MNIST and CIFAR through candle-datasets (brings an HTTP stack) |
//!
//! The [`omniglot`] module, with all default features, holds the main job of the `fsl` command
//! line: train prototypical networks on Omniglot and evaluate them on unseen alphabets. The
//! [`allocator`] module tunes mimalloc for programs that make it their global allocator, and
//! [`threads`] keeps candle's element-wise pool from competing with fsl's kernels for cores.
//!
//! # Example
//!
//! Sample a 3-way 1-shot episode from labels and compare embeddings to its prototypes:
//!
//! ```
//! use fsl::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let labels = ["cat", "cat", "dog", "dog", "owl", "owl"].map(String::from);
//! let sampler = EpisodeSampler::new(&labels, EpisodeSpec::new(3, 1, 1)?, SamplerOptions::new())?;
//! let episode = sampler.episode(42, 0);
//! assert_eq!(episode.support_labels, [0, 1, 2]);
//! assert_eq!(episode.query_labels, [0, 1, 2]);
//!
//! // Stand-in embeddings: item i is the point (i / 2), so the two items of a class coincide.
//! let embed = |items: &[usize]| -> candle_core::Result<candle_core::Tensor> {
//!     let values: Vec<f32> = items.iter().map(|&item| (item / 2) as f32).collect();
//!     candle_core::Tensor::from_vec(values, (items.len(), 1), &candle_core::Device::Cpu)
//! };
//! let prototypes = centroids(&embed(&episode.support)?, &episode.support_labels, 3)?;
//! let distances = squared_l2(&embed(&episode.query)?, &prototypes)?;
//! assert_eq!(accuracy(&distances, &episode.query_labels, true)?, 1.0);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "augment")]
pub use fsl_augment as augment;
#[cfg(feature = "datasets")]
pub use fsl_datasets as datasets;
#[cfg(feature = "layers")]
pub use fsl_layers as layers;
#[cfg(feature = "models")]
pub use fsl_models as models;
#[cfg(feature = "sequences")]
pub use fsl_sequences as sequences;

pub mod allocator;
mod error;
#[cfg(all(feature = "models", feature = "sequences", feature = "datasets", feature = "augment"))]
pub mod omniglot;
#[allow(unsafe_code)]
pub mod threads;
pub use error::{Error, Result};

/// The names most programs need, for `use fsl::prelude::*`.
pub mod prelude {
    #[cfg(feature = "augment")]
    pub use fsl_augment::{Affine, AffineConfig, Augmenter, Sequence, Sometimes};
    #[cfg(feature = "datasets")]
    pub use fsl_datasets::AnnotationTable;
    #[cfg(feature = "layers")]
    pub use fsl_layers::{
        EpisodeBatch, Kernel, SquaredL2, accuracy, centroids, predict, prototypical_loss, squared_l2,
    };
    #[cfg(feature = "models")]
    pub use fsl_models::{
        Conv4, Conv4Config, EncoderConfig, EpisodeSource, EvaluationReport, FewShotNetwork, HeadConfig, KernelConfig,
        ModelConfig, TrainConfig, evaluate, train,
    };
    #[cfg(feature = "sequences")]
    pub use fsl_sequences::{EpisodeLoader, EpisodeSampler, EpisodeSpec, LoaderConfig, SamplerOptions};
}

/// The Rust code blocks of README.md, compiled as doctests so that the getting-started code
/// stays in step with the library.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
