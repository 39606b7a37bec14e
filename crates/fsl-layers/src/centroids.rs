//! Class centroids (prototypes) of a support set.

use candle_core::{D, Tensor};

use crate::one_hot::one_hot;
use crate::{Error, Result};

/// Computes the mean embedding of every class: `(Yᵀ normalised per column) · embeddings`.
///
/// `embeddings` is `S x D`, `labels` holds one class code in `0..n_classes` per row. The result is
/// `n_classes x D`. A class with no support item gets a zero row rather than a division by zero;
/// callers that compare queries against prototypes should not offer such a class as an answer.
pub fn centroids(embeddings: &Tensor, labels: &[u32], n_classes: usize) -> Result<Tensor> {
    let rows = embeddings.dims()[0];
    if embeddings.rank() != 2 || rows != labels.len() {
        return Err(Error::ShapeMismatch {
            operation: "centroids",
            details: format!(
                "expected an S x D embedding matrix with one row per label ({} labels), got {:?}",
                labels.len(),
                embeddings.dims()
            ),
        });
    }

    let membership = one_hot(labels, n_classes, embeddings.dtype(), embeddings.device())?.t()?;
    let counts = membership.sum_keepdim(D::Minus1)?.clamp(1.0, f64::MAX)?;
    let weights = membership.broadcast_div(&counts)?;
    Ok(weights.matmul(embeddings)?)
}
