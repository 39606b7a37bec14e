//! Distances without a matrix-product form, evaluated on explicit differences.

use candle_core::{D, Tensor};

use super::{Kernel, check_pairs_shapes};
use crate::Result;

/// Manhattan distance `Σ |x - x'|`.
///
/// All pairs are evaluated in chunks through [`Kernel::pairs`]. At `x = x'` the gradient of
/// `|x - x'|` is taken as `+1` for `x`, as candle's `abs` does.
#[derive(Debug, Clone, Copy, Default)]
pub struct L1;

impl Kernel for L1 {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes("l1", x, y)?;
        Ok((x - y)?.abs()?.sum(D::Minus1)?)
    }

    fn is_distance(&self) -> bool {
        true
    }
}

/// Chebyshev distance `max |x - x'|`.
///
/// When several coordinates share the maximum, each of them receives the gradient, following
/// candle's `max` reduction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linf;

impl Kernel for Linf {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes("linf", x, y)?;
        Ok((x - y)?.abs()?.max(D::Minus1)?)
    }

    fn is_distance(&self) -> bool {
        true
    }
}

/// Computes Manhattan distances between the rows of `a` and `b`; see [`L1`].
pub fn l1(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    L1.pairwise(a, b)
}

/// Computes Chebyshev distances between the rows of `a` and `b`; see [`Linf`].
pub fn linf(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Linf.pairwise(a, b)
}
