//! Unfolding of image patches into rows (`im2col`) and its adjoint (`col2im`), so that a
//! convolution and both of its gradients become plain matrix products.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::max_pool::contiguous_range;
use crate::Error;

/// Patch geometry of a 2-D convolution with square kernel, stride and zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Patches {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

/// Sizes of one unfolding: input `N x C x H x W`, output `OH x OW`.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
}

impl Patches {
    /// Returns the output `(height, width)` for an input of the given size, if the kernel fits.
    pub fn output_size(&self, height: usize, width: usize) -> Option<(usize, usize)> {
        let (padded_height, padded_width) = (height + 2 * self.padding, width + 2 * self.padding);
        if padded_height < self.kernel || padded_width < self.kernel {
            return None;
        }
        Some((
            (padded_height - self.kernel) / self.stride + 1,
            (padded_width - self.kernel) / self.stride + 1,
        ))
    }

    fn sizes(&self, shape: &Shape) -> candle_core::Result<Sizes> {
        let (batch, channels, height, width) = shape.dims4()?;
        let (out_height, out_width) = self.output_size(height, width).ok_or_else(|| {
            candle_core::Error::wrap(Error::ShapeMismatch {
                operation: "conv2d",
                details: format!(
                    "input of {height}x{width} with padding {} is smaller than the kernel {}",
                    self.padding, self.kernel
                ),
            })
        })?;
        Ok(Sizes {
            batch,
            channels,
            height,
            width,
            out_height,
            out_width,
        })
    }

    /// Unfolds `N x C x H x W` into `(N·OH·OW) x (C·K·K)`: one row per output position, columns
    /// ordered like a `C_out x C x K x K` weight flattened to `C_out x (C·K·K)`.
    fn unfold<T: WithDType>(&self, input: &[T], sizes: Sizes) -> Vec<T> {
        let patch = sizes.channels * self.kernel * self.kernel;
        let rows_per_image = sizes.out_height * sizes.out_width;
        let mut cols = vec![T::zero(); sizes.batch * rows_per_image * patch];

        cols.par_chunks_mut(rows_per_image * patch)
            .zip(input.par_chunks(sizes.channels * sizes.height * sizes.width))
            .for_each(|(image_cols, image)| {
                for oy in 0..sizes.out_height {
                    for ox in 0..sizes.out_width {
                        let row = &mut image_cols[(oy * sizes.out_width + ox) * patch..][..patch];
                        self.for_each_tap(oy, ox, sizes, |column, offset| row[column] = image[offset]);
                    }
                }
            });
        cols
    }

    /// Folds rows back into an `N x C x H x W` tensor, summing where patches overlap.
    fn fold<T: WithDType>(&self, cols: &[T], sizes: Sizes) -> Vec<T> {
        let patch = sizes.channels * self.kernel * self.kernel;
        let rows_per_image = sizes.out_height * sizes.out_width;
        let image_len = sizes.channels * sizes.height * sizes.width;
        let mut output = vec![T::zero(); sizes.batch * image_len];

        output
            .par_chunks_mut(image_len)
            .zip(cols.par_chunks(rows_per_image * patch))
            .for_each(|(image, image_cols)| {
                for oy in 0..sizes.out_height {
                    for ox in 0..sizes.out_width {
                        let row = &image_cols[(oy * sizes.out_width + ox) * patch..][..patch];
                        self.for_each_tap(oy, ox, sizes, |column, offset| image[offset] += row[column]);
                    }
                }
            });
        output
    }

    /// Calls `visit(column, input_offset)` for every kernel tap of output position `(oy, ox)`
    /// that falls inside the image; taps on the zero padding are skipped.
    #[inline]
    fn for_each_tap(&self, oy: usize, ox: usize, sizes: Sizes, mut visit: impl FnMut(usize, usize)) {
        let k = self.kernel;
        for ky in 0..k {
            let y = (oy * self.stride + ky) as isize - self.padding as isize;
            if y < 0 || y >= sizes.height as isize {
                continue;
            }
            for kx in 0..k {
                let x = (ox * self.stride + kx) as isize - self.padding as isize;
                if x < 0 || x >= sizes.width as isize {
                    continue;
                }
                for c in 0..sizes.channels {
                    let column = (c * k + ky) * k + kx;
                    let offset = (c * sizes.height + y as usize) * sizes.width + x as usize;
                    visit(column, offset);
                }
            }
        }
    }
}

/// `im2col` as a candle operation whose gradient is `col2im`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Im2Col(pub Patches);

impl Im2Col {
    pub fn apply(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        xs.contiguous()?.apply_op1(*self)
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "fsl-im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let sizes = self.0.sizes(layout.shape())?;
        let shape = Shape::from((
            sizes.batch * sizes.out_height * sizes.out_width,
            sizes.channels * self.0.kernel * self.0.kernel,
        ));
        let (start, end) = contiguous_range(layout)?;
        let result = match storage {
            CpuStorage::F32(values) => CpuStorage::F32(self.0.unfold(&values[start..end], sizes)),
            CpuStorage::F64(values) => CpuStorage::F64(self.0.unfold(&values[start..end], sizes)),
            other => return Err(unsupported("conv2d", other)),
        };
        Ok((result, shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let col2im = Col2Im {
            patches: self.0,
            input_shape: arg.shape().clone(),
        };
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&col2im)?))
    }
}

/// The adjoint of [`Im2Col`] for a given input shape.
struct Col2Im {
    patches: Patches,
    input_shape: Shape,
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "fsl-col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let sizes = self.patches.sizes(&self.input_shape)?;
        let (start, end) = contiguous_range(layout)?;
        let result = match storage {
            CpuStorage::F32(values) => CpuStorage::F32(self.patches.fold(&values[start..end], sizes)),
            CpuStorage::F64(values) => CpuStorage::F64(self.patches.fold(&values[start..end], sizes)),
            other => return Err(unsupported("conv2d backward", other)),
        };
        Ok((result, self.input_shape.clone()))
    }
}

pub(crate) fn unsupported(operation: &'static str, storage: &CpuStorage) -> candle_core::Error {
    candle_core::Error::wrap(Error::UnsupportedDType {
        operation,
        dtype: storage.dtype(),
    })
}
