//! Reductions of a tensor of element-wise losses to a scalar loss.

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// The variance below which [`Reduction::Std`] takes the square root of this floor instead, so
/// that the gradient of a constant loss map is 0 rather than NaN.
const VARIANCE_FLOOR: f64 = 1e-12;

/// A reduction of element-wise losses to one scalar. Every variant keeps the gradient.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub enum Reduction {
    /// The mean of all elements, the default.
    #[default]
    Mean,
    /// The largest element. Only the first of tied maxima receives the gradient: in a symmetric
    /// Gram matrix the maximum always appears twice, and candle's `max`, which gives each tied
    /// element the full gradient, would double it.
    Max,
    /// The population standard deviation (`ddof = 0`, as numpy's `std`). Below a variance of
    /// 1e-12 it returns `1e-6` with a zero gradient, because the square root has an infinite
    /// slope at 0.
    Std,
    /// The `q`-th percentile, `q` in `[0, 100]`, with linear interpolation between the two
    /// nearest ranks as numpy's default `percentile`. `Percentile(0.0)` is the minimum and
    /// `Percentile(100.0)` the maximum.
    Percentile(f64),
}

impl Reduction {
    /// Reduces `losses`, of any non-empty shape, to a scalar tensor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a percentile outside `[0, 100]` or NaN, and for an empty
    /// `losses`.
    pub fn apply(&self, losses: &Tensor) -> Result<Tensor> {
        let flat = losses.flatten_all()?;
        let count = flat.elem_count();
        if count == 0 {
            return Err(Error::InvalidArgument {
                name: "element count",
                value: "0".into(),
                reason: "a reduction needs at least one element",
            });
        }

        match *self {
            Reduction::Mean => Ok(flat.mean_all()?),
            Reduction::Max => {
                let first = flat.argmax_keepdim(0)?;
                Ok(flat.gather(&first, 0)?.squeeze(0)?)
            }
            Reduction::Std => {
                let centered = flat.broadcast_sub(&flat.mean_all()?)?;
                let variance = centered.sqr()?.mean_all()?;
                Ok(variance.maximum(VARIANCE_FLOOR)?.sqrt()?)
            }
            Reduction::Percentile(q) => percentile(&flat, q),
        }
    }
}

fn percentile(flat: &Tensor, q: f64) -> Result<Tensor> {
    if !(0.0..=100.0).contains(&q) {
        return Err(Error::InvalidArgument {
            name: "percentile",
            value: q.to_string(),
            reason: "the percentile must be a number in [0, 100]",
        });
    }

    // The ranks are chosen on the host; the values are then gathered from the tensor so that the
    // two order statistics receive the gradient.
    let values = flat.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let mut order: Vec<u32> = (0..values.len() as u32).collect();
    order.sort_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]));

    let position = q / 100.0 * (values.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let weight = position - lower as f64;

    let indices = Tensor::new(&[order[lower], order[upper]], flat.device())?;
    let picked = flat.index_select(&indices, 0)?;
    let low_value = picked.get(0)?.affine(1.0 - weight, 0.0)?;
    let high_value = picked.get(1)?.affine(weight, 0.0)?;
    Ok((low_value + high_value)?)
}
