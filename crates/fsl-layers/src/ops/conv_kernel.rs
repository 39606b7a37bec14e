//! The CPU kernel of [`Conv2d`](super::Conv2d): per image, unfold the patches into a small
//! buffer and multiply by the weight.
//!
//! Unfolding one image at a time keeps the patch matrix small enough for the cache (196 x 576
//! values for Conv-4's second block on 28x28 input). The product goes straight into the
//! `N x C x H x W` output, so no batch-sized patch matrix is allocated and no transpose follows.
//! Images run in parallel on rayon, each multiply on one thread.

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
        let patches = self.0;
        let out_channels = bias.len();
        let (patch, positions) = (patches.patch_len(sizes), sizes.positions());
        let mut output = vec![T::zero(); sizes.batch * out_channels * positions];

        output
            .par_chunks_mut(out_channels * positions)
            .zip(x.par_chunks(sizes.image_len()))
            .for_each_init(
                || vec![T::zero(); positions * patch],
                |cols, (y, image)| {
                    patches.unfold_image(image, sizes, cols);

                    // y (C_out x OH·OW) = W (C_out x C·K·K) · cols (C·K·K x OH·OW).
                    let w = MatrixView::row_major(weight, out_channels, patch);
                    matmul(w, MatrixView::row_major(cols, patch, positions), y, false);
                    for (row, &b) in y.chunks_mut(positions).zip(bias) {
                        row.iter_mut().for_each(|v| *v += b);
                    }
                },
            );
        output
    }

    /// Returns `∂x` (only when `need_input_grad`), `∂W` and `∂b` for the upstream gradient `grad`.
    fn backward<T: WithDType>(
        &self,
        x: &[T],
        weight: &[T],
        grad: &[T],
        sizes: Sizes,
        out_channels: usize,
        need_input_grad: bool,
    ) -> (Option<Vec<T>>, Vec<T>, Vec<T>) {
        let patches = self.0;
        let (patch, positions) = (patches.patch_len(sizes), sizes.positions());
        let grad_per_image = out_channels * positions;

        // ∂x_n = col2im(Wᵀ · g_n), independent per image.
        let grad_input = need_input_grad.then(|| {
            let mut grad_input = vec![T::zero(); x.len()];
            grad_input
                .par_chunks_mut(sizes.image_len())
                .zip(grad.par_chunks(grad_per_image))
                .for_each_init(
                    || vec![T::zero(); positions * patch],
                    |grad_cols, (grad_image, g)| {
                        matmul(
                            MatrixView::transposed(weight, out_channels, patch),
                            MatrixView::row_major(g, out_channels, positions),
                            grad_cols,
                            false,
                        );
                        patches.fold_image(grad_cols, sizes, grad_image);
                    },
                );
            grad_input
        });

        // ∂W = Σ_n g_n · cols_nᵀ and ∂b = Σ_n Σ_positions g_n. Images are summed in fixed groups
        // whose partial sums are added in group order: the grouping depends only on the batch
        // size, never on rayon's scheduling, so the same inputs give bit-identical gradients.
        let images_per_group = sizes.batch.div_ceil(GRADIENT_GROUPS).max(1);
        let partial_sums: Vec<(Vec<T>, Vec<T>)> = x
            .par_chunks(sizes.image_len() * images_per_group)
            .zip(grad.par_chunks(grad_per_image * images_per_group))
            .map(|(images, grads)| {
                let mut grad_weight = vec![T::zero(); out_channels * patch];
                let mut grad_bias = vec![T::zero(); out_channels];
                let mut cols = vec![T::zero(); positions * patch];
                for (image, g) in images.chunks(sizes.image_len()).zip(grads.chunks(grad_per_image)) {
                    patches.unfold_image(image, sizes, &mut cols);
                    matmul(
                        MatrixView::row_major(g, out_channels, positions),
                        MatrixView::transposed(&cols, patch, positions),
                        &mut grad_weight,
                        true,
                    );
                    for (sum, row) in grad_bias.iter_mut().zip(g.chunks(positions)) {
                        *sum += row.iter().fold(T::zero(), |total, &v| total + v);
                    }
                }
                (grad_weight, grad_bias)
            })
            .collect();

        let mut grad_weight = vec![T::zero(); out_channels * patch];
        let mut grad_bias = vec![T::zero(); out_channels];
        for (partial_weight, partial_bias) in partial_sums {
            grad_weight
                .iter_mut()
                .zip(&partial_weight)
                .for_each(|(sum, &v)| *sum += v);
            grad_bias.iter_mut().zip(&partial_bias).for_each(|(sum, &v)| *sum += v);
        }
        (grad_input, grad_weight, grad_bias)
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

        let (grad_input, grad_weight, grad_bias) = with_slice::<T, _>(x, |x| {
            with_slice::<T, _>(weight, |w| {
                with_slice::<T, _>(grad, |g| self.backward(x, w, g, sizes, out_channels, need_input_grad))
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
