//! Kernels, support layers, losses and metrics for few-shot learning on [candle](candle_core).
//!
//! A few-shot classifier embeds a *support set* (`k` labelled examples of each of `n` classes)
//! and a set of *queries*, then compares them with a *kernel*. This crate holds those pieces:
//!
//! - [`kernel`]: kernels evaluated on all pairs of two embedding matrices ([`SquaredL2`], [`L1`],
//!   [`Linf`], [`CosineDistance`], [`Dot`], and learnt ones), and the trait a user's own kernel
//!   implements.
//! - [`support`]: the Gram matrix of a batch, the [`CentroidsMatrix`] of queries against class
//!   prototypes ([`centroids()`]), and the [`SupportSetClassifier`] that serves label names.
//! - [`loss`]: losses on Gram matrices (binary cross-entropy and its reductions, mean-score,
//!   class-consistency, semi-hard triplet, contrastive) and the [`prototypical_loss`].
//! - [`metrics`]: accuracies of score and Gram matrices, same-image score, margin accuracy and
//!   the smallest eigenvalue of a kernel matrix.
//! - [`ops`]: operations with CPU kernels and gradients of their own ([`ops::MaxPool2d`],
//!   [`ops::BatchNorm2d`]).
//! - [`params`]: named, seeded parameters shared by the modules of a model.
//!
//! # Example
//!
//! Classify two queries against the prototypes of a 2-way 2-shot support set:
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use fsl_layers::{accuracy, centroids, prototypical_loss, squared_l2};
//!
//! # fn main() -> fsl_layers::Result<()> {
//! let device = Device::Cpu;
//! let support = Tensor::new(&[[0f32, 0.], [0., 2.], [10., 0.], [10., 2.]], &device)?;
//! let prototypes = centroids(&support, &[0, 0, 1, 1], 2)?;
//!
//! let queries = Tensor::new(&[[1f32, 1.], [9., 1.]], &device)?;
//! let distances = squared_l2(&queries, &prototypes)?;
//! assert_eq!(distances.to_vec2::<f32>()?, [[1.0, 81.0], [81.0, 1.0]]);
//!
//! assert_eq!(accuracy(&distances, &[0, 1], true)?, 1.0);
//! let loss = prototypical_loss(&distances, &[0, 1])?.to_scalar::<f32>()?;
//! assert!(loss < 1e-6);
//! # Ok(())
//! # }
//! ```

mod episode;
mod error;
pub mod kernel;
pub mod loss;
pub mod metrics;
mod one_hot;
pub mod ops;
pub mod params;
pub mod support;

pub use episode::EpisodeBatch;
pub use error::{Error, Result};
pub use kernel::{
    CosineDistance, CosineSimilarity, DenseSigmoid, Dot, Kernel, L1, LearntKernel, LearntNorms, Linf, MixedNorms,
    OutputActivation, RelationModule, SquaredL2, cosine_distance, cosine_similarity, dot, l1, linf, squared_l2,
};
pub use loss::{
    Reduction, binary_crossentropy, binary_crossentropy_with_logits, class_consistency_loss,
    clipped_binary_crossentropy, contrastive_loss, elementwise_binary_crossentropy, mean_score_classification_loss,
    pair_contrastive_loss, prototypical_loss, semi_hard_triplet_loss,
};
pub use metrics::{
    accuracy, margin_accuracy, mean_score_classification_accuracy, min_eigenvalue, predict, same_image_score,
    top_score_classification_accuracy,
};
pub use one_hot::{encode_labels, one_hot};
pub use support::{
    Activation, CentroidsMatrix, GramMatrix, Prediction, Prototypes, SupportSetClassifier, centroids, prototypes,
};
