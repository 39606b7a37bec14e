//! Bias addition fused with the move from the convolution's channels-last rows to `N x C x H x W`.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::cpu::with_slice;
use super::im2col::unsupported;
use super::max_pool::contiguous_range;

/// Maps `(N·H·W) x C` rows plus a `C` bias to an `N x C x H x W` tensor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BiasToChannelsFirst {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
}

impl BiasToChannelsFirst {
    fn forward_typed<T: WithDType>(&self, rows: &[T], bias: &[T]) -> Vec<T> {
        let channels = bias.len();
        let plane = self.height * self.width;
        let mut output = vec![T::zero(); rows.len()];

        output.par_chunks_mut(plane).enumerate().for_each(|(index, out)| {
            let (n, c) = (index / channels, index % channels);
            let image_rows = &rows[n * plane * channels..][..plane * channels];
            for (position, o) in out.iter_mut().enumerate() {
                *o = image_rows[position * channels + c] + bias[c];
            }
        });
        output
    }

    fn backward_typed<T: WithDType>(&self, grad: &[T], channels: usize) -> (Vec<T>, Vec<T>) {
        let plane = self.height * self.width;
        let mut grad_rows = vec![T::zero(); grad.len()];

        grad_rows
            .par_chunks_mut(plane * channels)
            .enumerate()
            .for_each(|(n, rows)| {
                for c in 0..channels {
                    let g = &grad[(n * channels + c) * plane..][..plane];
                    for (position, &value) in g.iter().enumerate() {
                        rows[position * channels + c] = value;
                    }
                }
            });
        let grad_bias = (0..channels)
            .map(|c| {
                let total: f64 = (0..self.batch)
                    .flat_map(|n| grad[(n * channels + c) * plane..][..plane].iter())
                    .map(|v| v.to_f64())
                    .sum();
                T::from_f64(total)
            })
            .collect();
        (grad_rows, grad_bias)
    }
}

impl CustomOp2 for BiasToChannelsFirst {
    fn name(&self) -> &'static str {
        "fsl-bias-to-channels-first"
    }

    fn cpu_fwd(
        &self,
        rows: &CpuStorage,
        rows_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rs, re) = contiguous_range(rows_layout)?;
        let (bs, be) = contiguous_range(bias_layout)?;
        let channels = be - bs;
        let shape = Shape::from((self.batch, channels, self.height, self.width));
        if re - rs != shape.elem_count() {
            return Err(candle_core::Error::Msg(format!(
                "bias_to_channels_first: {} values cannot form {shape:?}",
                re - rs
            )));
        }
        let result = match (rows, bias) {
            (CpuStorage::F32(r), CpuStorage::F32(b)) => CpuStorage::F32(self.forward_typed(&r[rs..re], &b[bs..be])),
            (CpuStorage::F64(r), CpuStorage::F64(b)) => CpuStorage::F64(self.forward_typed(&r[rs..re], &b[bs..be])),
            (other, _) => return Err(unsupported("conv2d bias", other)),
        };
        Ok((result, shape))
    }

    fn bwd(
        &self,
        rows: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let channels = bias.elem_count();
        let device = rows.device();
        let (grad_rows, grad_bias) = match rows.dtype() {
            DType::F32 => {
                let (r, b) = with_slice::<f32, _>(grad_res, |g| self.backward_typed(g, channels))?;
                (
                    Tensor::from_vec(r, rows.shape(), device)?,
                    Tensor::from_vec(b, channels, device)?,
                )
            }
            DType::F64 => {
                let (r, b) = with_slice::<f64, _>(grad_res, |g| self.backward_typed(g, channels))?;
                (
                    Tensor::from_vec(r, rows.shape(), device)?,
                    Tensor::from_vec(b, channels, device)?,
                )
            }
            dtype => {
                return Err(candle_core::Error::wrap(crate::Error::UnsupportedDType {
                    operation: "conv2d bias backward",
                    dtype,
                }));
            }
        };
        Ok((Some(grad_rows), Some(grad_bias)))
    }
}
