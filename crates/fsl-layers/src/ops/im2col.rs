//! Unfolding of image patches into rows (`im2col`) and its adjoint (`col2im`), one image at a
//! time, so that a convolution and both of its gradients become small matrix products.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Shape, WithDType};

use crate::Error;

/// Patch geometry of a 2-D convolution with square kernel, stride and zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Patches {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

/// Sizes of one convolution: input `N x C x H x W`, output `OH x OW`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_height: usize,
    pub out_width: usize,
}

impl Sizes {
    /// Values in one input image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Output positions of one image.
    pub fn positions(&self) -> usize {
        self.out_height * self.out_width
    }
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

    /// Returns the sizes of a convolution of an `N x C x H x W` input.
    pub fn sizes(&self, shape: &Shape) -> candle_core::Result<Sizes> {
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

    /// Columns of one unfolded row: `C·K·K`.
    pub fn patch_len(&self, sizes: Sizes) -> usize {
        sizes.channels * self.kernel * self.kernel
    }

    /// Unfolds one `C x H x W` image into `cols`, an `(OH·OW) x (C·K·K)` row-major matrix whose
    /// columns are ordered like a `C_out x C x K x K` weight flattened to `C_out x (C·K·K)`.
    /// Taps on the zero padding are written as zeros.
    pub fn unfold_image<T: WithDType>(&self, image: &[T], sizes: Sizes, cols: &mut [T]) {
        let patch = self.patch_len(sizes);
        cols.fill(T::zero());
        for oy in 0..sizes.out_height {
            for ox in 0..sizes.out_width {
                let row = &mut cols[(oy * sizes.out_width + ox) * patch..][..patch];
                self.for_each_tap(oy, ox, sizes, |column, offset| row[column] = image[offset]);
            }
        }
    }

    /// Folds `(OH·OW) x (C·K·K)` rows back into one `C x H x W` image, summing where patches
    /// overlap.
    pub fn fold_image<T: WithDType>(&self, cols: &[T], sizes: Sizes, image: &mut [T]) {
        let patch = self.patch_len(sizes);
        for oy in 0..sizes.out_height {
            for ox in 0..sizes.out_width {
                let row = &cols[(oy * sizes.out_width + ox) * patch..][..patch];
                self.for_each_tap(oy, ox, sizes, |column, offset| image[offset] += row[column]);
            }
        }
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

pub(crate) fn unsupported(operation: &'static str, storage: &CpuStorage) -> candle_core::Error {
    candle_core::Error::wrap(Error::UnsupportedDType {
        operation,
        dtype: storage.dtype(),
    })
}
