//! The Conv-4 block of [`conv_norm_pool`](super::conv_norm_pool) and
//! [`conv_norm_relu_pool`](super::conv_norm_relu_pool) in evaluation mode: a convolution, batch
//! normalisation with the running statistics, ReLU when requested and max pooling as one
//! operation.
//!
//! With fixed statistics the normalisation is `x · scale + shift` per channel, so each image is
//! convolved into a small buffer, pooled there (the winner of a window follows the sign of the
//! scale, see [`Extremum::under_scale`]) and only the pooled values are normalised. Neither the
//! convolution output nor its normalised copy is ever stored for the batch, which is what
//! embedding a large set of images spends its time on otherwise.
//!
//! Backward, with `g` the pooled gradient: the convolution output's gradient is `scale · g` at
//! each window's winner and zero elsewhere. Over the winners, `∂β = Σ g` and
//! `∂γ = Σ g (x - μ) / σ`, with `μ` and `σ` the running statistics.

use std::sync::{Arc, Mutex};

use candle_core::{Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::block_op::{self, BlockGradients, BlockOp};
use super::conv_kernel::ConvKernel;
use super::cpu::{filled, with_slice};
use super::max_pool::{Extremum, MaxPool2d};
use super::normalize::affine_factors;

/// Rows of the packed per-channel inputs: `[bias; γ; β; running mean; running variance]`.
const BIAS_ROW: usize = 0;
const GAMMA_ROW: usize = 1;
const BETA_ROW: usize = 2;
const MEAN_ROW: usize = 3;
const VARIANCE_ROW: usize = 4;
pub(crate) const PACKED_ROWS: usize = 5;

/// The state the forward pass leaves for the backward pass.
#[derive(Debug, Default)]
struct Saved {
    /// Plane offset of the winner of every window, in output order.
    argmax: Vec<u32>,
    /// The winners' values before normalisation, in f64.
    raw: Vec<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ConvAffinePool {
    pub conv: ConvKernel,
    pub pool: MaxPool2d,
    pub eps: f64,
    /// Whether ReLU follows the normalisation.
    pub relu: bool,
    saved: Arc<Mutex<Saved>>,
}

impl ConvAffinePool {
    pub fn new(conv: ConvKernel, pool: MaxPool2d, eps: f64, relu: bool) -> Self {
        Self {
            conv,
            pool,
            eps,
            relu,
            saved: Arc::default(),
        }
    }

    fn lock(&self) -> candle_core::Result<std::sync::MutexGuard<'_, Saved>> {
        self.saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("evaluation block state lock poisoned".into()))
    }
}

impl BlockOp for ConvAffinePool {
    const NAME: &'static str = "conv_batch_norm_max_pool_eval";

    fn relu(&self) -> bool {
        self.relu
    }

    fn forward_typed<T: WithDType>(
        &self,
        x: &[T],
        x_shape: &Shape,
        weight: &[T],
        packed: &[T],
    ) -> candle_core::Result<(Vec<T>, Shape)> {
        let sizes = self.conv.0.sizes(x_shape)?;
        let channels = packed.len() / PACKED_ROWS;
        let row = |index: usize| &packed[index * channels..(index + 1) * channels];
        let (height, width) = (sizes.out_height, sizes.out_width);
        let out = self.pool.output_size(height, width).map_err(candle_core::Error::wrap)?;
        let out_plane = out.0 * out.1;

        let statistics: Vec<(f64, f64)> = row(MEAN_ROW)
            .iter()
            .zip(row(VARIANCE_ROW))
            .map(|(mean, variance)| (mean.to_f64(), variance.to_f64()))
            .collect();
        let factors = affine_factors(&statistics, row(GAMMA_ROW), row(BETA_ROW), self.eps);

        // Each image's task fills its own chunks of the outputs; see `filled`.
        let pooled_len = sizes.batch * channels * out_plane;
        let mut pooled: Vec<T> = Vec::with_capacity(pooled_len);
        let mut argmax: Vec<u32> = Vec::with_capacity(pooled_len);
        sizes.assert_batch_in(x);
        pooled.spare_capacity_mut()[..pooled_len]
            .par_chunks_mut(channels * out_plane)
            .zip(argmax.spare_capacity_mut()[..pooled_len].par_chunks_mut(channels * out_plane))
            .zip(x.par_chunks(sizes.image_len()))
            .for_each_init(
                || {
                    let output = vec![T::zero(); channels * sizes.positions()];
                    (self.conv.patch_buffer(sizes), output)
                },
                |(cols, y), ((values, maxima), image)| {
                    let (values, maxima) = (filled(values, T::zero()), filled(maxima, 0));
                    self.conv.forward_image(image, weight, row(BIAS_ROW), sizes, cols, y);

                    let planes = y.chunks(sizes.positions());
                    let windows = values.chunks_mut(out_plane).zip(maxima.chunks_mut(out_plane));
                    for ((plane, (values, maxima)), &(scale, _)) in planes.zip(windows).zip(&factors) {
                        let extremum = Extremum::under_scale(scale);
                        self.pool
                            .extrema_of_plane(plane, (height, width), out, extremum, values, maxima);
                    }
                },
            );

        // SAFETY: the input has `batch` images (asserted above), so the zipped iterator gave
        // every chunk of both outputs to a task, and each task filled its chunks.
        #[allow(unsafe_code)]
        unsafe {
            pooled.set_len(pooled_len);
            argmax.set_len(pooled_len);
        }

        let raw = pooled.iter().map(|v| v.to_f64()).collect();
        pooled
            .par_chunks_mut(out_plane)
            .enumerate()
            .for_each(|(index, values)| {
                let (scale, shift) = factors[index % channels];
                block_op::normalize_pooled(values, scale, shift, self.relu);
            });

        let mut saved = self.lock()?;
        saved.argmax = argmax;
        saved.raw = raw;
        Ok((pooled, Shape::from((sizes.batch, channels, out.0, out.1))))
    }

    fn backward_typed<T: WithDType>(
        &self,
        x: &Tensor,
        weight: &Tensor,
        packed: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<BlockGradients> {
        let sizes = self.conv.0.sizes(x.shape())?;
        let channels = weight.dims()[0];
        let positions = sizes.positions();
        let out_plane = grad.elem_count() / (sizes.batch * channels).max(1);
        let rows = with_slice::<T, _>(packed, |p| p.iter().map(|v| v.to_f64()).collect::<Vec<f64>>())?;
        let row = |index: usize| &rows[index * channels..(index + 1) * channels];
        let inv_std: Vec<f64> = row(VARIANCE_ROW).iter().map(|v| 1.0 / (v + self.eps).sqrt()).collect();
        let scales: Vec<T> = row(GAMMA_ROW)
            .iter()
            .zip(&inv_std)
            .map(|(gamma, inv)| T::from_f64(gamma * inv))
            .collect();

        let saved = self.lock()?;
        let need_input_grad = x.track_op();
        let ((grad_x, grad_weight, grad_bias), sums) = with_slice::<T, _>(x, |xs| {
            with_slice::<T, _>(weight, |w| {
                with_slice::<T, _>(grad, |g| {
                    // Per channel: Σ g and Σ g (x - μ), over the window winners.
                    let mut sums = vec![(0.0, 0.0); channels];
                    for (index, (windows, raw)) in g.chunks(out_plane).zip(saved.raw.chunks(out_plane)).enumerate() {
                        let c = index % channels;
                        let mean = row(MEAN_ROW)[c];
                        for (gv, r) in windows.iter().zip(raw) {
                            sums[c].0 += gv.to_f64();
                            sums[c].1 += gv.to_f64() * (r - mean);
                        }
                    }

                    let grads = self
                        .conv
                        .backward_from(xs, w, sizes, channels, need_input_grad, |n, upstream| {
                            upstream.fill(T::zero());
                            for (c, out) in upstream.chunks_mut(positions).enumerate() {
                                let plane = (n * channels + c) * out_plane;
                                let windows = &g[plane..][..out_plane];
                                let maxima = &saved.argmax[plane..][..out_plane];
                                for (&gv, &offset) in windows.iter().zip(maxima) {
                                    out[offset as usize] += scales[c] * gv;
                                }
                            }
                        });
                    (grads, sums)
                })
            })
        })???;

        let grad_gamma = sums.iter().zip(&inv_std).map(|(s, inv)| T::from_f64(s.1 * inv));
        let grad_beta = sums.iter().map(|s| T::from_f64(s.0));
        // The running statistics are detached buffers, so their rows get zeros.
        let running = std::iter::repeat_n(T::zero(), 2 * channels);
        let grad_packed = grad_bias
            .into_iter()
            .chain(grad_gamma)
            .chain(grad_beta)
            .chain(running)
            .collect();
        block_op::gradient_tensors((x, weight, packed), grad_x, grad_weight, grad_packed)
    }
}

block_op::custom_op3!(ConvAffinePool, "fsl-conv-batch-norm-max-pool-eval");
