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
//!
//! The pooling runs on the raw values and only the winners are normalised. With one scale per
//! channel, normalising moves no window's winner, except that a negative scale turns the
//! maximum into the minimum.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::cpu::with_slice;
use super::im2col::unsupported;
use super::max_pool::{Extremum, MaxPool2d, contiguous_range};
use super::normalize::{ChannelStatistics, affine_factors, backward_factors, channel_statistics, gradient_tensors};

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
    pub eps: f64,
    pub pool: MaxPool2d,
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
        let out_plane = out.0 * out.1;
        let statistics = channel_statistics(input, shape)?;
        let factors = affine_factors(&statistics, gamma, beta, self.eps);

        let mut output = vec![T::zero(); batch * channels * out_plane];
        let mut argmax = vec![0u32; output.len()];
        output
            .par_chunks_mut(out_plane)
            .zip(argmax.par_chunks_mut(out_plane))
            .zip(input.par_chunks(height * width))
            .enumerate()
            .for_each(|(index, ((values, maxima), x))| {
                let (scale, shift) = factors[index % channels];
                let extremum = Extremum::under_scale(scale);
                self.pool
                    .extrema_of_plane(x, (height, width), out, extremum, values, maxima);
                values.iter_mut().for_each(|v| *v = *v * scale + shift);
            });

        self.save(&statistics, argmax)?;
        Ok((output, Shape::from((batch, channels, out.0, out.1))))
    }

    /// Stores the batch statistics and window maxima of a forward pass for the backward pass.
    pub(crate) fn save(&self, statistics: &[(f64, f64)], argmax: Vec<u32>) -> candle_core::Result<()> {
        let mut saved = self.lock()?;
        saved.statistics = ChannelStatistics {
            mean: statistics.iter().map(|s| s.0).collect(),
            variance: statistics.iter().map(|s| s.1).collect(),
        };
        saved.argmax = argmax;
        Ok(())
    }

    /// Returns, per channel, `(Σ g, Σ g x̂)` over the window maxima of `x` (`N x C x H x W`,
    /// planes of `plane` values), with `g` the pooled gradient. Planes run in parallel; their
    /// sums are added in batch order.
    fn window_sums<T: WithDType>(
        &self,
        x: &[T],
        g: &[T],
        saved: &Saved,
        inv_std: &[f64],
        plane: usize,
    ) -> Vec<(f64, f64)> {
        let channels = inv_std.len();
        let out_plane = g.len() / (x.len() / plane.max(1)).max(1);
        let per_plane: Vec<(f64, f64)> = x
            .par_chunks(plane.max(1))
            .zip(
                g.par_chunks(out_plane.max(1))
                    .zip(saved.argmax.par_chunks(out_plane.max(1))),
            )
            .enumerate()
            .map(|(index, (xp, (windows, maxima)))| {
                let mean = saved.statistics.mean[index % channels];
                windows
                    .iter()
                    .zip(maxima)
                    .fold((0.0, 0.0), |(sum, product), (gv, &offset)| {
                        let gv = gv.to_f64();
                        (sum + gv, product + gv * (xp[offset as usize].to_f64() - mean))
                    })
            })
            .collect();

        (0..channels)
            .map(|c| {
                let (sum, product) = per_plane
                    .iter()
                    .skip(c)
                    .step_by(channels)
                    .fold((0.0, 0.0), |total, s| (total.0 + s.0, total.1 + s.1));
                (sum, product * inv_std[c])
            })
            .collect()
    }

    /// Returns the input-gradient coefficients of every channel from the window sums.
    fn input_gradients<T: WithDType>(
        &self,
        sums: &[(f64, f64)],
        saved: &Saved,
        gamma: &[f64],
        inv_std: &[f64],
        count: f64,
    ) -> Vec<InputGradient<T>> {
        sums.iter()
            .enumerate()
            .map(|(c, &(grad_sum, product_sum))| {
                let scale = gamma[c] * inv_std[c];
                InputGradient {
                    window: T::from_f64(scale),
                    centred: T::from_f64(-scale * inv_std[c] * product_sum / count),
                    constant: T::from_f64(-scale * grad_sum / count),
                    mean: T::from_f64(saved.statistics.mean[c]),
                }
            })
            .collect()
    }

    /// Returns the gradients of the input, `γ` and `β`.
    pub(crate) fn backward<T: WithDType>(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<[Tensor; 3]> {
        let shape = x.shape().clone();
        let (_, channels, height, width) = shape.dims4()?;
        let plane = height * width;
        let out_plane = grad.elem_count() / (shape.elem_count() / plane.max(1)).max(1);

        let (coefficients, sums) = self.gradient_coefficients::<T>(x, gamma, grad)?;
        let saved = self.lock()?;
        let grad_x = with_slice::<T, _>(x, |x| {
            with_slice::<T, _>(grad, |g| {
                let mut grad_x = vec![T::zero(); x.len()];
                grad_x
                    .par_chunks_mut(plane)
                    .zip(x.par_chunks(plane))
                    .zip(g.par_chunks(out_plane).zip(saved.argmax.par_chunks(out_plane)))
                    .enumerate()
                    .for_each(|(index, ((out, xp), (windows, maxima)))| {
                        coefficients[index % channels].write_plane(xp, windows, maxima, out);
                    });
                grad_x
            })
        })??;

        gradient_tensors(grad_x, &sums, shape, x.device())
    }

    /// Returns the input-gradient coefficients of every channel and the per-channel
    /// `(Σ g, Σ g x̂)`, the gradients of `β` and `γ`.
    pub(crate) fn gradient_coefficients<T: WithDType>(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<GradientCoefficients<T>> {
        let saved = self.lock()?;
        let (batch, _, height, width) = x.dims4()?;
        let plane = height * width;
        let (gamma, inv_std) = backward_factors::<T>(gamma, &saved.statistics, self.eps)?;
        let sums = with_slice::<T, _>(x, |x| {
            with_slice::<T, _>(grad, |g| self.window_sums(x, g, &saved, &inv_std, plane))
        })??;
        let coefficients = self.input_gradients(&sums, &saved, &gamma, &inv_std, (batch * plane) as f64);
        Ok((coefficients, sums))
    }

    /// Runs `f` on the window winners of the last forward pass, plane by plane in output order.
    pub(crate) fn with_argmax<R>(&self, f: impl FnOnce(&[u32]) -> R) -> candle_core::Result<R> {
        Ok(f(&self.lock()?.argmax))
    }
}

/// Per channel: the input-gradient coefficients and `(Σ g, Σ g x̂)`.
pub(crate) type GradientCoefficients<T> = (Vec<InputGradient<T>>, Vec<(f64, f64)>);

/// The input gradient of one channel: `∂x = window · g + centred · (x - mean) + constant`, where
/// `g` is the pooled gradient scattered to the window maxima (zero elsewhere). With
/// `s = γ / σ`: `window = s`, `centred = -s · mean(g x̂) / σ`, `constant = -s · mean(g)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InputGradient<T> {
    window: T,
    centred: T,
    constant: T,
    mean: T,
}

impl<T: WithDType> InputGradient<T> {
    /// Writes the input gradient of one plane `x` to `out`, given the pooled gradient `windows`
    /// and the plane offsets `maxima` of the windows' winners.
    pub fn write_plane(&self, x: &[T], windows: &[T], maxima: &[u32], out: &mut [T]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = self.centred * (v - self.mean) + self.constant;
        }
        // Overlapping windows may share a winner, so their gradients add up.
        for (&g, &offset) in windows.iter().zip(maxima) {
            out[offset as usize] += self.window * g;
        }
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
