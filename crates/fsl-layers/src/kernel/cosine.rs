//! Cosine similarity and distance, finite for zero and tiny vectors.

use candle_core::{D, DType, Tensor};

use super::{Kernel, check_pairs_shapes, check_pairwise_shapes};
use crate::Result;
use crate::ops::{CosineSimilarities, unit_rows};

/// Cosine similarity `x·x' / (|x| |x'|)`, in `[-1, 1]`. A zero vector has similarity 0 to
/// everything, with a finite gradient.
///
/// Each row is divided by its largest absolute coordinate before its norm is taken, so that
/// vectors of tiny or huge magnitude (`1e-30` squares to 0 in f32) keep their direction. All
/// pairs are one matrix product of the normalised rows, clamped to `[-1, 1]` against rounding: on
/// the CPU in f32 and f64 one fused operation with its own gradient, elsewhere candle's tensor
/// operations.
#[derive(Debug, Clone, Copy, Default)]
pub struct CosineSimilarity;

impl Kernel for CosineSimilarity {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes("cosine_similarity", x, y)?;
        let products = (normalize_rows(x)? * normalize_rows(y)?)?.sum(D::Minus1)?;
        Ok(products.clamp(-1.0, 1.0)?)
    }

    fn is_distance(&self) -> bool {
        false
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes("cosine_similarity", a, b)?;
        if a.device().is_cpu() && matches!(a.dtype(), DType::F32 | DType::F64) && a.dtype() == b.dtype() {
            return Ok(CosineSimilarities::apply(a, b)?);
        }
        let products = normalize_rows(a)?.matmul(&normalize_rows(b)?.t()?)?;
        Ok(products.clamp(-1.0, 1.0)?)
    }
}

/// Cosine distance `1 - cos(x, x')`, in `[0, 2]`. A zero vector is at distance 1 from everything.
///
/// It shares the normalisation of [`CosineSimilarity`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CosineDistance;

impl Kernel for CosineDistance {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(CosineSimilarity.pairs(x, y)?.affine(-1.0, 1.0)?)
    }

    fn is_distance(&self) -> bool {
        true
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok(CosineSimilarity.pairwise(a, b)?.affine(-1.0, 1.0)?)
    }
}

/// Computes cosine similarities between the rows of `a` and `b`; see [`CosineSimilarity`].
pub fn cosine_similarity(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    CosineSimilarity.pairwise(a, b)
}

/// Computes cosine distances between the rows of `a` and `b`; see [`CosineDistance`].
pub fn cosine_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    CosineDistance.pairwise(a, b)
}

/// Scales every row to unit length, leaving zero rows at zero; see [`unit_rows`].
fn normalize_rows(x: &Tensor) -> Result<Tensor> {
    Ok(unit_rows(x)?.0)
}
