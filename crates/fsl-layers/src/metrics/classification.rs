//! Classification accuracy read from a Gram matrix: by the best other item, or by the best class
//! mean score.

use candle_core::Tensor;

use super::host_rows;
use crate::loss::{checks, class_mean_scores};
use crate::{Error, Result};

/// Computes the fraction of items whose best *other* item in the Gram matrix `y_pred` (`B x B`)
/// has the same class, as a 1-nearest-neighbour classifier within the batch.
///
/// The best item has the largest score, or the smallest with `ascending` (for distances). Ties go
/// to the first item, and NaN scores never win.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and [`Error::InvalidArgument`] for a
/// batch of fewer than 2 items.
pub fn top_score_classification_accuracy(y_true: &Tensor, y_pred: &Tensor, ascending: bool) -> Result<f64> {
    let labels = checks::gram_inputs("top_score_classification_accuracy", y_true, y_pred)?;
    let batch = labels.dim(0)?;
    if batch < 2 {
        return Err(Error::InvalidArgument {
            name: "batch size",
            value: batch.to_string(),
            reason: "top-score accuracy compares every item with another one, so the batch needs 2 items or more",
        });
    }

    let same_class = host_rows(&checks::adjacency(&labels)?)?;
    let scores = host_rows(y_pred)?;
    checks::finite_rows("y_pred", &scores)?;

    let correct = (0..batch)
        .filter(|&item| {
            let others = (0..batch).filter(|&other| other != item);
            best_index(others, &scores[item], ascending).is_some_and(|best| same_class[item][best] >= 0.5)
        })
        .count();
    Ok(correct as f64 / batch as f64)
}

/// Computes the fraction of items whose best class mean score is their own class.
///
/// The score of item `i` for class `c` is the mean of `y_pred[i, j]` over the items `j` of class
/// `c`, the item itself included, as in [`crate::loss::mean_score_classification_loss`]. Only
/// classes present in the batch compete. The best class has the largest score, or the smallest
/// with `ascending`; ties go to the first class.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] unless `y_true` is `B x C` and `y_pred` is `B x B`,
/// [`Error::UnsupportedDType`] unless `y_pred` is f32 or f64, and [`Error::InvalidArgument`] for an
/// empty batch.
pub fn mean_score_classification_accuracy(y_true: &Tensor, y_pred: &Tensor, ascending: bool) -> Result<f64> {
    let labels = checks::gram_inputs("mean_score_classification_accuracy", y_true, y_pred)?;
    let scores = host_rows(&class_mean_scores(y_pred, &labels)?)?;
    checks::finite_rows("y_pred", &scores)?;
    let labels = host_rows(&labels)?;

    let classes = labels[0].len();
    let present: Vec<usize> = (0..classes)
        .filter(|&class| labels.iter().any(|row| row[class] > 0.0))
        .collect();

    let correct = labels
        .iter()
        .zip(&scores)
        .filter(|(label_row, score_row)| {
            best_index(present.iter().copied(), score_row, ascending).is_some_and(|best| label_row[best] >= 0.5)
        })
        .count();
    Ok(correct as f64 / labels.len() as f64)
}

/// Returns the first candidate with the best value, the largest or with `ascending` the smallest,
/// skipping NaN; `None` when every candidate is NaN.
fn best_index(candidates: impl Iterator<Item = usize>, values: &[f64], ascending: bool) -> Option<usize> {
    let is_better = |value: f64, best: f64| if ascending { value < best } else { value > best };

    let mut best: Option<usize> = None;
    for candidate in candidates.filter(|&index| !values[index].is_nan()) {
        if best.is_none_or(|current| is_better(values[candidate], values[current])) {
            best = Some(candidate);
        }
    }
    best
}
