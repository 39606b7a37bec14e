//! The class-consistency loss: the class x class mean-score matrix should be the identity.

use candle_core::{DType, Tensor};

use super::binary_crossentropy::clipped_log_losses;
use super::checks;
use crate::Result;

/// Computes the class-consistency loss of the similarity Gram matrix `y_pred` (`B x B`).
///
/// The mean score of classes `c` and `d` is the mean of `y_pred[i, j]` over the items `i` of
/// class `c` and `j` of class `d`, diagonal included. Its `C x C` matrix is compared with the
/// identity by the clipped binary cross-entropy of [`super::binary_crossentropy()`], averaged over
/// the pairs of classes present in the batch. A class absent from the batch (an all-zero column
/// of `y_true`) is masked out rather than scored as 0, and a batch without any labelled item
/// gives 0 with a zero gradient, never NaN.
///
/// # Errors
///
/// [`crate::Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`crate::Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and
/// [`crate::Error::InvalidArgument`] for an empty batch.
pub fn class_consistency_loss(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let labels = checks::gram_inputs("class_consistency_loss", y_true, y_pred)?;
    let classes = labels.dim(1)?;

    let class_sizes = labels.sum_keepdim(0)?;
    let present = class_sizes.gt(0.0)?.to_dtype(labels.dtype())?;
    let present_count = present.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    if present_count == 0.0 {
        return checks::zero_loss(y_pred);
    }

    // Columns of absent classes are all zero, so the floor keeps their mean scores at 0.
    let class_weights = labels.broadcast_div(&class_sizes.maximum(f32::MIN_POSITIVE as f64)?)?;
    let mean_scores = class_weights.t()?.matmul(&y_pred.matmul(&class_weights)?)?;

    let identity = Tensor::eye(classes, labels.dtype(), labels.device())?;
    let losses = clipped_log_losses(&mean_scores, &identity)?;

    let pair_mask = present.t()?.matmul(&present)?;
    let masked_sum = losses.mul(&pair_mask)?.sum_all()?;
    Ok(masked_sum.affine(1.0 / (present_count * present_count), 0.0)?)
}
