//! Squared Euclidean distances between two sets of rows as one fused operation.
//!
//! Written with generic tensor operations, `|a|² + |b|² - 2 a·bᵀ` on centred inputs takes a
//! dozen passes over the inputs and the `A x B` output besides the matrix product, and those
//! passes cost as much as the product itself. In f32 on CPUs with AVX-512, `distance_tiles`
//! centres the inputs while packing them for its own product and finishes each distance in
//! registers. Otherwise (f64, other CPUs) the centring and the norms take one pass per input,
//! `gemm` writes `-2 a·bᵀ`, and one last pass adds the norms and clamps rounding errors below
//! zero.
//!
//! Backward, with `G` the upstream gradient masked to the positive distances:
//! `∂a = 2 (rowsum(G) ⊙ a - G b)` and `∂b = 2 (colsum(G) ⊙ b - Gᵀ a)`, on the centred inputs,
//! since distances and their gradients do not change when both sets move together.

use candle_core::{CpuStorage, CustomOp2, D, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::gemm::{MatrixView, matmul_scaled};
use super::row_pairs::pairs_forward;

/// The fused squared-distance operation; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SquaredDistances;

impl SquaredDistances {
    /// Computes the `A x B` squared distances between the rows of `a` and `b`, which must be
    /// two f32 or f64 matrices with the same number of columns on the CPU.
    pub fn apply(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        a.contiguous()?.apply_op2(&b.contiguous()?, SquaredDistances)
    }

    /// Computes the f32 forward pass, with the AVX-512 tile where the CPU has it.
    fn forward_f32(a: &[f32], b: &[f32], rows: usize, columns: usize, dim: usize) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = super::distance_tiles::Avx512::for_rows_of(dim) {
            let centre = centre(b, dim);
            let mut distances = super::distance_tiles::squared_distances(cpu, a, b, rows, columns, dim, &centre);
            zero_self_distances(a, b, columns, &mut distances);
            return distances;
        }
        Self::forward_typed(a, b, rows, columns, dim)
    }

    fn forward_typed<T: WithDType>(a: &[T], b: &[T], rows: usize, columns: usize, dim: usize) -> Vec<T> {
        let centre = centre(b, dim);
        let (centred_a, a_norms) = centre_rows(a, &centre);
        let (centred_b, b_norms) = centre_rows(b, &centre);

        // Without `read_dst`, `gemm` overwrites the output instead of adding to it.
        let mut distances = vec![T::zero(); rows * columns];
        matmul_scaled(
            MatrixView::row_major(&centred_a, rows, dim),
            MatrixView::transposed(&centred_b, columns, dim),
            &mut distances,
            false,
            T::from_f64(-2.0),
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        );

        // One pass adds the norms and clamps rounding errors below zero. `v < 0` is false for
        // NaN, so a NaN input stays visible as a NaN distance.
        distances
            .par_chunks_mut(columns.max(1))
            .zip(a_norms.par_iter())
            .for_each(|(row, &a_norm)| {
                for (value, &b_norm) in row.iter_mut().zip(&b_norms) {
                    let distance = *value + a_norm + b_norm;
                    *value = if distance < T::zero() { T::zero() } else { distance };
                }
            });

        zero_self_distances(a, b, columns, &mut distances);
        distances
    }
}

/// Sets the distance of every row to itself to 0, unless it is NaN, when `a` and `b` are the
/// same rows (a Gram matrix). `distances` has `columns` values per row.
///
/// The products and the norms add their terms in different orders, so that diagonal would
/// otherwise keep rounding errors (about 1e-5 for 300 f32 values around 5).
fn zero_self_distances<T: WithDType>(a: &[T], b: &[T], columns: usize, distances: &mut [T]) {
    // Two empty slices may share an address without being the same rows.
    if !std::ptr::eq(a, b) || a.is_empty() {
        return;
    }
    for (row, values) in distances.chunks_mut(columns.max(1)).enumerate() {
        let distance = &mut values[row];
        if !distance.to_f64().is_nan() {
            *distance = T::zero();
        }
    }
}

/// Rows of `b` whose mean is the centre that both sets are shifted by.
///
/// Any point near the rows removes the cancellation, so a sample serves as well as the whole set.
/// Averaging all the rows of a 1024 x 1600 `b` took 0.6 ms of the 12 ms benchmark, a full pass
/// over memory.
const CENTRE_ROWS: usize = 64;

/// Returns the indices of the rows of `b` that [`centre`] averages: at most [`CENTRE_ROWS`],
/// evenly spaced from the first.
fn sampled_rows(rows: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
    (0..rows).step_by(rows.div_ceil(CENTRE_ROWS).max(1))
}

/// Returns the centre that both sets are shifted by: the mean of the finite values of every
/// column over the rows that [`sampled_rows`] picks from the row-major `b` with `dim` columns.
///
/// Skipping NaN and infinities keeps one bad row from spreading NaN into the distances of every
/// other pair through the shared centre. The sums are accumulated in f64.
fn centre<T: WithDType>(b: &[T], dim: usize) -> Vec<T> {
    let dim = dim.max(1);
    let mut sums = vec![0f64; dim];
    let mut counts = vec![0u32; dim];
    for row in sampled_rows(b.len() / dim) {
        let values = &b[row * dim..(row + 1) * dim];
        for ((sum, count), value) in sums.iter_mut().zip(&mut counts).zip(values) {
            let value = value.to_f64();
            if value.is_finite() {
                *sum += value;
                *count += 1;
            }
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(&sum, &count)| T::from_f64(if count == 0 { 0.0 } else { sum / f64::from(count) }))
        .collect()
}

/// Returns the `1 x D` centre of [`centre`] for a tensor `b`, for the backward pass and for
/// devices other than the CPU.
pub(crate) fn sampled_centre(b: &Tensor) -> candle_core::Result<Tensor> {
    let rows: Vec<u32> = sampled_rows(b.dim(0)?).map(|row| row as u32).collect();
    let b = b.index_select(&Tensor::new(rows.as_slice(), b.device())?, 0)?;

    // x·0 is 0 exactly for finite x and NaN for NaN and infinities.
    let finite = b.affine(0.0, 0.0)?.eq(0.0)?;
    let finite_values = finite.where_cond(&b, &b.zeros_like()?)?;
    let counts = finite.to_dtype(b.dtype())?.sum_keepdim(0)?.maximum(1.0)?;
    finite_values.sum_keepdim(0)?.broadcast_div(&counts)
}

/// Subtracts `centre` from every row; returns the centred rows and their squared norms.
fn centre_rows<T: WithDType>(values: &[T], centre: &[T]) -> (Vec<T>, Vec<T>) {
    let dim = centre.len().max(1);
    let mut centred = vec![T::zero(); values.len()];
    let norms = centred
        .par_chunks_mut(dim)
        .zip(values.par_chunks(dim))
        .map(|(out, row)| {
            let mut norm = T::zero();
            for ((o, &v), &c) in out.iter_mut().zip(row).zip(centre) {
                *o = v - c;
                norm += *o * *o;
            }
            norm
        })
        .collect();
    (centred, norms)
}

impl CustomOp2 for SquaredDistances {
    fn name(&self) -> &'static str {
        "fsl-squared-distances"
    }

    fn cpu_fwd(
        &self,
        a: &CpuStorage,
        a_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        pairs_forward(
            "squared_l2",
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
        // Clamped entries had a slightly negative raw value, which is a distance of about zero:
        // their true gradient 2(a - b) is about zero too.
        let positive = res.gt(0.0)?.to_dtype(grad_res.dtype())?;
        let grad = (grad_res * positive)?;

        let centre = sampled_centre(b)?;
        let a = a.broadcast_sub(&centre)?;
        let b = b.broadcast_sub(&centre)?;

        let grad_a = (a.broadcast_mul(&grad.sum_keepdim(D::Minus1)?)? - grad.matmul(&b)?)?;
        let grad_b = (b.broadcast_mul(&grad.sum_keepdim(0)?.t()?)? - grad.t()?.matmul(&a)?)?;
        Ok((Some((grad_a * 2.0)?), Some((grad_b * 2.0)?)))
    }
}
