//! The CPU kernel of [`Conv2d`](super::Conv2d): per image, unfold the patches into a small
//! buffer and multiply by the weight.
//!
//! Unfolding one image at a time keeps the patch matrix small enough for the cache (196 x 576
//! values for Conv-4's second block on 28x28 input). The product goes straight into the
//! `N x C x H x W` output, so no batch-sized patch matrix is allocated and no transpose follows.
//! Images run in parallel on rayon, each multiply on one thread.
//!
//! The backward pass makes one parallel pass over fixed groups of images. For each image it
//! adds `cols · gᵀ` to the group's transposed weight gradient. With stride 1 it gets the input gradient as
//! a convolution of the output gradient with the flipped, transposed kernel, an unfold and a
//! product shaped like the forward one. The textbook `col2im(Wᵀ · g)`, which other strides
//! take, multiplies into a large patch matrix and then scatters it back with additions.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::cpu::with_slice;
use super::gemm::{MatrixView, matmul};
use super::im2col::{Patches, Sizes, unsupported};
use super::max_pool::contiguous_range;

/// Number of partial sums of the weight gradient, computed in parallel and added in order.
const GRADIENT_GROUPS: usize = 16;

/// Convolution of input `x`, weight `C_out x C x K x K` and bias `C_out`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvKernel(pub Patches);

impl ConvKernel {
    pub(crate) fn forward<T: WithDType>(&self, x: &[T], weight: &[T], bias: &[T], sizes: Sizes) -> Vec<T> {
        let out_channels = bias.len();
        let mut output = vec![T::zero(); sizes.batch * out_channels * sizes.positions()];

        output
            .par_chunks_mut(out_channels * sizes.positions())
            .zip(x.par_chunks(sizes.image_len()))
            .for_each_init(
                || self.patch_buffer(sizes),
                |cols, (y, image)| self.forward_image(image, weight, bias, sizes, cols, y),
            );
        output
    }

    /// Returns a buffer for the unfolded patches of one image.
    pub(crate) fn patch_buffer<T: WithDType>(&self, sizes: Sizes) -> Vec<T> {
        vec![T::zero(); self.0.patch_len(sizes) * sizes.positions()]
    }

    /// Convolves one image into `y` (`C_out x OH·OW`), unfolding it into `cols` on the way.
    pub(crate) fn forward_image<T: WithDType>(
        &self,
        image: &[T],
        weight: &[T],
        bias: &[T],
        sizes: Sizes,
        cols: &mut [T],
        y: &mut [T],
    ) {
        let (patch, positions) = (self.0.patch_len(sizes), sizes.positions());
        self.0.unfold_image(image, sizes, cols);

        // y (C_out x OH·OW) = W (C_out x C·K·K) · cols (C·K·K x OH·OW).
        let w = MatrixView::row_major(weight, bias.len(), patch);
        matmul(w, MatrixView::row_major(cols, patch, positions), y, false);
        for (row, &b) in y.chunks_mut(positions).zip(bias) {
            row.iter_mut().for_each(|v| *v += b);
        }
    }

    /// Returns `∂x` (only when `need_input_grad`), `∂W` and `∂b`. `upstream(n, g)` writes the
    /// gradient of image `n`'s output (`C_out x OH·OW`) into `g`. The fused Conv-4 block
    /// computes it there from the batch-norm backward pass, so it is still in cache when used.
    pub(crate) fn backward_from<T: WithDType>(
        &self,
        x: &[T],
        weight: &[T],
        sizes: Sizes,
        out_channels: usize,
        need_input_grad: bool,
        upstream: impl Fn(usize, &mut [T]) + Sync,
    ) -> (Option<Vec<T>>, Vec<T>, Vec<T>) {
        let patches = self.0;
        let (patch, positions) = (patches.patch_len(sizes), sizes.positions());

        // Images are summed in fixed groups whose partial sums of ∂W and ∂b are added in group
        // order: the grouping depends only on the batch size, never on rayon's scheduling, so
        // the same inputs give bit-identical gradients. ∂x is independent per image.
        let images_per_group = sizes.batch.div_ceil(GRADIENT_GROUPS).max(1);
        let group_len = sizes.image_len() * images_per_group;
        let mut grad_input = if need_input_grad {
            vec![T::zero(); x.len()]
        } else {
            Vec::new()
        };
        let groups = x.len().div_ceil(group_len.max(1));
        let grad_input_groups: Vec<Option<&mut [T]>> = if need_input_grad {
            grad_input.chunks_mut(group_len.max(1)).map(Some).collect()
        } else {
            (0..groups).map(|_| None).collect()
        };

        // With stride 1 the input gradient is itself a convolution, of the output gradient with
        // the flipped, transposed kernel: an unfold and a well-shaped product instead of a
        // product into a patch matrix and a scattered fold.
        let transposed = self.transposed(sizes, out_channels);
        let flipped_weight = transposed.map(|_| self.flipped_weight(weight, sizes.channels, out_channels));

        let partial_sums: Vec<(Vec<T>, Vec<T>)> = grad_input_groups
            .into_par_iter()
            .zip(x.par_chunks(group_len.max(1)))
            .enumerate()
            .map(|(group, (mut grad_images, images))| {
                // ∂Wᵀ (C·K·K x C_out): the product in this orientation ran 20-30% faster with
                // the `gemm` crate on Conv-4's shapes than ∂W = g · colsᵀ.
                let mut grad_weight_t = vec![T::zero(); patch * out_channels];
                let mut grad_bias = vec![T::zero(); out_channels];
                let mut cols = self.patch_buffer(sizes);
                let mut grad_cols = match (need_input_grad, transposed) {
                    (false, _) => Vec::new(),
                    (true, Some((kernel, grad_sizes))) => kernel.patch_buffer(grad_sizes),
                    (true, None) => self.patch_buffer(sizes),
                };
                let mut g = vec![T::zero(); out_channels * positions];

                for (index, image) in images.chunks(sizes.image_len()).enumerate() {
                    upstream(group * images_per_group + index, &mut g);

                    // ∂Wᵀ += cols · gᵀ and ∂b += Σ_positions g.
                    patches.unfold_image(image, sizes, &mut cols);
                    matmul(
                        MatrixView::row_major(&cols, patch, positions),
                        MatrixView::transposed(&g, out_channels, positions),
                        &mut grad_weight_t,
                        true,
                    );
                    for (sum, row) in grad_bias.iter_mut().zip(g.chunks(positions)) {
                        *sum += row.iter().fold(T::zero(), |total, &v| total + v);
                    }

                    let Some(grad_images) = grad_images.as_deref_mut() else {
                        continue;
                    };
                    let grad_image = &mut grad_images[index * sizes.image_len()..][..sizes.image_len()];
                    if let (Some((kernel, grad_sizes)), Some(flipped)) = (transposed, flipped_weight.as_deref()) {
                        // ∂x = W' · unfold(g), W' the flipped transposed kernel.
                        kernel.0.unfold_image(&g, grad_sizes, &mut grad_cols);
                        let grad_patch = kernel.0.patch_len(grad_sizes);
                        let w = MatrixView::row_major(flipped, sizes.channels, grad_patch);
                        let cols = MatrixView::row_major(&grad_cols, grad_patch, grad_sizes.positions());
                        matmul(w, cols, grad_image, false);
                    } else {
                        // ∂x = col2im(Wᵀ · g).
                        matmul(
                            MatrixView::transposed(weight, out_channels, patch),
                            MatrixView::row_major(&g, out_channels, positions),
                            &mut grad_cols,
                            false,
                        );
                        patches.fold_image(&grad_cols, sizes, grad_image);
                    }
                }
                (grad_weight_t, grad_bias)
            })
            .collect();

        let mut grad_weight = vec![T::zero(); out_channels * patch];
        let mut grad_bias = vec![T::zero(); out_channels];
        for (partial_weight_t, partial_bias) in partial_sums {
            for (tap, row) in partial_weight_t.chunks_exact(out_channels).enumerate() {
                for (channel, &v) in row.iter().enumerate() {
                    grad_weight[channel * patch + tap] += v;
                }
            }
            grad_bias.iter_mut().zip(&partial_bias).for_each(|(sum, &v)| *sum += v);
        }
        (need_input_grad.then_some(grad_input), grad_weight, grad_bias)
    }

    /// Returns the convolution whose output is the input gradient, and its sizes, when the
    /// stride is 1: over the output gradient (`C_out x OH x OW`), kernel `K`, padding `K - 1 - p`.
    fn transposed(&self, sizes: Sizes, out_channels: usize) -> Option<(ConvKernel, Sizes)> {
        let Patches {
            kernel,
            stride,
            padding,
        } = self.0;
        if stride != 1 || padding >= kernel {
            return None;
        }
        let patches = Patches {
            kernel,
            stride: 1,
            padding: kernel - 1 - padding,
        };
        let grad_sizes = Sizes {
            batch: sizes.batch,
            channels: out_channels,
            height: sizes.out_height,
            width: sizes.out_width,
            out_height: sizes.height,
            out_width: sizes.width,
        };
        Some((ConvKernel(patches), grad_sizes))
    }

    /// Returns `W'[ci, co, ky, kx] = W[co, ci, K-1-ky, K-1-kx]`, a `C_in x (C_out·K·K)` matrix.
    fn flipped_weight<T: WithDType>(&self, weight: &[T], in_channels: usize, out_channels: usize) -> Vec<T> {
        let k = self.0.kernel;
        let taps = k * k;
        let mut flipped = vec![T::zero(); weight.len()];
        for (ci, row) in flipped.chunks_mut(out_channels * taps).enumerate() {
            for (co, kernel) in row.chunks_mut(taps).enumerate() {
                let source = &weight[(co * in_channels + ci) * taps..][..taps];
                for (tap, value) in kernel.iter_mut().enumerate() {
                    *value = source[taps - 1 - tap];
                }
            }
        }
        flipped
    }

    /// Returns `∂x` (when `x` needs a gradient), `∂W` and `∂b` as tensors.
    pub(crate) fn backward_tensors<T: WithDType>(
        &self,
        x: &Tensor,
        weight: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Tensor, Tensor)> {
        let sizes = self.0.sizes(x.shape())?;
        let out_channels = weight.dims()[0];
        let need_input_grad = x.track_op();

        let grad_per_image = out_channels * sizes.positions();
        let (grad_input, grad_weight, grad_bias) = with_slice::<T, _>(x, |x| {
            with_slice::<T, _>(weight, |w| {
                with_slice::<T, _>(grad, |g| {
                    self.backward_from(x, w, sizes, out_channels, need_input_grad, |n, upstream| {
                        upstream.copy_from_slice(&g[n * grad_per_image..][..grad_per_image]);
                    })
                })
            })
        })???;

        let device = x.device();
        let grad_input = match grad_input {
            Some(values) => Some(Tensor::from_vec(values, x.shape(), device)?),
            None => None,
        };
        Ok((
            grad_input,
            Tensor::from_vec(grad_weight, weight.shape(), device)?,
            Tensor::from_vec(grad_bias, out_channels, device)?,
        ))
    }
}

impl CustomOp3 for ConvKernel {
    fn name(&self) -> &'static str {
        "fsl-conv2d"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        weight: &CpuStorage,
        weight_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let sizes = self.0.sizes(x_layout.shape())?;
        let out_channels = weight_layout.shape().dims()[0];
        let shape = Shape::from((sizes.batch, out_channels, sizes.out_height, sizes.out_width));
        let (xs, xe) = contiguous_range(x_layout)?;
        let (ws, we) = contiguous_range(weight_layout)?;
        let (bs, be) = contiguous_range(bias_layout)?;

        let result = match (x, weight, bias) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.forward(&x[xs..xe], &w[ws..we], &b[bs..be], sizes))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.forward(&x[xs..xe], &w[ws..we], &b[bs..be], sizes))
            }
            (other, _, _) => return Err(unsupported("conv2d", other)),
        };
        Ok((result, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (grad_input, grad_weight, grad_bias) = match x.dtype() {
            DType::F32 => self.backward_tensors::<f32>(x, weight, grad_res)?,
            DType::F64 => self.backward_tensors::<f64>(x, weight, grad_res)?,
            dtype => {
                return Err(candle_core::Error::wrap(crate::Error::UnsupportedDType {
                    operation: "conv2d backward",
                    dtype,
                }));
            }
        };
        Ok((grad_input, Some(grad_weight), Some(grad_bias)))
    }
}
