//! The prototypical-networks loss.

use candle_core::{D, Tensor};

use crate::{Error, Result};

/// Computes the prototypical-networks loss: the mean cross-entropy of `softmax(-distances)`
/// against the true class of every query.
///
/// `distances` is `Q x C` (query to class prototype), `labels` holds the class code of each query.
/// The log-softmax is computed with the max-subtraction of `candle_nn::ops::log_softmax`, so very
/// large distances give large finite losses rather than infinities.
pub fn prototypical_loss(distances: &Tensor, labels: &[u32]) -> Result<Tensor> {
    let (queries, classes) = distances.dims2()?;
    if queries == 0 {
        return Err(Error::InvalidArgument {
            name: "queries",
            value: "0".into(),
            reason: "the loss needs at least one query per episode; set q_query to 1 or more",
        });
    }
    if queries != labels.len() {
        return Err(Error::ShapeMismatch {
            operation: "prototypical_loss",
            details: format!("{queries} rows of distances but {} labels", labels.len()),
        });
    }
    if let Some((position, &label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= classes) {
        return Err(Error::LabelOutOfRange {
            label,
            position,
            n_classes: classes,
        });
    }

    let log_probabilities = candle_nn::ops::log_softmax(&distances.neg()?, D::Minus1)?;
    let targets = Tensor::new(labels, distances.device())?;
    let picked = log_probabilities.gather(&targets.unsqueeze(1)?, 1)?;
    Ok(picked.neg()?.mean_all()?)
}
