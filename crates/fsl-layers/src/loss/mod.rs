//! Losses: the prototypical-networks loss, and losses on the Gram matrix of a batch.
//!
//! The Gram-matrix losses take `y_true`, the `B x C` one-hot label matrix of the batch, and
//! `y_pred`, the `B x B` matrix of kernel values between its items (the output of a
//! `GramMatrix` layer). Two items are a positive pair where the adjacency matrix
//! `A = y_true · y_trueᵀ` is 1. Every loss returns a differentiable scalar tensor in the dtype of
//! `y_pred` (f32 or f64), finite for finite inputs, because probabilities are clipped to
//! `[EPSILON, 1 - EPSILON]` before any logarithm and square roots see a floored argument.
//!
//! | loss | `y_pred` contains |
//! |---|---|
//! | [`binary_crossentropy()`], [`clipped_binary_crossentropy`] | probabilities of sharing a class |
//! | [`mean_score_classification_loss`], [`class_consistency_loss`] | similarities, best in `[0, 1]` |
//! | [`semi_hard_triplet_loss`] | distances, any monotone kind |
//! | [`contrastive_loss`] | squared Euclidean distances |
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use fsl_layers::loss::{Reduction, binary_crossentropy};
//! use fsl_layers::one_hot;
//!
//! # fn main() -> fsl_layers::Result<()> {
//! let device = Device::Cpu;
//! let y_true = one_hot(&[0, 0, 1], 2, DType::F32, &device)?;
//! let y_pred = Tensor::new(&[[0.9f32, 0.8, 0.1], [0.8, 0.9, 0.2], [0.1, 0.2, 0.9]], &device)?;
//!
//! let loss = binary_crossentropy(&y_true, &y_pred, Reduction::Mean)?.to_scalar::<f32>()?;
//! assert!(loss > 0.0 && loss < 0.2);
//! # Ok(())
//! # }
//! ```

mod binary_crossentropy;
pub(crate) mod checks;
mod class_consistency;
mod contrastive;
mod mean_score;
mod prototypical;
mod reduction;
mod triplet;

pub use binary_crossentropy::{
    binary_crossentropy, binary_crossentropy_with_logits, clipped_binary_crossentropy, elementwise_binary_crossentropy,
};
pub use class_consistency::class_consistency_loss;
pub use contrastive::{SQUARED_DISTANCE_FLOOR, contrastive_loss, pair_contrastive_loss};
pub(crate) use mean_score::class_mean_scores;
pub use mean_score::mean_score_classification_loss;
pub use prototypical::prototypical_loss;
pub use reduction::Reduction;
pub use triplet::semi_hard_triplet_loss;

/// The clipping bound of probabilities before a logarithm, converted to the dtype of the input:
/// `1e-7`, as in Keras, so that a saturated prediction costs about 16.1 and never infinity.
pub const EPSILON: f64 = 1e-7;
