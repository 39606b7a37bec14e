//! The triplet loss with semi-hard negative mining of FaceNet (Schroff et al., 2015).

use candle_core::{DType, Tensor};

use super::checks;
use crate::Result;

/// Computes the triplet loss of the distance Gram matrix `y_pred` (`B x B`) with semi-hard
/// negative mining.
///
/// Every anchor-positive pair `(a, p)`, `a != p` with the same class, is used. Its negative is the
/// closest item of another class that is farther from the anchor than the positive
/// (`d(a, n) > d(a, p)`), or else the farthest item of another class. The loss is the mean of
/// `max(d(a, p) - d(a, n) + margin, 0)` over these pairs, zero terms included. A batch without
/// any such pair (every class has one item, or every item has the same class) gives 0 with a zero
/// gradient, never NaN.
///
/// The mining reads the distances on the host and picks indices, so the gradient flows only
/// through the selected `d(a, p)` and `d(a, n)`.
///
/// # Errors
///
/// [`crate::Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`crate::Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and
/// [`crate::Error::InvalidArgument`] for an empty batch or a margin that is negative or not finite, and
/// [`crate::Error::NonFinite`] for NaN or infinite distances, which mining cannot rank.
pub fn semi_hard_triplet_loss(y_true: &Tensor, y_pred: &Tensor, margin: f64) -> Result<Tensor> {
    let labels = checks::gram_inputs("semi_hard_triplet_loss", y_true, y_pred)?;
    checks::margin(margin)?;

    let same_class = checks::adjacency(&labels)?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let distances = y_pred.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    checks::finite_rows("y_pred", &distances)?;
    let (positive_indices, negative_indices) = mine_triplets(&same_class, &distances);
    if positive_indices.is_empty() {
        return checks::zero_loss(y_pred);
    }

    let flat = y_pred.flatten_all()?;
    let positive_distances = flat.index_select(&Tensor::new(positive_indices, y_pred.device())?, 0)?;
    let negative_distances = flat.index_select(&Tensor::new(negative_indices, y_pred.device())?, 0)?;
    let hinge = (positive_distances - negative_distances)?.affine(1.0, margin)?.relu()?;
    Ok(hinge.mean_all()?)
}

/// Returns the flat indices into the `B x B` distance matrix of `d(a, p)` and of the mined
/// `d(a, n)`, one entry per anchor-positive pair that has a negative.
fn mine_triplets(same_class: &[Vec<f64>], distances: &[Vec<f64>]) -> (Vec<u32>, Vec<u32>) {
    let batch = distances.len();
    let flat_index = |row: usize, column: usize| (row * batch + column) as u32;
    let mut positive_indices = Vec::new();
    let mut negative_indices = Vec::new();

    for anchor in 0..batch {
        let row = &distances[anchor];
        let negatives: Vec<usize> = (0..batch).filter(|&n| same_class[anchor][n] < 0.5).collect();
        let Some(&farthest) = negatives.iter().max_by(|&&x, &&y| row[x].total_cmp(&row[y])) else {
            continue;
        };

        for positive in (0..batch).filter(|&p| p != anchor && same_class[anchor][p] >= 0.5) {
            let positive_distance = row[positive];
            let semi_hard = negatives
                .iter()
                .filter(|&&n| row[n] > positive_distance)
                .min_by(|&&x, &&y| row[x].total_cmp(&row[y]));

            positive_indices.push(flat_index(anchor, positive));
            negative_indices.push(flat_index(anchor, *semi_hard.unwrap_or(&farthest)));
        }
    }
    (positive_indices, negative_indices)
}
