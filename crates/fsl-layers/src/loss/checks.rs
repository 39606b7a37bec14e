//! Input checks shared by the Gram-matrix losses and metrics.

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// Checks that `y_true` is a `B x C` label matrix and `y_pred` a `B x B` float Gram matrix, with
/// `B >= 1`, and returns `y_true` converted to the dtype of `y_pred`.
pub(crate) fn gram_inputs(operation: &'static str, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    float_dtype(operation, y_pred)?;

    let batch = match (y_true.dims(), y_pred.dims()) {
        (&[batch, _], &[rows, columns]) if rows == batch && columns == batch => batch,
        (true_dims, pred_dims) => {
            return Err(Error::ShapeMismatch {
                operation,
                details: format!(
                    "y_true has shape {true_dims:?} and y_pred has shape {pred_dims:?}; \
                     y_true must be B x C (one-hot labels) and y_pred the B x B Gram matrix of the same batch"
                ),
            });
        }
    };
    if batch == 0 {
        return Err(Error::InvalidArgument {
            name: "batch size",
            value: "0".into(),
            reason: "the batch needs at least one item",
        });
    }

    Ok(y_true.to_dtype(y_pred.dtype())?)
}

/// Checks that `y_pred` is a square `B x B` float matrix with `B >= 1` and returns `B`.
pub(crate) fn square_matrix(operation: &'static str, y_pred: &Tensor) -> Result<usize> {
    float_dtype(operation, y_pred)?;

    match y_pred.dims() {
        &[rows, columns] if rows == columns && rows > 0 => Ok(rows),
        dims => Err(Error::ShapeMismatch {
            operation,
            details: format!("y_pred has shape {dims:?}; it must be a non-empty B x B Gram matrix"),
        }),
    }
}

/// Checks that two element-wise inputs have the same non-empty shape and a float dtype, and
/// returns `targets` converted to the dtype of `predictions`.
pub(crate) fn same_shape(
    operation: &'static str,
    predictions_name: &str,
    predictions: &Tensor,
    targets: &Tensor,
) -> Result<Tensor> {
    float_dtype(operation, predictions)?;

    if predictions.dims() != targets.dims() {
        return Err(Error::ShapeMismatch {
            operation,
            details: format!(
                "{predictions_name} has shape {:?} and targets have shape {:?}; they must be equal",
                predictions.dims(),
                targets.dims()
            ),
        });
    }
    if predictions.elem_count() == 0 {
        return Err(Error::InvalidArgument {
            name: "element count",
            value: "0".into(),
            reason: "the loss needs at least one element",
        });
    }

    Ok(targets.to_dtype(predictions.dtype())?)
}

/// Rejects a margin that is negative, NaN or infinite.
pub(crate) fn margin(value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        name: "margin",
        value: value.to_string(),
        reason: "the margin must be a finite number >= 0",
    })
}

/// Computes the adjacency matrix `A = Y Yᵀ`, which is 1 where two items share a class.
pub(crate) fn adjacency(labels: &Tensor) -> Result<Tensor> {
    Ok(labels.matmul(&labels.t()?)?)
}

/// Returns a scalar 0 that depends on `like`, so that `backward` gives `like` a zero gradient rather than
/// none, even when `like` contains infinities.
pub(crate) fn zero_loss(like: &Tensor) -> Result<Tensor> {
    let never = like.zeros_like()?.to_dtype(DType::U8)?;
    Ok(never.where_cond(like, &like.zeros_like()?)?.sum_all()?)
}

fn float_dtype(operation: &'static str, tensor: &Tensor) -> Result<()> {
    match tensor.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        dtype => Err(Error::UnsupportedDType { operation, dtype }),
    }
}

/// Returns an [`Error::NonFinite`] naming the first row of `rows` that contains NaN or an infinity.
///
/// Mining and argmax-style decisions compare values on the host, where NaN compares false with
/// everything and would pass for a valid choice.
pub(crate) fn finite_rows(name: &'static str, rows: &[Vec<f64>]) -> Result<()> {
    match rows.iter().position(|row| row.iter().any(|value| !value.is_finite())) {
        Some(row) => Err(Error::NonFinite { name, row }),
        None => Ok(()),
    }
}
