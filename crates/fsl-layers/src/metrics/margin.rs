//! Margin accuracy: how many kernel values are within a margin of the adjacency matrix.

use candle_core::Tensor;

use super::host_rows;
use crate::loss::checks;
use crate::{Error, Result};

/// Computes the fraction of the `B²` pairs of the Gram matrix `y_pred`, diagonal included, whose
/// value is within `margin` of the adjacency `A = y_true · y_trueᵀ`: `|A - y_pred| < margin`.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and [`Error::InvalidArgument`] for an
/// empty batch or a margin that is not a finite number above 0.
pub fn margin_accuracy(y_true: &Tensor, y_pred: &Tensor, margin: f64) -> Result<f64> {
    let labels = checks::gram_inputs("margin_accuracy", y_true, y_pred)?;
    if !(margin.is_finite() && margin > 0.0) {
        return Err(Error::InvalidArgument {
            name: "margin",
            value: margin.to_string(),
            reason: "the margin of margin accuracy must be a finite number above 0",
        });
    }

    let adjacency = host_rows(&checks::adjacency(&labels)?)?;
    let scores = host_rows(y_pred)?;

    let pairs = adjacency.iter().flatten().zip(scores.iter().flatten());
    let within = pairs.filter(|&(target, score)| (target - score).abs() < margin).count();
    Ok(within as f64 / (adjacency.len() * adjacency.len()) as f64)
}
