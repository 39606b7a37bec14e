//! Metrics: accuracy of a score matrix, and statistics of the Gram matrix of a batch.
//!
//! The Gram-matrix metrics take `y_true`, the `B x C` one-hot label matrix of the batch, and
//! `y_pred`, the `B x B` matrix of kernel values between its items, in f32 or f64. They are read
//! on the host and return an `f64` without a gradient, for logging and evaluation.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use fsl_layers::metrics::{min_eigenvalue, top_score_classification_accuracy};
//! use fsl_layers::one_hot;
//!
//! # fn main() -> fsl_layers::Result<()> {
//! let device = Device::Cpu;
//! let y_true = one_hot(&[0, 0, 1], 2, DType::F32, &device)?;
//! let y_pred = Tensor::new(&[[1f32, 0.8, 0.3], [0.8, 1.0, 0.2], [0.3, 0.2, 1.0]], &device)?;
//!
//! // The third item's best other item is of another class.
//! let accuracy = top_score_classification_accuracy(&y_true, &y_pred, false)?;
//! assert!((accuracy - 2.0 / 3.0).abs() < 1e-12);
//! assert!(min_eigenvalue(&y_pred)? > 0.0);
//! # Ok(())
//! # }
//! ```

mod accuracy;
mod classification;
mod eigenvalue;
mod margin;
mod same_image;

use candle_core::{DType, Tensor};

pub use accuracy::{accuracy, predict};
pub use classification::{mean_score_classification_accuracy, top_score_classification_accuracy};
pub use eigenvalue::min_eigenvalue;
pub use margin::margin_accuracy;
pub use same_image::same_image_score;

use crate::Result;

/// Copies a matrix to the host as rows of `f64`.
fn host_rows(matrix: &Tensor) -> Result<Vec<Vec<f64>>> {
    Ok(matrix.to_dtype(DType::F64)?.to_vec2::<f64>()?)
}
