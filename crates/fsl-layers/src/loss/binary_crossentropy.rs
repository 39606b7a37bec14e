//! Binary cross-entropy: on probabilities, on logits, and on a Gram matrix against the adjacency
//! of the labels.

use candle_core::{DType, Tensor};

use super::{EPSILON, Reduction, checks};
use crate::{Error, Result};

/// Computes the binary cross-entropy of the Gram matrix `y_pred` (`B x B` probabilities) against
/// the adjacency `A = y_true · y_trueᵀ`, reduced by `reduction`.
///
/// Each element is `-(A ln p + (1 - A) ln(1 - p))` with `p` clipped once to
/// `[EPSILON, 1 - EPSILON]` in the dtype of `y_pred`. A prediction of exactly 0 or 1 on the right
/// side therefore costs almost 0 (the `0 · ln 0` term counts 0), and on the wrong side about 16.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and [`Error::InvalidArgument`] for an
/// empty batch or an invalid [`Reduction::Percentile`].
pub fn binary_crossentropy(y_true: &Tensor, y_pred: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let labels = checks::gram_inputs("binary_crossentropy", y_true, y_pred)?;
    let adjacency = checks::adjacency(&labels)?;

    let losses = clipped_log_losses(y_pred, &adjacency)?;
    reduction.apply(&losses)
}

/// Computes the mean binary cross-entropy of the Gram matrix `y_pred` against the adjacency of
/// `y_true`, over the elements whose loss lies between `-ln(1 - lower)` and `-ln(1 - upper)`.
///
/// `lower` and `upper` are errors in probability: `lower = 0.1` ignores pairs already predicted
/// within 0.1 of their target, and `upper = 0.9` ignores pairs off by more than 0.9 (outliers or
/// label noise). Both bounds are inclusive, so `(0.0, 1.0)` keeps every element and equals
/// [`binary_crossentropy`] with [`Reduction::Mean`]. When no element is in range the loss is 0
/// with a zero gradient, never NaN. The element-wise losses are those of [`binary_crossentropy`].
///
/// # Errors
///
/// As [`binary_crossentropy`], and [`Error::InvalidArgument`] unless `0 <= lower < upper <= 1`.
pub fn clipped_binary_crossentropy(y_true: &Tensor, y_pred: &Tensor, lower: f64, upper: f64) -> Result<Tensor> {
    let labels = checks::gram_inputs("clipped_binary_crossentropy", y_true, y_pred)?;
    if !(0.0..1.0).contains(&lower) {
        return Err(Error::InvalidArgument {
            name: "lower",
            value: lower.to_string(),
            reason: "the lower bound is a probability error in [0, 1)",
        });
    }
    if !(upper > lower && upper <= 1.0) {
        return Err(Error::InvalidArgument {
            name: "upper",
            value: upper.to_string(),
            reason: "the upper bound is a probability error in (lower, 1]",
        });
    }

    let adjacency = checks::adjacency(&labels)?;
    let losses = clipped_log_losses(y_pred, &adjacency)?;

    // -ln(1 - 1) is +inf, which keeps every finite loss as the upper bound requires.
    let in_range = losses.ge(-(1.0 - lower).ln())?.mul(&losses.le(-(1.0 - upper).ln())?)?;
    let count = in_range.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    if count == 0.0 {
        return checks::zero_loss(y_pred);
    }

    let kept = in_range.where_cond(&losses, &losses.zeros_like()?)?;
    Ok(kept.sum_all()?.affine(1.0 / count, 0.0)?)
}

/// Computes the element-wise binary cross-entropy of `probabilities` against `targets` (same
/// shape, targets in `[0, 1]`), without reduction; [`Reduction::apply`] reduces the result.
///
/// Probabilities are clipped once to `[EPSILON, 1 - EPSILON]` in their own dtype. In f32,
/// `1 - EPSILON` rounds to 0.99999988, so a target of 0 with a probability of 1 costs 15.942385
/// and a target of 1 with a probability of 0 costs 16.118095.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] for different shapes, [`Error::UnsupportedDType`] unless
/// `probabilities` are f32 or f64, [`Error::InvalidArgument`] for empty tensors.
pub fn elementwise_binary_crossentropy(probabilities: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let targets = checks::same_shape(
        "elementwise_binary_crossentropy",
        "probabilities",
        probabilities,
        targets,
    )?;
    clipped_log_losses(probabilities, &targets)
}

/// Computes the mean binary cross-entropy of `sigmoid(logits)` against `targets` (same shape,
/// targets in `[0, 1]`) without forming the sigmoid.
///
/// Each element is `max(z, 0) - z y + ln(1 + exp(-|z|))`: the exponent is never positive, so
/// large logits of either sign give large finite losses and never NaN. The last term is evaluated
/// as a plain logarithm because candle has no `log1p`, so its absolute error is about one unit in
/// the last place of 1 (6e-8 in f32).
///
/// # Errors
///
/// As [`elementwise_binary_crossentropy`].
pub fn binary_crossentropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let targets = checks::same_shape("binary_crossentropy_with_logits", "logits", logits, targets)?;

    let positive_part = logits.relu()?;
    let softplus_tail = logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    let losses = ((positive_part - logits.mul(&targets)?)? + softplus_tail)?;
    Ok(losses.mean_all()?)
}

/// Element-wise `-(y ln p + (1 - y) ln(1 - p))` with `p` clipped once to `[ε, 1 - ε]`, both bounds
/// rounded to the dtype of `p` as that dtype would compute them.
pub(crate) fn clipped_log_losses(probabilities: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (low, high) = match probabilities.dtype() {
        DType::F32 => (EPSILON as f32 as f64, (1.0f32 - EPSILON as f32) as f64),
        _ => (EPSILON, 1.0 - EPSILON),
    };
    let clipped = probabilities.clamp(low, high)?;

    let positive = targets.mul(&clipped.log()?)?;
    let negative = targets.affine(-1.0, 1.0)?.mul(&clipped.affine(-1.0, 1.0)?.log()?)?;
    Ok((positive + negative)?.neg()?)
}
