//! The contrastive loss of Hadsell, Chopra and LeCun (2006), on explicit pairs or on a Gram matrix.

use candle_core::Tensor;

use super::checks;
use crate::Result;

/// The floor of a squared distance before its square root, so that `d = sqrt(max(d², 1e-12))`
/// has a finite gradient for identical points (where it is 0, because the floor is flat).
pub const SQUARED_DISTANCE_FLOOR: f64 = 1e-12;

/// Computes the mean contrastive loss of explicit pairs.
///
/// `squared_distances` contains the squared Euclidean distance of each pair and `similar` is 1 for a
/// pair of the same class and 0 otherwise (same shape). Each pair costs
/// `y d² + (1 - y) max(0, margin - d)²` with `d = sqrt(max(d², SQUARED_DISTANCE_FLOOR))`, so a
/// dissimilar pair of identical points costs `(margin - 1e-6)²` and has a zero gradient rather
/// than NaN.
///
/// # Errors
///
/// [`crate::Error::ShapeMismatch`] for different shapes, [`crate::Error::UnsupportedDType`] unless
/// `squared_distances` are f32 or f64, and [`crate::Error::InvalidArgument`] for empty tensors or a
/// margin that is negative or not finite.
pub fn pair_contrastive_loss(squared_distances: &Tensor, similar: &Tensor, margin: f64) -> Result<Tensor> {
    let similar = checks::same_shape("pair_contrastive_loss", "squared_distances", squared_distances, similar)?;
    checks::margin(margin)?;

    Ok(contrastive_losses(squared_distances, &similar, margin)?.mean_all()?)
}

/// Computes the contrastive loss of the squared-Euclidean Gram matrix `y_pred` (`B x B`, as the
/// `squared_l2` kernel returns) over every ordered pair `i != j` of the batch.
///
/// A pair is similar where `A = y_true · y_trueᵀ` is 1, and costs as in
/// [`pair_contrastive_loss`]. The diagonal is left out, so a batch of one item gives 0 with a zero
/// gradient.
///
/// # Errors
///
/// [`crate::Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`crate::Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and
/// [`crate::Error::InvalidArgument`] for an empty batch or a margin that is negative or not finite.
pub fn contrastive_loss(y_true: &Tensor, y_pred: &Tensor, margin: f64) -> Result<Tensor> {
    let labels = checks::gram_inputs("contrastive_loss", y_true, y_pred)?;
    checks::margin(margin)?;
    let batch = labels.dim(0)?;
    if batch == 1 {
        return checks::zero_loss(y_pred);
    }

    let adjacency = checks::adjacency(&labels)?;
    let losses = contrastive_losses(y_pred, &adjacency, margin)?;

    let identity = Tensor::eye(batch, y_pred.dtype(), y_pred.device())?;
    let off_diagonal = identity.affine(-1.0, 1.0)?;
    let pair_count = (batch * (batch - 1)) as f64;
    Ok(losses.mul(&off_diagonal)?.sum_all()?.affine(1.0 / pair_count, 0.0)?)
}

fn contrastive_losses(squared_distances: &Tensor, similar: &Tensor, margin: f64) -> Result<Tensor> {
    let floored = squared_distances.maximum(SQUARED_DISTANCE_FLOOR)?;
    let distances = floored.sqrt()?;

    let attraction = similar.mul(&floored)?;
    let shortfall = distances.affine(-1.0, margin)?.relu()?;
    let repulsion = similar.affine(-1.0, 1.0)?.mul(&shortfall.sqr()?)?;
    Ok((attraction + repulsion)?)
}
