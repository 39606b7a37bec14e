//! Kernels: functions `k(x, x')` comparing two embeddings, evaluated for all pairs of two sets.

use candle_core::{D, Tensor};

use crate::{Error, Result};

/// A kernel evaluated on every pair of rows of two embedding matrices.
pub trait Kernel: Send + Sync {
    /// Computes the `A x B` matrix of kernel values between the rows of `a` (`A x D`) and of `b`
    /// (`B x D`).
    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor>;

    /// Returns whether small values mean similar items (a distance) rather than large ones.
    fn is_distance(&self) -> bool;
}

/// Squared Euclidean distance `Σ (x - x')²`, the kernel of prototypical networks.
///
/// It is computed with the identity `|a|² + |b|² - 2 a·b`, one matrix product instead of an
/// `A x B x D` tensor of differences. Both sets are first centred on the mean of `b`: distances do
/// not change under translation, and small coordinates avoid the cancellation that otherwise
/// turns nearly equal large vectors into negative or zero distances in f32. The result is clamped
/// at 0 so rounding never produces a negative distance.
#[derive(Debug, Clone, Copy, Default)]
pub struct SquaredL2;

impl Kernel for SquaredL2 {
    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes("squared_l2", a, b)?;

        let centre = b.mean_keepdim(0)?;
        let a = a.broadcast_sub(&centre)?;
        let b = b.broadcast_sub(&centre)?;

        let a_norms = a.sqr()?.sum_keepdim(D::Minus1)?;
        let b_norms = b.sqr()?.sum_keepdim(D::Minus1)?.t()?;
        let products = a.matmul(&b.t()?)?;

        let distances = a_norms.broadcast_add(&b_norms)?.broadcast_sub(&(products * 2.0)?)?;
        Ok(distances.relu()?)
    }

    fn is_distance(&self) -> bool {
        true
    }
}

/// Computes squared Euclidean distances between the rows of `a` and `b`; see [`SquaredL2`].
pub fn squared_l2(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    SquaredL2.pairwise(a, b)
}

/// Checks that both inputs are matrices with the same number of columns.
pub(crate) fn check_pairwise_shapes(operation: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    let (a_dims, b_dims) = (a.dims(), b.dims());
    if a_dims.len() != 2 || b_dims.len() != 2 || a_dims[1] != b_dims[1] {
        return Err(Error::ShapeMismatch {
            operation,
            details: format!("expected two matrices with the same embedding size, got {a_dims:?} and {b_dims:?}"),
        });
    }
    Ok(())
}
