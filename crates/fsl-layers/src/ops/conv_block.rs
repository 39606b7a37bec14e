//! A convolution, training-mode batch normalisation and max pooling as one operation: the
//! Conv-4 block without its ReLU, which commutes with the pooling.
//!
//! candle's autograd gives every tensor of the graph a zero-filled gradient buffer and adds the
//! incoming gradient to it. The convolution output is the largest tensor of a block and its
//! gradient comes from the normalisation alone, so those are two passes over memory the size of
//! the activations for nothing.
//! Inside one operation the convolution output is a private buffer, and the backward pass hands
//! the normalisation's input gradient straight to the convolution's.
//!
//! Each image's work happens while its output is in cache. Forward: convolve, take the moments
//! of every channel plane and pool the raw values. The normalisation is `x · scale + shift` per
//! channel, so it moves no window's winner (see [`Extremum::under_scale`]). Once every
//! image is done, the moments merge into batch statistics and only the pooled values are
//! normalised.
//! Backward: sum `g` and `g x̂` over the window winners, then per image write the convolution's
//! output gradient into a small buffer and run the convolution's backward pass on it at once.

use std::sync::{Arc, Mutex};

use candle_core::{Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::batch_norm::BatchNorm2d;
use super::block_op::{self, BlockGradients, BlockOp};
use super::conv::Conv2d;
use super::conv_block_eval::ConvAffinePool;
use super::conv_kernel::ConvKernel;
use super::cpu::{filled, with_slice};
use super::max_pool::{Extremum, MaxPool2d};
use super::moments::{Moments, merge_channels};
use super::normalize::affine_factors;
use super::normalize_pool::NormalizePool;
use crate::{Error, Result};

/// Row of the packed parameter matrix holding each of the per-channel parameters.
const BIAS_ROW: usize = 0;
const GAMMA_ROW: usize = 1;
const BETA_ROW: usize = 2;

/// Convolves, normalises and pools `xs`: the values and gradients of
/// `pool.forward(&norm.forward(&conv.forward(xs)?, train)?)`.
///
/// The three run as one operation, which keeps the convolution output out of the autograd graph:
/// with the batch statistics in training mode, with the running statistics in evaluation mode.
///
/// # Errors
///
/// The errors of the three layers: mismatched channels, an input smaller than the kernel or the
/// pooling window, and a training batch with one value per channel.
pub fn conv_norm_pool(xs: &Tensor, conv: &Conv2d, norm: &BatchNorm2d, pool: &MaxPool2d, train: bool) -> Result<Tensor> {
    fused_block(xs, (conv, norm, pool), train, false)
}

/// Convolves, normalises, applies ReLU and pools `xs`, the Conv-4 block: the values and
/// gradients of `pool.forward(&norm.forward(&conv.forward(xs)?, train)?.relu()?)`, except that
/// the gradient at an output of exactly zero is zero, as in PyTorch (candle's ReLU passes it).
///
/// ReLU commutes with max pooling, so it runs on the pooled values inside the same operation as
/// [`conv_norm_pool`], which saves candle's ReLU and the gradient buffers autograd would give it.
///
/// # Errors
///
/// Those of [`conv_norm_pool`].
pub fn conv_norm_relu_pool(
    xs: &Tensor,
    conv: &Conv2d,
    norm: &BatchNorm2d,
    pool: &MaxPool2d,
    train: bool,
) -> Result<Tensor> {
    fused_block(xs, (conv, norm, pool), train, true)
}

/// Runs the fused block for both public functions, with or without ReLU.
fn fused_block(
    xs: &Tensor,
    (conv, norm, pool): (&Conv2d, &BatchNorm2d, &MaxPool2d),
    train: bool,
    relu: bool,
) -> Result<Tensor> {
    conv.check_input(xs)?;

    // The normalisation and the pooling check the convolution output's shape before it exists.
    let (batch, _, height, width) = xs.dims4()?;
    let (out_height, out_width) = conv.patches.output_size(height, width).ok_or(Error::ShapeMismatch {
        operation: "conv2d",
        details: format!(
            "input of {height}x{width} is smaller than the kernel {}",
            conv.patches.kernel
        ),
    })?;
    norm.check_dims((batch, conv.weight.dims()[0], out_height, out_width), train)?;
    pool.output_size(out_height, out_width)?;

    let bias = conv.bias_or_zeros(xs)?;
    if !train {
        // The running statistics are buffers, so no gradient flows into them.
        let (mean, variance) = norm.running_statistics();
        let packed = Tensor::stack(
            &[&bias, &norm.weight, &norm.bias, &mean.detach(), &variance.detach()],
            0,
        )?;
        let op = ConvAffinePool::new(ConvKernel(conv.patches), *pool, norm.eps, relu);
        return Ok(xs.contiguous()?.apply_op3(&conv.weight.contiguous()?, &packed, op)?);
    }

    let packed = Tensor::stack(&[&bias, &norm.weight, &norm.bias], 0)?;
    let op = ConvNormalizePool {
        conv: ConvKernel(conv.patches),
        norm: NormalizePool::new(norm.eps, *pool),
        conv_output: Arc::default(),
        relu,
    };
    let pooled = xs
        .contiguous()?
        .apply_op3(&conv.weight.contiguous()?, &packed, op.clone())?;
    let statistics = op.norm.statistics()?;
    norm.update_running_statistics(&statistics.mean, &statistics.variance, batch * out_height * out_width)?;
    Ok(pooled)
}

#[derive(Debug, Clone)]
struct ConvNormalizePool {
    conv: ConvKernel,
    norm: NormalizePool,
    /// The convolution output of the forward pass, which the backward pass normalises again.
    conv_output: Arc<Mutex<Option<Tensor>>>,
    /// Whether ReLU follows the normalisation.
    relu: bool,
}

impl BlockOp for ConvNormalizePool {
    const NAME: &'static str = "conv_batch_norm_max_pool";

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
        let channels = packed.len() / 3;
        let row = |index: usize| &packed[index * channels..(index + 1) * channels];
        let (bias, gamma, beta) = (row(BIAS_ROW), row(GAMMA_ROW), row(BETA_ROW));
        let (height, width, positions) = (sizes.out_height, sizes.out_width, sizes.positions());
        let out = self
            .norm
            .pool
            .output_size(height, width)
            .map_err(candle_core::Error::wrap)?;
        let out_plane = out.0 * out.1;
        // The normalisation scales channel c by γ_c / σ_c, whose sign is γ_c's, so the raw
        // values can be pooled before σ is known.
        let extrema: Vec<Extremum> = gamma.iter().map(|&g| Extremum::under_scale(g)).collect();

        // Each image's task fills its own chunks of the outputs; see `filled`.
        let (conv_len, pooled_len) = (sizes.batch * channels * positions, sizes.batch * channels * out_plane);
        let mut conv_output: Vec<T> = Vec::with_capacity(conv_len);
        let mut pooled: Vec<T> = Vec::with_capacity(pooled_len);
        let mut argmax: Vec<u32> = Vec::with_capacity(pooled_len);
        let mut moments = vec![Moments::default(); sizes.batch * channels];
        sizes.assert_batch_in(x);
        conv_output.spare_capacity_mut()[..conv_len]
            .par_chunks_mut(channels * positions)
            .zip(x.par_chunks(sizes.image_len()))
            .zip(pooled.spare_capacity_mut()[..pooled_len].par_chunks_mut(channels * out_plane))
            .zip(argmax.spare_capacity_mut()[..pooled_len].par_chunks_mut(channels * out_plane))
            .zip(moments.par_chunks_mut(channels))
            .for_each_init(
                || self.conv.patch_buffer(sizes),
                |cols, ((((y, image), values), maxima), image_moments)| {
                    let (y, values, maxima) = (filled(y, T::zero()), filled(values, T::zero()), filled(maxima, 0));
                    self.conv.forward_image(image, weight, bias, sizes, cols, y);

                    // While the image's output is in cache: its moments and its windows.
                    for (c, (plane, moments)) in y.chunks(positions).zip(image_moments.iter_mut()).enumerate() {
                        *moments = Moments::of_plane(plane);
                        self.norm.pool.extrema_of_plane(
                            plane,
                            (height, width),
                            out,
                            extrema[c],
                            &mut values[c * out_plane..][..out_plane],
                            &mut maxima[c * out_plane..][..out_plane],
                        );
                    }
                },
            );

        // SAFETY: the input has `batch` images (asserted above), so the zipped iterator gave
        // every chunk of the three outputs to a task, and each task filled its chunks.
        #[allow(unsafe_code)]
        unsafe {
            conv_output.set_len(conv_len);
            pooled.set_len(pooled_len);
            argmax.set_len(pooled_len);
        }

        let statistics = merge_channels(&moments, channels);
        let factors = affine_factors(&statistics, gamma, beta, self.norm.eps);
        pooled
            .par_chunks_mut(out_plane)
            .enumerate()
            .for_each(|(index, values)| {
                let (scale, shift) = factors[index % channels];
                block_op::normalize_pooled(values, scale, shift, self.relu);
            });
        self.norm.save(&statistics, argmax)?;

        let conv_shape = Shape::from((sizes.batch, channels, height, width));
        let tensor = Tensor::from_vec(conv_output, conv_shape, &candle_core::Device::Cpu)?;
        *self
            .conv_output
            .lock()
            .map_err(|_| candle_core::Error::Msg("convolution block state lock poisoned".into()))? = Some(tensor);
        Ok((pooled, Shape::from((sizes.batch, channels, out.0, out.1))))
    }

    /// Returns the gradients of the input (when it needs one), the weight and the packed
    /// `[bias; γ; β]`. The convolution's output gradient is never stored: each image's is
    /// computed from the batch-norm coefficients right before the convolution uses it.
    fn backward_typed<T: WithDType>(
        &self,
        x: &Tensor,
        weight: &Tensor,
        packed: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<BlockGradients> {
        let conv_output = self
            .conv_output
            .lock()
            .map_err(|_| candle_core::Error::Msg("convolution block state lock poisoned".into()))?
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("convolution block backward before forward".into()))?;

        let (coefficients, sums) = self
            .norm
            .gradient_coefficients::<T>(&conv_output, &packed.get(GAMMA_ROW)?, grad)?;

        let sizes = self.conv.0.sizes(x.shape())?;
        let channels = weight.dims()[0];
        let positions = sizes.positions();
        let out_plane = grad.elem_count() / (sizes.batch * channels).max(1);
        let need_input_grad = x.track_op();
        let (grad_x, grad_weight, grad_bias) = with_slice::<T, _>(x, |xs| {
            with_slice::<T, _>(weight, |w| {
                with_slice::<T, _>(&conv_output, |y| {
                    with_slice::<T, _>(grad, |g| {
                        self.norm.with_argmax(|argmax| {
                            self.conv
                                .backward_from(xs, w, sizes, channels, need_input_grad, |n, upstream| {
                                    for (c, out) in upstream.chunks_mut(positions).enumerate() {
                                        let plane = n * channels + c;
                                        coefficients[c].write_plane(
                                            &y[plane * positions..][..positions],
                                            &g[plane * out_plane..][..out_plane],
                                            &argmax[plane * out_plane..][..out_plane],
                                            out,
                                        );
                                    }
                                })
                        })
                    })
                })
            })
        })?????;

        let grad_gamma = sums.iter().map(|s| T::from_f64(s.1));
        let grad_beta = sums.iter().map(|s| T::from_f64(s.0));
        let grad_packed = grad_bias.into_iter().chain(grad_gamma).chain(grad_beta).collect();
        block_op::gradient_tensors((x, weight, packed), grad_x, grad_weight, grad_packed)
    }
}

block_op::custom_op3!(ConvNormalizePool, "fsl-conv-batch-norm-max-pool-train");
