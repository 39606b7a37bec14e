//! Accuracy of a score matrix against the class code of every row.

use candle_core::{D, Tensor};

use crate::{Error, Result};

/// Computes the fraction of rows of `scores` (`Q x C`) whose best column is the row's label.
///
/// With `ascending`, scores are distances and the smallest is best.
pub fn accuracy(scores: &Tensor, labels: &[u32], ascending: bool) -> Result<f64> {
    if labels.is_empty() {
        return Err(Error::InvalidArgument {
            name: "labels",
            value: "[]".into(),
            reason: "accuracy needs at least one query",
        });
    }

    let predictions = predict(scores, ascending)?;
    if predictions.len() != labels.len() {
        return Err(Error::ShapeMismatch {
            operation: "accuracy",
            details: format!("{} rows of scores but {} labels", predictions.len(), labels.len()),
        });
    }

    let correct = predictions.iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(correct as f64 / labels.len() as f64)
}

/// Returns the best column of every row of `scores` (`Q x C`); with `ascending`, the smallest.
///
/// A row holding NaN or an infinity is an [`Error::NonFinite`]: candle's argmin and argmax
/// would pick an arbitrary column for it.
pub fn predict(scores: &Tensor, ascending: bool) -> Result<Vec<u32>> {
    if scores.rank() != 2 || scores.dims()[1] == 0 {
        return Err(Error::ShapeMismatch {
            operation: "predict",
            details: format!(
                "expected a Q x C score matrix with at least one column, got {:?}",
                scores.dims()
            ),
        });
    }
    let rows = scores.to_dtype(candle_core::DType::F64)?.to_vec2::<f64>()?;
    crate::loss::checks::finite_rows("scores", &rows)?;

    let best = if ascending {
        scores.argmin(D::Minus1)?
    } else {
        scores.argmax(D::Minus1)?
    };
    Ok(best.to_vec1::<u32>()?)
}
