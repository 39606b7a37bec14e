//! The dot product.

use candle_core::{D, Tensor};

use super::{Kernel, check_pairs_shapes, check_pairwise_shapes};
use crate::Result;

/// Dot product `x · x'`, a similarity; all pairs are one matrix product.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dot;

impl Kernel for Dot {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes("dot", x, y)?;
        Ok((x * y)?.sum(D::Minus1)?)
    }

    fn is_distance(&self) -> bool {
        false
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes("dot", a, b)?;
        Ok(a.matmul(&b.t()?)?)
    }
}

/// Computes dot products between the rows of `a` and `b`; see [`Dot`].
pub fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Dot.pairwise(a, b)
}
