//! The CPU forward pass shared by the operations on all pairs of rows of two matrices.

use candle_core::{CpuStorage, Layout, Shape};

use super::im2col::unsupported;
use super::max_pool::contiguous_range;

/// A forward pass over all pairs of rows: `(a, b, rows, columns, dim)` to `rows x columns` values.
type PairsForward<T> = fn(&[T], &[T], usize, usize, usize) -> Vec<T>;

/// Checks that `a` and `b` are matrices with the same number of columns, then runs
/// `forward_f32` or `forward_f64` on their contiguous data. `name` names the operation in errors.
pub(crate) fn pairs_forward(
    name: &'static str,
    (a, a_layout): (&CpuStorage, &Layout),
    (b, b_layout): (&CpuStorage, &Layout),
    forward_f32: PairsForward<f32>,
    forward_f64: PairsForward<f64>,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (rows, dim) = a_layout.shape().dims2()?;
    let (columns, b_dim) = b_layout.shape().dims2()?;
    if dim != b_dim {
        return Err(candle_core::Error::Msg(format!(
            "{name} between {rows}x{dim} and {columns}x{b_dim} rows: embedding sizes differ"
        )));
    }

    let (a_start, a_end) = contiguous_range(a_layout)?;
    let (b_start, b_end) = contiguous_range(b_layout)?;
    let result = match (a, b) {
        (CpuStorage::F32(a), CpuStorage::F32(b)) => {
            CpuStorage::F32(forward_f32(&a[a_start..a_end], &b[b_start..b_end], rows, columns, dim))
        }
        (CpuStorage::F64(a), CpuStorage::F64(b)) => {
            CpuStorage::F64(forward_f64(&a[a_start..a_end], &b[b_start..b_end], rows, columns, dim))
        }
        (other, _) => return Err(unsupported(name, other)),
    };
    Ok((result, Shape::from((rows, columns))))
}
