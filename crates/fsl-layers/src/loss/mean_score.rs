//! The mean-score classification loss: each item is classified by its mean score against every
//! class of the batch.

use candle_core::Tensor;

use super::{EPSILON, checks};
use crate::Result;

/// Computes the mean-score classification loss of the similarity Gram matrix `y_pred` (`B x B`).
///
/// The score of item `i` for class `c` is the mean of `y_pred[i, j]` over the items `j` of class
/// `c`, the item itself included: `y_pred · Y` with each column divided by its class size. Each
/// row of scores is divided by its L1 norm, and the loss is the mean over items of
/// `-Σ_c y_true[i, c] ln(max(score[i, c], EPSILON))`, the cross-entropy on the true class.
/// Classes absent from the batch score 0 and never divide by zero. Similarities are expected to be
/// non-negative: a negative score still counts in the L1 norm, and a true-class score at or below
/// `EPSILON` costs `-ln(EPSILON)`, about 16.1.
///
/// # Errors
///
/// [`crate::Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`crate::Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and
/// [`crate::Error::InvalidArgument`] for an empty batch.
pub fn mean_score_classification_loss(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let labels = checks::gram_inputs("mean_score_classification_loss", y_true, y_pred)?;
    let scores = class_mean_scores(y_pred, &labels)?;

    // The floor only matters for an all-zero row, whose scores stay 0 after the division.
    let l1_norm = scores.abs()?.sum_keepdim(1)?.maximum(f32::MIN_POSITIVE as f64)?;
    let probabilities = scores.broadcast_div(&l1_norm)?;

    let log_probabilities = probabilities.maximum(EPSILON)?.log()?;
    let per_item = labels.mul(&log_probabilities)?.sum(1)?.neg()?;
    Ok(per_item.mean_all()?)
}

/// Computes the `B x C` mean score of every item against every class: `y_pred · labels` divided by the
/// class sizes. An empty class has an all-zero column, so flooring its size keeps its score at 0.
pub(crate) fn class_mean_scores(y_pred: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let class_sizes = labels.sum_keepdim(0)?.maximum(f32::MIN_POSITIVE as f64)?;
    Ok(y_pred.matmul(labels)?.broadcast_div(&class_sizes)?)
}
