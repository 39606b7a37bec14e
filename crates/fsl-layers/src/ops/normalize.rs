//! Batch normalisation in training mode as one fused operation, forward and backward.
//!
//! Differentiating the mean, variance, scale and shift through generic tensor operations builds a
//! dozen broadcasted intermediates. The closed form used here needs two passes over the data.
//! With `x̂ = (x - μ) / σ` and `y = γ x̂ + β`, per channel:
//! `∂β = Σ g`, `∂γ = Σ g x̂`, `∂x = γ / σ · (g - mean(g) - x̂ · mean(g x̂))`.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::cpu::with_slice;
use super::im2col::unsupported;
use super::max_pool::contiguous_range;
use super::moments::channel_moments;

/// Per-channel mean and biased variance of the last forward pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChannelStatistics {
    pub mean: Vec<f64>,
    pub variance: Vec<f64>,
}

/// Standardises each channel of `N x C x H x W` with the batch statistics, then scales by `γ`
/// and shifts by `β`.
#[derive(Debug, Clone)]
pub(crate) struct Normalize {
    eps: f64,
    statistics: Arc<Mutex<ChannelStatistics>>,
}

impl Normalize {
    pub fn new(eps: f64) -> Self {
        Self {
            eps,
            statistics: Arc::default(),
        }
    }

    /// Normalises `xs` with scale `gamma` and shift `beta`; returns the batch statistics used.
    pub fn apply(
        &self,
        xs: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
    ) -> candle_core::Result<(Tensor, ChannelStatistics)> {
        let normalized = xs
            .contiguous()?
            .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, self.clone())?;
        let statistics = self
            .statistics
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch-norm statistics lock poisoned".into()))?
            .clone();
        Ok((normalized, statistics))
    }

    fn forward_typed<T: WithDType>(
        &self,
        input: &[T],
        gamma: &[T],
        beta: &[T],
        shape: &Shape,
    ) -> candle_core::Result<Vec<T>> {
        let (_, channels, height, width) = shape.dims4()?;
        let plane = height * width;
        let statistics = channel_statistics(input, shape)?;
        let factors = affine_factors(&statistics, gamma, beta, self.eps);

        let mut output = vec![T::zero(); input.len()];
        output
            .par_chunks_mut(plane)
            .zip(input.par_chunks(plane))
            .enumerate()
            .for_each(|(index, (out, x))| {
                let (scale, shift) = factors[index % channels];
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = v * scale + shift;
                }
            });

        if let Ok(mut slot) = self.statistics.lock() {
            slot.mean = statistics.iter().map(|s| s.0).collect();
            slot.variance = statistics.iter().map(|s| s.1).collect();
        }
        Ok(output)
    }
}

/// Returns the mean and biased variance of every channel of an `N x C x H x W` tensor.
pub(crate) fn channel_statistics<T: WithDType>(input: &[T], shape: &Shape) -> candle_core::Result<Vec<(f64, f64)>> {
    let (_, channels, height, width) = shape.dims4()?;
    Ok(channel_moments(input, channels, height * width))
}

/// Returns the per-channel `(scale, shift)` that normalise with `statistics` and apply `γ` and
/// `β`: `y = x · scale + shift`, computed in f64 and rounded once to `T`.
pub(crate) fn affine_factors<T: WithDType>(
    statistics: &[(f64, f64)],
    gamma: &[T],
    beta: &[T],
    eps: f64,
) -> Vec<(T, T)> {
    statistics
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&(mean, variance), (g, b))| {
            let scale = g.to_f64() / (variance + eps).sqrt();
            (T::from_f64(scale), T::from_f64(b.to_f64() - mean * scale))
        })
        .collect()
}

impl CustomOp3 for Normalize {
    fn name(&self) -> &'static str {
        "fsl-batch-norm-train"
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
        let shape = x_layout.shape().clone();
        let result = match (x, gamma, beta) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.forward_typed(&x[xs..xe], &g[gs..ge], &b[bs..be], &shape)?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.forward_typed(&x[xs..xe], &g[gs..ge], &b[bs..be], &shape)?)
            }
            (other, _, _) => return Err(unsupported("batch_norm", other)),
        };
        Ok((result, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let statistics = self
            .statistics
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch-norm statistics lock poisoned".into()))?
            .clone();
        let (grad_x, grad_gamma, grad_beta) = match x.dtype() {
            DType::F32 => self.backward::<f32>(x, gamma, grad_res, &statistics)?,
            DType::F64 => self.backward::<f64>(x, gamma, grad_res, &statistics)?,
            dtype => {
                return Err(candle_core::Error::wrap(crate::Error::UnsupportedDType {
                    operation: "batch_norm backward",
                    dtype,
                }));
            }
        };
        Ok((Some(grad_x), Some(grad_gamma), Some(grad_beta)))
    }
}

impl Normalize {
    fn backward<T: WithDType>(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        grad: &Tensor,
        statistics: &ChannelStatistics,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let shape = x.shape().clone();
        let (batch, channels, height, width) = shape.dims4()?;
        let plane = height * width;
        let count = (batch * plane) as f64;
        let (gamma, inv_std) = backward_factors::<T>(gamma, statistics, self.eps)?;

        let (grad_x, sums) = with_slice::<T, _>(x, |x| {
            with_slice::<T, _>(grad, |g| {
                // Per channel: Σ g and Σ g x̂.
                let sums: Vec<(f64, f64)> = (0..channels)
                    .into_par_iter()
                    .map(|c| {
                        let (mean, inv) = (statistics.mean[c], inv_std[c]);
                        let (mut grad_sum, mut product_sum) = (0.0, 0.0);
                        for n in 0..batch {
                            let offset = (n * channels + c) * plane;
                            for (gv, xv) in g[offset..][..plane].iter().zip(&x[offset..][..plane]) {
                                grad_sum += gv.to_f64();
                                product_sum += gv.to_f64() * (xv.to_f64() - mean) * inv;
                            }
                        }
                        (grad_sum, product_sum)
                    })
                    .collect();

                let mut grad_x = vec![T::zero(); g.len()];
                grad_x
                    .par_chunks_mut(plane)
                    .zip(g.par_chunks(plane).zip(x.par_chunks(plane)))
                    .enumerate()
                    .for_each(|(index, (out, (gp, xp)))| {
                        let c = index % channels;
                        let (mean, inv) = (statistics.mean[c], inv_std[c]);
                        let (mean_grad, mean_product) = (sums[c].0 / count, sums[c].1 / count);
                        let scale = gamma[c] * inv;
                        for ((o, gv), xv) in out.iter_mut().zip(gp).zip(xp) {
                            let x_hat = (xv.to_f64() - mean) * inv;
                            *o = T::from_f64(scale * (gv.to_f64() - mean_grad - x_hat * mean_product));
                        }
                    });
                (grad_x, sums)
            })
        })??;

        let [grad_x, grad_gamma, grad_beta] = gradient_tensors(grad_x, &sums, shape, x.device())?;
        Ok((grad_x, grad_gamma, grad_beta))
    }
}

/// Returns `γ` in f64 and `1 / σ` of every channel, the factors of the backward pass.
pub(crate) fn backward_factors<T: WithDType>(
    gamma: &Tensor,
    statistics: &ChannelStatistics,
    eps: f64,
) -> candle_core::Result<(Vec<f64>, Vec<f64>)> {
    let gamma = with_slice::<T, _>(gamma, |g| g.iter().map(|v| v.to_f64()).collect())?;
    let inv_std = statistics.variance.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    Ok((gamma, inv_std))
}

/// Builds the gradients of `x`, `γ` and `β` from the input gradient and the per-channel sums
/// `(Σ g, Σ g x̂)`, which are the gradients of `β` and `γ`.
pub(crate) fn gradient_tensors<T: WithDType>(
    grad_x: Vec<T>,
    sums: &[(f64, f64)],
    shape: Shape,
    device: &candle_core::Device,
) -> candle_core::Result<[Tensor; 3]> {
    let grad_gamma: Vec<T> = sums.iter().map(|s| T::from_f64(s.1)).collect();
    let grad_beta: Vec<T> = sums.iter().map(|s| T::from_f64(s.0)).collect();
    Ok([
        Tensor::from_vec(grad_x, shape, device)?,
        Tensor::from_vec(grad_gamma, sums.len(), device)?,
        Tensor::from_vec(grad_beta, sums.len(), device)?,
    ])
}
