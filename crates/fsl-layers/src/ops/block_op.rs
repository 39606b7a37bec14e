//! The candle side of the fused Conv-4 block operations: dispatch on the element type.
//!
//! Both blocks (training and evaluation) take an input, a weight and a packed matrix of
//! per-channel parameters, compute in f32 or f64, and return the gradients of all three.
//! [`BlockOp`] is what differs between them; `custom_op3!` implements candle's
//! [`CustomOp3`](candle_core::CustomOp3) for each on top of [`cpu_fwd`] and [`bwd`].

use candle_core::{CpuStorage, DType, Layout, Shape, Tensor, WithDType};

use super::cpu::with_slice;
use super::im2col::unsupported;
use super::max_pool::contiguous_range;

/// The gradients of a block's input (when it needs one), weight and packed parameters.
pub(crate) type BlockGradients = (Option<Tensor>, Tensor, Tensor);

/// A fused block operation on slices of one element type.
pub(crate) trait BlockOp {
    /// The operation's name in error messages.
    const NAME: &'static str;

    /// Returns whether ReLU follows the normalisation. If so, the upstream gradient is masked to
    /// the positive outputs before it reaches [`backward_typed`](Self::backward_typed).
    fn relu(&self) -> bool;

    /// Returns the output values and shape for input `x` of shape `x_shape`.
    fn forward_typed<T: WithDType>(
        &self,
        x: &[T],
        x_shape: &Shape,
        weight: &[T],
        packed: &[T],
    ) -> candle_core::Result<(Vec<T>, Shape)>;

    /// Returns the gradients for the upstream gradient `grad` of the output.
    fn backward_typed<T: WithDType>(
        &self,
        x: &Tensor,
        weight: &Tensor,
        packed: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<BlockGradients>;
}

/// Runs `op` on the CPU storages of its three inputs, which must be contiguous and all f32 or
/// all f64.
pub(crate) fn cpu_fwd<O: BlockOp>(
    op: &O,
    (x, x_layout): (&CpuStorage, &Layout),
    (weight, weight_layout): (&CpuStorage, &Layout),
    (packed, packed_layout): (&CpuStorage, &Layout),
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (xs, xe) = contiguous_range(x_layout)?;
    let (ws, we) = contiguous_range(weight_layout)?;
    let (ps, pe) = contiguous_range(packed_layout)?;
    let shape = x_layout.shape();
    match (x, weight, packed) {
        (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(p)) => {
            let (output, shape) = op.forward_typed(&x[xs..xe], shape, &w[ws..we], &p[ps..pe])?;
            Ok((CpuStorage::F32(output), shape))
        }
        (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(p)) => {
            let (output, shape) = op.forward_typed(&x[xs..xe], shape, &w[ws..we], &p[ps..pe])?;
            Ok((CpuStorage::F64(output), shape))
        }
        (other, _, _) => Err(unsupported(O::NAME, other)),
    }
}

/// Returns the gradients of `op`'s three inputs for the upstream gradient `grad_res`.
pub(crate) fn bwd<O: BlockOp>(
    op: &O,
    (x, weight, packed): (&Tensor, &Tensor, &Tensor),
    output: &Tensor,
    grad_res: &Tensor,
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let grad = grad_res.contiguous()?;
    let (grad_x, grad_weight, grad_packed) = match x.dtype() {
        DType::F32 if op.relu() => op.backward_typed::<f32>(x, weight, packed, &relu_mask::<f32>(&grad, output)?)?,
        DType::F64 if op.relu() => op.backward_typed::<f64>(x, weight, packed, &relu_mask::<f64>(&grad, output)?)?,
        DType::F32 => op.backward_typed::<f32>(x, weight, packed, &grad)?,
        DType::F64 => op.backward_typed::<f64>(x, weight, packed, &grad)?,
        dtype => {
            return Err(candle_core::Error::wrap(crate::Error::UnsupportedDType {
                operation: O::NAME,
                dtype,
            }));
        }
    };
    Ok((grad_x, Some(grad_weight), Some(grad_packed)))
}

/// Returns the gradients as tensors shaped like the block's inputs. `grad_packed` lists the
/// gradient of every row of `packed`, one row after the other.
pub(crate) fn gradient_tensors<T: WithDType>(
    (x, weight, packed): (&Tensor, &Tensor, &Tensor),
    grad_x: Option<Vec<T>>,
    grad_weight: Vec<T>,
    grad_packed: Vec<T>,
) -> candle_core::Result<BlockGradients> {
    let device = x.device();
    let grad_x = grad_x
        .map(|values| Tensor::from_vec(values, x.shape(), device))
        .transpose()?;
    Ok((
        grad_x,
        Tensor::from_vec(grad_weight, weight.shape(), device)?,
        Tensor::from_vec(grad_packed, packed.shape(), device)?,
    ))
}

/// Normalises pooled values in place, `v · scale + shift`, then applies ReLU when `relu` is
/// set. A NaN stays NaN, as in PyTorch.
pub(crate) fn normalize_pooled<T: WithDType>(values: &mut [T], scale: T, shift: T, relu: bool) {
    if relu {
        for v in values.iter_mut() {
            let y = *v * scale + shift;
            *v = if y < T::zero() { T::zero() } else { y };
        }
    } else {
        values.iter_mut().for_each(|v| *v = *v * scale + shift);
    }
}

/// Returns the upstream gradient `grad` where the block's `output` is positive and zero
/// elsewhere: ReLU's gradient, zero at zero as in PyTorch.
fn relu_mask<T: WithDType>(grad: &Tensor, output: &Tensor) -> candle_core::Result<Tensor> {
    let masked: Vec<T> = with_slice::<T, _>(grad, |g| {
        with_slice::<T, _>(output, |y| {
            g.iter()
                .zip(y)
                .map(|(&g, &y)| if y > T::zero() { g } else { T::zero() })
                .collect()
        })
    })??;
    Tensor::from_vec(masked, grad.shape(), grad.device())
}

/// Implements candle's `CustomOp3` for a type that implements [`BlockOp`], under `name`.
macro_rules! custom_op3 {
    ($op:ty, $name:literal) => {
        impl candle_core::CustomOp3 for $op {
            fn name(&self) -> &'static str {
                $name
            }

            fn cpu_fwd(
                &self,
                x: &candle_core::CpuStorage,
                x_layout: &candle_core::Layout,
                weight: &candle_core::CpuStorage,
                weight_layout: &candle_core::Layout,
                packed: &candle_core::CpuStorage,
                packed_layout: &candle_core::Layout,
            ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
                $crate::ops::block_op::cpu_fwd(
                    self,
                    (x, x_layout),
                    (weight, weight_layout),
                    (packed, packed_layout),
                )
            }

            fn bwd(
                &self,
                x: &candle_core::Tensor,
                weight: &candle_core::Tensor,
                packed: &candle_core::Tensor,
                res: &candle_core::Tensor,
                grad_res: &candle_core::Tensor,
            ) -> candle_core::Result<(
                Option<candle_core::Tensor>,
                Option<candle_core::Tensor>,
                Option<candle_core::Tensor>,
            )> {
                $crate::ops::block_op::bwd(self, (x, weight, packed), res, grad_res)
            }
        }
    };
}
pub(crate) use custom_op3;
