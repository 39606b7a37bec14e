//! Kernels: functions `k(x, x')` comparing two embeddings, evaluated for all pairs of two sets.
//!
//! A kernel implements [`Kernel::pairs`], its value on aligned pairs of rows. Every support layer
//! calls [`Kernel::pairwise`] instead, which evaluates all pairs of two sets: by default in chunks
//! of rows so that at most [`PAIRS_PER_CHUNK`] pairs are materialised at once, whatever the size of
//! the support set. Kernels with a matrix-product form ([`SquaredL2`], [`CosineDistance`],
//! [`CosineSimilarity`], [`Dot`]) override it with one product and never build the pairs.
//!
//! A user's own kernel needs only `pairs` and `is_distance`:
//!
//! ```
//! use candle_core::{Device, Tensor, D};
//! use fsl_layers::kernel::Kernel;
//!
//! /// Similarity `exp(-|x - x'|²)`, a Gaussian kernel of bandwidth 1.
//! struct Gaussian;
//!
//! impl Kernel for Gaussian {
//!     fn pairs(&self, x: &Tensor, y: &Tensor) -> fsl_layers::Result<Tensor> {
//!         Ok((x - y)?.sqr()?.sum(D::Minus1)?.neg()?.exp()?)
//!     }
//!
//!     fn is_distance(&self) -> bool {
//!         false
//!     }
//! }
//!
//! # fn main() -> fsl_layers::Result<()> {
//! let a = Tensor::new(&[[0f32, 0.], [1., 0.]], &Device::Cpu)?;
//! let values = Gaussian.pairwise(&a, &a)?.to_vec2::<f32>()?;
//! assert_eq!(values[0][0], 1.0);
//! assert!((values[0][1] - (-1f32).exp()).abs() < 1e-6);
//! # Ok(())
//! # }
//! ```

mod cosine;
mod dot;
mod elementwise;
mod learnt;
mod squared_l2;

use candle_core::Tensor;

pub use cosine::{CosineDistance, CosineSimilarity, cosine_distance, cosine_similarity};
pub use dot::{Dot, dot};
pub use elementwise::{L1, Linf, l1, linf};
pub use learnt::{DenseSigmoid, LearntKernel, LearntNorms, MixedNorms, OutputActivation, RelationModule};
pub use squared_l2::{SquaredL2, squared_l2};

use crate::{Error, Result};

/// The largest number of pairs the default [`Kernel::pairwise`] hands to [`Kernel::pairs`] at
/// once: 65,536 pairs of 64-dimensional f32 embeddings are two 16 MiB inputs.
pub const PAIRS_PER_CHUNK: usize = 1 << 16;

/// A function `k(x, x')` of two embeddings: a distance (small means similar) or a similarity.
pub trait Kernel: Send + Sync {
    /// Computes the kernel on aligned pairs: row `i` of `x` (`N x D`) against row `i` of `y`
    /// (`N x D`), giving a vector of `N` values.
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor>;

    /// Returns whether small values mean similar items (a distance) rather than large ones.
    fn is_distance(&self) -> bool;

    /// Computes the `A x B` matrix of kernel values between the rows of `a` (`A x D`) and of `b`
    /// (`B x D`).
    ///
    /// The default evaluates [`Kernel::pairs`] on blocks of rows of `a` against all of `b`, at
    /// most [`PAIRS_PER_CHUNK`] pairs at a time, so memory stays bounded for large support sets.
    /// The result is differentiable with respect to both inputs and the kernel's parameters.
    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        pairwise_in_chunks(self, a, b, PAIRS_PER_CHUNK)
    }
}

impl<K: Kernel + ?Sized> Kernel for Box<K> {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        (**self).pairs(x, y)
    }

    fn is_distance(&self) -> bool {
        (**self).is_distance()
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        (**self).pairwise(a, b)
    }
}

impl<K: Kernel + ?Sized> Kernel for std::sync::Arc<K> {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        (**self).pairs(x, y)
    }

    fn is_distance(&self) -> bool {
        (**self).is_distance()
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        (**self).pairwise(a, b)
    }
}

/// Evaluates `kernel` on every pair of rows of `a` and `b` through [`Kernel::pairs`], with at
/// most `max_pairs` pairs materialised at once.
///
/// Each block takes as many rows of `a` as fit (at least one) and repeats them against every row
/// of `b`. The blocks' results are concatenated, so gradients flow as in a single evaluation.
pub fn pairwise_in_chunks<K: Kernel + ?Sized>(kernel: &K, a: &Tensor, b: &Tensor, max_pairs: usize) -> Result<Tensor> {
    check_pairwise_shapes("pairwise kernel", a, b)?;
    if max_pairs == 0 {
        return Err(Error::InvalidArgument {
            name: "max_pairs",
            value: "0".into(),
            reason: "a chunk must hold at least one pair",
        });
    }

    let (rows, dim) = a.dims2()?;
    let columns = b.dims2()?.0;
    if rows == 0 || columns == 0 {
        return Ok(Tensor::zeros((rows, columns), a.dtype(), a.device())?);
    }

    let rows_per_chunk = (max_pairs / columns).clamp(1, rows);
    let mut blocks = Vec::with_capacity(rows.div_ceil(rows_per_chunk));
    for start in (0..rows).step_by(rows_per_chunk) {
        let count = rows_per_chunk.min(rows - start);
        let x = a
            .narrow(0, start, count)?
            .unsqueeze(1)?
            .broadcast_as((count, columns, dim))?
            .reshape((count * columns, dim))?;
        let y = b
            .unsqueeze(0)?
            .broadcast_as((count, columns, dim))?
            .reshape((count * columns, dim))?;

        let values = kernel.pairs(&x, &y)?;
        if values.dims() != [count * columns] {
            return Err(Error::ShapeMismatch {
                operation: "pairwise kernel",
                details: format!(
                    "the kernel's pairs() returned shape {:?} for {} pairs; it must return one value per pair",
                    values.dims(),
                    count * columns
                ),
            });
        }
        blocks.push(values.reshape((count, columns))?);
    }
    Ok(Tensor::cat(&blocks, 0)?)
}

/// Checks that both inputs are floating-point matrices of one dtype with the same number of
/// columns.
pub(crate) fn check_pairwise_shapes(operation: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    check_dtypes(operation, a, b)?;
    let (a_dims, b_dims) = (a.dims(), b.dims());
    if a_dims.len() != 2 || b_dims.len() != 2 || a_dims[1] != b_dims[1] {
        return Err(Error::ShapeMismatch {
            operation,
            details: format!("expected two matrices with the same embedding size, got {a_dims:?} and {b_dims:?}"),
        });
    }
    check_embedding_size(a_dims[1], a_dims, b_dims)
}

/// Rejects rows of no values: they carry nothing to compare, and usually mean an encoder whose
/// output size is wrong.
fn check_embedding_size(dim: usize, a_dims: &[usize], b_dims: &[usize]) -> Result<()> {
    if dim == 0 {
        return Err(Error::InvalidArgument {
            name: "embedding size",
            value: format!("0 (inputs of shape {a_dims:?} and {b_dims:?})"),
            reason: "rows must have at least one value; check the output size of the encoder",
        });
    }
    Ok(())
}

/// Checks that the inputs of [`Kernel::pairs`] are two floating-point matrices of the same shape
/// and dtype.
pub(crate) fn check_pairs_shapes(operation: &'static str, x: &Tensor, y: &Tensor) -> Result<()> {
    check_dtypes(operation, x, y)?;
    if x.rank() != 2 || x.dims() != y.dims() {
        return Err(Error::ShapeMismatch {
            operation,
            details: format!(
                "pairs() expects two N x D matrices of the same shape, got {:?} and {:?}",
                x.dims(),
                y.dims()
            ),
        });
    }
    check_embedding_size(x.dims()[1], x.dims(), y.dims())
}

/// Checks that both inputs are floating-point tensors of the same dtype: integer embeddings
/// would overflow in differences or reach candle operations that have no integer version.
fn check_dtypes(operation: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    for tensor in [a, b] {
        if !tensor.dtype().is_float() {
            return Err(Error::UnsupportedDType {
                operation,
                dtype: tensor.dtype(),
            });
        }
    }
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            operation,
            a: a.dtype(),
            b: b.dtype(),
        });
    }
    Ok(())
}
