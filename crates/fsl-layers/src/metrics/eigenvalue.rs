//! The smallest eigenvalue of a Gram matrix, a test of positive semi-definiteness.

use candle_core::Tensor;
use nalgebra::DMatrix;

use super::host_rows;
use crate::loss::checks;
use crate::{Error, Result};

/// Computes the smallest eigenvalue of the symmetric part `(K + Kᵀ) / 2` of the Gram matrix
/// `y_pred` (`B x B`), in f64.
///
/// A negative value means that the kernel matrix is not positive semi-definite, so the kernel is
/// not a valid Mercer kernel on this batch. This is the eigenvalue rather than the smallest
/// singular value, which is never negative and so cannot flag that. A PSD matrix of low rank
/// computed in f32 can give a slightly negative value from rounding, so compare against a
/// tolerance scaled to the largest kernel value.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] unless `y_pred` is a non-empty square matrix,
/// [`Error::UnsupportedDType`] unless it is f32 or f64, and [`Error::InvalidArgument`] if it contains
/// NaN or an infinity.
pub fn min_eigenvalue(y_pred: &Tensor) -> Result<f64> {
    let batch = checks::square_matrix("min_eigenvalue", y_pred)?;
    let rows = host_rows(y_pred)?;

    for (row_index, row) in rows.iter().enumerate() {
        if let Some(column) = row.iter().position(|value| !value.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "y_pred",
                value: format!("{} at row {row_index}, column {column}", row[column]),
                reason: "the eigenvalues of a Gram matrix need finite kernel values",
            });
        }
    }

    let kernel = DMatrix::from_fn(batch, batch, |i, j| rows[i][j]);
    let symmetric = (&kernel + kernel.transpose()) * 0.5;
    Ok(symmetric.symmetric_eigenvalues().min())
}
