//! Batch normalisation in training mode followed by max pooling, as one operation.
//!
//! Apart, the two operations put a full-size normalised tensor in the autograd graph, and its
//! gradient costs candle a zero-filled buffer, an addition and the pooling's own scattered
//! gradient buffer, all at the size of the input. Fused, the normalised values exist only inside
//! the pooling windows, and the backward pass goes from the pooled gradient straight to the
//! input gradient. With `x̂ = (x - μ) / σ`, `y = γ x̂ + β` and `g` the gradient of `y` (the
//! pooled gradient scattered to each window's first maximum), per channel:
//! `∂β = Σ g`, `∂γ = Σ g x̂`, `∂x = γ / σ · (g - mean(g) - x̂ · mean(g x̂))`. Both sums only
//! need the window maxima, because `g` is zero elsewhere.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::cpu::with_slice;
use super::im2col::unsupported;
use super::max_pool::{MaxPool2d, contiguous_range};
use super::normalize::{ChannelStatistics, backward_factors, channel_statistics, gradient_tensors};

/// The state the forward pass leaves for the backward pass.
#[derive(Debug, Default)]
struct Saved {
    statistics: ChannelStatistics,
    /// Plane offset of the maximum of every output element, in output order.
    argmax: Vec<u32>,
}

/// Normalises each channel of `N x C x H x W` with the batch statistics, scales by `γ`, shifts
/// by `β`, and max-pools the result.
#[derive(Debug, Clone)]
pub(crate) struct NormalizePool {
    eps: f64,
    pool: MaxPool2d,
    saved: Arc<Mutex<Saved>>,
}

impl NormalizePool {
    pub fn new(eps: f64, pool: MaxPool2d) -> Self {
        Self {
            eps,
            pool,
            saved: Arc::default(),
        }
    }

    /// Normalises and pools `xs`; returns the batch statistics used.
    pub fn apply(
        &self,
        xs: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
    ) -> candle_core::Result<(Tensor, ChannelStatistics)> {
        let pooled = xs
            .contiguous()?
            .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, self.clone())?;
        Ok((pooled, self.statistics()?))
    }

    /// Returns the batch statistics of the last forward pass.
    pub(crate) fn statistics(&self) -> candle_core::Result<ChannelStatistics> {
        Ok(self.lock()?.statistics.clone())
    }

    fn lock(&self) -> candle_core::Result<std::sync::MutexGuard<'_, Saved>> {
        self.saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch-norm pooling state lock poisoned".into()))
    }

    pub(crate) fn forward_typed<T: WithDType>(
        &self,
        input: &[T],
        gamma: &[T],
        beta: &[T],
        shape: &Shape,
    ) -> candle_core::Result<(Vec<T>, Shape)> {
        let (batch, channels, height, width) = shape.dims4()?;
        let out = self.pool.output_size(height, width).map_err(candle_core::Error::wrap)?;
        let (plane, out_plane) = (height * width, out.0 * out.1);
        let statistics = channel_statistics(input, shape)?;

        let mut output = vec![T::zero(); batch * channels * out_plane];
        let mut argmax = vec![0u32; output.len()];
        output
            .par_chunks_mut(out_plane)
            .zip(argmax.par_chunks_mut(out_plane))
            .zip(input.par_chunks(plane))
            .enumerate()
            .for_each_init(
                || vec![T::zero(); plane],
                |normalized, (index, ((out_values, out_argmax), x))| {
                    // The same arithmetic as the unfused normalisation, so pooled values are
                    // equal. One plane at a time stays in cache for the pooling.
                    let c = index % channels;
                    let (mean, variance) = statistics[c];
                    let scale = gamma[c].to_f64() / (variance + self.eps).sqrt();
                    let shift = beta[c].to_f64() - mean * scale;
                    for (y, v) in normalized.iter_mut().zip(x) {
                        *y = T::from_f64(v.to_f64() * scale + shift);
                    }

                    self.pool
                        .for_each_argmax(normalized, height, width, out, |window, offset| {
                            out_values[window] = normalized[offset];
                            out_argmax[window] = offset as u32;
                        });
                },
            );

        let mut saved = self.lock()?;
        saved.statistics = ChannelStatistics {
            mean: statistics.iter().map(|s| s.0).collect(),
            variance: statistics.iter().map(|s| s.1).collect(),
        };
        saved.argmax = argmax;
        Ok((output, Shape::from((batch, channels, out.0, out.1))))
    }

    pub(crate) fn backward<T: WithDType>(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<[Tensor; 3]> {
        let saved = self.lock()?;
        let statistics = &saved.statistics;
        let shape = x.shape().clone();
        let (batch, channels, height, width) = shape.dims4()?;
        let plane = height * width;
        let out_plane = grad.elem_count() / (batch * channels).max(1);
        let count = (batch * plane) as f64;
        let (gamma, inv_std) = backward_factors::<T>(gamma, statistics, self.eps)?;

        let (grad_x, sums) = with_slice::<T, _>(x, |x| {
            with_slice::<T, _>(grad, |g| {
                // Per channel: Σ g and Σ g x̂, over the window maxima only.
                let sums: Vec<(f64, f64)> = (0..channels)
                    .into_par_iter()
                    .map(|c| {
                        let (mean, inv) = (statistics.mean[c], inv_std[c]);
                        let (mut grad_sum, mut product_sum) = (0.0, 0.0);
                        for n in 0..batch {
                            let (input_offset, output_offset) =
                                ((n * channels + c) * plane, (n * channels + c) * out_plane);
                            let windows = &g[output_offset..][..out_plane];
                            let maxima = &saved.argmax[output_offset..][..out_plane];
                            for (gv, &offset) in windows.iter().zip(maxima) {
                                let x_hat = (x[input_offset + offset as usize].to_f64() - mean) * inv;
                                grad_sum += gv.to_f64();
                                product_sum += gv.to_f64() * x_hat;
                            }
                        }
                        (grad_sum, product_sum)
                    })
                    .collect();

                let mut grad_x = vec![T::zero(); x.len()];
                grad_x
                    .par_chunks_mut(plane)
                    .zip(x.par_chunks(plane))
                    .zip(g.par_chunks(out_plane).zip(saved.argmax.par_chunks(out_plane)))
                    .enumerate()
                    .for_each_init(
                        || vec![0f64; plane],
                        |scattered, (index, ((out, xp), (windows, maxima)))| {
                            let c = index % channels;
                            let (mean, inv) = (statistics.mean[c], inv_std[c]);
                            let (mean_grad, mean_product) = (sums[c].0 / count, sums[c].1 / count);
                            let scale = gamma[c] * inv;

                            // Overlapping windows may share a maximum, so the pooled gradient is
                            // summed per input element before the formula.
                            for (gv, &offset) in windows.iter().zip(maxima) {
                                scattered[offset as usize] += gv.to_f64();
                            }
                            for ((o, xv), gv) in out.iter_mut().zip(xp).zip(scattered.iter()) {
                                let x_hat = (xv.to_f64() - mean) * inv;
                                *o = T::from_f64(scale * (gv - mean_grad - x_hat * mean_product));
                            }

                            // The buffer is reused for the next plane of this thread.
                            for &offset in maxima {
                                scattered[offset as usize] = 0.0;
                            }
                        },
                    );
                (grad_x, sums)
            })
        })??;

        gradient_tensors(grad_x, &sums, shape, x.device())
    }
}

impl CustomOp3 for NormalizePool {
    fn name(&self) -> &'static str {
        "fsl-batch-norm-max-pool-train"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        gamma: &CpuStorage,
        gamma_layout: &Layout,
        beta: &CpuStorage,
        beta_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (xs, xe) = contiguous_range(x_layout)?;
        let (gs, ge) = contiguous_range(gamma_layout)?;
        let (bs, be) = contiguous_range(beta_layout)?;
        let shape = x_layout.shape();
        match (x, gamma, beta) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(b)) => {
                let (output, shape) = self.forward_typed(&x[xs..xe], &g[gs..ge], &b[bs..be], shape)?;
                Ok((CpuStorage::F32(output), shape))
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(b)) => {
                let (output, shape) = self.forward_typed(&x[xs..xe], &g[gs..ge], &b[bs..be], shape)?;
                Ok((CpuStorage::F64(output), shape))
            }
            (other, _, _) => Err(unsupported("batch_norm_max_pool", other)),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad_res.contiguous()?;
        let [grad_x, grad_gamma, grad_beta] = match x.dtype() {
            DType::F32 => self.backward::<f32>(x, gamma, &grad)?,
            DType::F64 => self.backward::<f64>(x, gamma, &grad)?,
            dtype => {
                return Err(candle_core::Error::wrap(crate::Error::UnsupportedDType {
                    operation: "batch_norm_max_pool backward",
                    dtype,
                }));
            }
        };
        Ok((Some(grad_x), Some(grad_gamma), Some(grad_beta)))
    }
}
