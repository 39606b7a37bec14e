//! Cosine similarities between two sets of rows as one fused operation.
//!
//! Written with tensor operations, normalising the rows takes about six passes over each input
//! and clamping two passes over the output, besides the matrix product. Here one pass finds the
//! inverse norm of every row, and the product of the scaled rows is clamped before it is stored.
//! In f32 on CPUs with AVX-512 the tiles of `distance_tiles` do both. Elsewhere `gemm` computes
//! the product and one more pass clamps it.
//!
//! Backward, with `â = a / |a|`, `b̂ = b / |b|` and `G` the upstream gradient where the
//! similarity lies strictly inside (-1, 1): `∂â = G b̂` and `∂a = (∂â - â ⊙ rowsum(∂â ⊙ â)) / |a|`,
//! and the same for `b` with `Gᵀ â`. A zero row has no direction: its gradient is `∂â`, as if
//! its norm were 1, which is what normalising with the norm replaced by 1 gives.

use candle_core::{CpuStorage, CustomOp2, D, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::gemm::{MatrixView, matmul_scaled};
use super::row_pairs::pairs_forward;

/// The fused cosine-similarity operation; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CosineSimilarities;

impl CosineSimilarities {
    /// Computes the `A x B` cosine similarities between the rows of `a` and `b`, which must be
    /// two f32 or f64 matrices with the same number of columns on the CPU.
    pub fn apply(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        a.contiguous()?.apply_op2(&b.contiguous()?, CosineSimilarities)
    }

    /// Computes the f32 forward pass, with the AVX-512 tile where the CPU has it.
    fn forward_f32(a: &[f32], b: &[f32], rows: usize, columns: usize, dim: usize) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = super::distance_tiles::Avx512::for_rows_of(dim) {
            let (a_scales, b_scales) = (inverse_norms(a, dim), inverse_norms(b, dim));
            return super::distance_tiles::clamped_products(cpu, a, b, dim, &a_scales, &b_scales);
        }
        Self::forward_typed(a, b, rows, columns, dim)
    }

    fn forward_typed<T: WithDType>(a: &[T], b: &[T], rows: usize, columns: usize, dim: usize) -> Vec<T> {
        let a = scaled_rows(a, dim);
        let b = scaled_rows(b, dim);

        let mut similarities = vec![T::zero(); rows * columns];
        matmul_scaled(
            MatrixView::row_major(&a, rows, dim),
            MatrixView::transposed(&b, columns, dim),
            &mut similarities,
            false,
            T::one(),
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        );

        // Comparisons with NaN are false, so a NaN input stays visible as a NaN similarity.
        let (low, high) = (T::from_f64(-1.0), T::one());
        similarities.par_chunks_mut(4096).for_each(|chunk| {
            for value in chunk {
                if *value < low {
                    *value = low;
                } else if *value > high {
                    *value = high;
                }
            }
        });
        similarities
    }
}

/// Returns `1 / |row|` for every row of the row-major `values` with `dim` columns: 0 for a zero
/// row, NaN for a row with NaN or infinite values. Squares are summed in f64, and rows whose sum
/// overflows or underflows are divided by their largest absolute value first, so that tiny and
/// huge rows keep their norm.
fn inverse_norms<T: WithDType>(values: &[T], dim: usize) -> Vec<T> {
    values.par_chunks(dim.max(1)).map(inverse_norm).collect()
}

/// Returns `1 / |row|` for one row; see [`inverse_norms`].
fn inverse_norm<T: WithDType>(row: &[T]) -> T {
    // Squares of f32 values neither overflow nor underflow in f64, so most rows need no
    // rescaling. Eight partial sums let the compiler vectorise the loop.
    let (chunks, remainder) = row.as_chunks::<8>();
    let mut partial = [0f64; 8];
    for chunk in chunks {
        for (sum, value) in partial.iter_mut().zip(chunk) {
            let value = value.to_f64();
            *sum += value * value;
        }
    }
    for (sum, value) in partial.iter_mut().zip(remainder) {
        let value = value.to_f64();
        *sum += value * value;
    }
    let squares: f64 = partial.iter().sum();
    if squares.is_normal() {
        return T::from_f64(1.0 / squares.sqrt());
    }
    rescaled_inverse_norm(row)
}

/// Returns `1 / |row|` for the rows that [`inverse_norm`] cannot finish: zero rows, rows with NaN
/// or infinite values, and f64 rows whose squares overflow or underflow. The row is divided by
/// its largest absolute value before the squares are summed.
fn rescaled_inverse_norm<T: WithDType>(row: &[T]) -> T {
    if row.iter().any(|value| !value.to_f64().is_finite()) {
        return T::from_f64(f64::NAN);
    }
    let largest = row
        .iter()
        .fold(0f64, |largest, value| largest.max(value.to_f64().abs()));
    if largest == 0.0 {
        return T::zero();
    }
    let squares: f64 = row.iter().map(|value| (value.to_f64() / largest).powi(2)).sum();
    T::from_f64(1.0 / (largest * squares.sqrt()))
}

/// Returns the rows of `values` (`dim` columns) divided by their norms; zero rows stay zero.
fn scaled_rows<T: WithDType>(values: &[T], dim: usize) -> Vec<T> {
    let scales = inverse_norms(values, dim);
    let mut scaled = values.to_vec();
    scaled
        .par_chunks_mut(dim.max(1))
        .zip(scales.par_iter())
        .for_each(|(row, &scale)| {
            for value in row {
                *value *= scale;
            }
        });
    scaled
}

/// Returns every row of `x` scaled to unit length, with the factor that did it (`1 / |x|`, and 1
/// for zero rows, which stay zero) as an `N x 1` tensor.
///
/// The row's largest absolute value is a constant scale (detached: the direction does not depend
/// on it), so the squared norm of a non-zero row is at least 1 and never underflows. Zero rows
/// take the norm 1 instead of 0, which keeps both the value and the gradient of the square root
/// finite.
pub(crate) fn unit_rows(x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let largest = x.abs()?.max_keepdim(D::Minus1)?.detach();
    let ones = largest.ones_like()?;
    let scale = largest.gt(0.0)?.where_cond(&largest, &ones)?;
    let scaled = x.broadcast_div(&scale)?;

    let squared_norms = scaled.sqr()?.sum_keepdim(D::Minus1)?;
    let squared_norms = squared_norms.gt(0.0)?.where_cond(&squared_norms, &ones)?;
    let norms = squared_norms.sqrt()?;
    let inverse = (&scale * &norms)?.recip()?;
    Ok((scaled.broadcast_div(&norms)?, inverse))
}

/// Returns the gradient of some rows from the gradient `unit_grad` of their unit rows `unit`,
/// with `inverse` the factors of [`unit_rows`].
fn through_normalisation(unit: &Tensor, inverse: &Tensor, unit_grad: &Tensor) -> candle_core::Result<Tensor> {
    let along = (unit_grad * unit)?.sum_keepdim(D::Minus1)?;
    (unit_grad - unit.broadcast_mul(&along)?)?.broadcast_mul(inverse)
}

impl CustomOp2 for CosineSimilarities {
    fn name(&self) -> &'static str {
        "fsl-cosine-similarities"
    }

    fn cpu_fwd(
        &self,
        a: &CpuStorage,
        a_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        pairs_forward(
            "cosine_similarity",
            (a, a_layout),
            (b, b_layout),
            Self::forward_f32,
            Self::forward_typed::<f64>,
        )
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // Clamped entries do not move with the inputs. At exactly ±1 the rows are parallel, where
        // the similarity is extremal and its gradient is 0 anyway.
        let inside = res.abs()?.lt(1.0)?.to_dtype(grad_res.dtype())?;
        let grad = (grad_res * inside)?;

        let (a_unit, a_inverse) = unit_rows(a)?;
        let (b_unit, b_inverse) = unit_rows(b)?;
        let grad_a = through_normalisation(&a_unit, &a_inverse, &grad.matmul(&b_unit)?)?;
        let grad_b = through_normalisation(&b_unit, &b_inverse, &grad.t()?.matmul(&a_unit)?)?;
        Ok((Some(grad_a), Some(grad_b)))
    }
}
