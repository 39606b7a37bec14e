//! The squared Euclidean distance.

use candle_core::{D, DType, Tensor};

use super::{Kernel, check_pairs_shapes, check_pairwise_shapes};
use crate::Result;
use crate::ops::{SquaredDistances, sampled_centre};

/// Squared Euclidean distance `Σ (x - x')²`, the kernel of prototypical networks.
///
/// It is computed with the identity `|a|² + |b|² - 2 a·b`, one matrix product instead of an
/// `A x B x D` tensor of differences. On the CPU in f32 and f64 this is one fused operation with
/// its own gradient, elsewhere candle's tensor operations.
///
/// Both sets are first centred on the mean of the finite values of `b` (of 64 evenly spaced rows
/// when `b` has more). Distances do not change under translation, and small coordinates avoid
/// the cancellation that otherwise turns nearly equal large vectors into negative or zero
/// distances in f32. The result is clamped at 0 so
/// rounding never produces a negative distance. A row containing NaN gives NaN distances in its
/// own row or column only, because it does not enter the centre.
#[derive(Debug, Clone, Copy, Default)]
pub struct SquaredL2;

impl Kernel for SquaredL2 {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes("squared_l2", x, y)?;
        Ok((x - y)?.sqr()?.sum(D::Minus1)?)
    }

    fn is_distance(&self) -> bool {
        true
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes("squared_l2", a, b)?;
        if a.device().is_cpu() && matches!(a.dtype(), DType::F32 | DType::F64) && a.dtype() == b.dtype() {
            return Ok(SquaredDistances::apply(a, b)?);
        }

        let centre = sampled_centre(b)?;
        let a = a.broadcast_sub(&centre)?;
        let b = b.broadcast_sub(&centre)?;

        let a_norms = a.sqr()?.sum_keepdim(D::Minus1)?;
        let b_norms = b.sqr()?.sum_keepdim(D::Minus1)?.t()?;
        let products = a.matmul(&b.t()?)?;

        // (d + |d|) / 2 clamps rounding errors below zero like a ReLU, but unlike candle's ReLU it
        // keeps NaN: a NaN embedding must not look like a perfect match at distance 0.
        let distances = a_norms.broadcast_add(&b_norms)?.broadcast_sub(&(products * 2.0)?)?;
        Ok(((&distances + distances.abs()?)? * 0.5)?)
    }
}

/// Computes squared Euclidean distances between the rows of `a` and `b`; see [`SquaredL2`].
pub fn squared_l2(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    SquaredL2.pairwise(a, b)
}
