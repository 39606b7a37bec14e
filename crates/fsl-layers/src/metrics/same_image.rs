//! The same-image score: the kernel value of every item with itself.

use candle_core::Tensor;

use crate::Result;
use crate::loss::checks;

/// Computes the mean of the diagonal of the Gram matrix `y_pred` (`B x B`): the score of every
/// item against itself, 1 for a well-behaved similarity and 0 for a distance.
///
/// # Errors
///
/// [`crate::Error::ShapeMismatch`] unless `y_pred` is a non-empty square matrix, and
/// [`crate::Error::UnsupportedDType`] unless it is f32 or f64.
pub fn same_image_score(y_pred: &Tensor) -> Result<f64> {
    let batch = checks::square_matrix("same_image_score", y_pred)?;

    let diagonal_sum = y_pred
        .to_dtype(candle_core::DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?
        .iter()
        .step_by(batch + 1)
        .sum::<f64>();
    Ok(diagonal_sum / batch as f64)
}
