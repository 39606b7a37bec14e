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
    /// Taps on the zero padding are written as zeros, so `cols` needs no clearing beforehand.
    pub fn unfold_image<T: WithDType>(&self, image: &[T], sizes: Sizes, cols: &mut [T]) {
        let (k, patch) = (self.kernel, self.patch_len(sizes));
        let plane_len = sizes.height * sizes.width;
        for (position, row) in cols.chunks_mut(patch).take(sizes.positions()).enumerate() {
            let (oy, ox) = (position / sizes.out_width, position % sizes.out_width);

            // Columns run over (c, ky, kx) with kx fastest, so both the reads along an input row
            // and the writes are contiguous.
            for (c, channel_taps) in row.chunks_mut(k * k).enumerate() {
                let plane = &image[c * plane_len..][..plane_len];
                for (ky, taps) in channel_taps.chunks_mut(k).enumerate() {
                    let Some(y) = self.input_index(oy, ky, sizes.height) else {
                        taps.fill(T::zero());
                        continue;
                    };
                    let input_row = &plane[y * sizes.width..][..sizes.width];
                    for (kx, tap) in taps.iter_mut().enumerate() {
                        *tap = self
                            .input_index(ox, kx, sizes.width)
                            .map_or(T::zero(), |x| input_row[x]);
                    }
                }
            }
        }
    }

    /// Folds `(OH·OW) x (C·K·K)` rows back into one `C x H x W` image, summing where patches
    /// overlap; the adjoint of [`unfold_image`](Self::unfold_image). `image` must start zeroed.
    pub fn fold_image<T: WithDType>(&self, cols: &[T], sizes: Sizes, image: &mut [T]) {
        let (k, patch) = (self.kernel, self.patch_len(sizes));
        let plane_len = sizes.height * sizes.width;
        for (position, row) in cols.chunks(patch).take(sizes.positions()).enumerate() {
            let (oy, ox) = (position / sizes.out_width, position % sizes.out_width);
            for (c, channel_taps) in row.chunks(k * k).enumerate() {
                let plane = &mut image[c * plane_len..][..plane_len];
                for (ky, taps) in channel_taps.chunks(k).enumerate() {
                    let Some(y) = self.input_index(oy, ky, sizes.height) else {
                        continue;
                    };
                    let input_row = &mut plane[y * sizes.width..][..sizes.width];
                    match self.interior_span(ox, sizes.width) {
                        Some(x0) => input_row[x0..x0 + k]
                            .iter_mut()
                            .zip(taps)
                            .for_each(|(v, &tap)| *v += tap),
                        None => {
                            for (kx, &tap) in taps.iter().enumerate() {
                                if let Some(x) = self.input_index(ox, kx, sizes.width) {
                                    input_row[x] += tap;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Returns the first input column of output column `ox` when its whole kernel row lies
    /// inside the image, the common case that is copied as one slice.
    #[inline]
    fn interior_span(&self, ox: usize, width: usize) -> Option<usize> {
        (ox * self.stride)
            .checked_sub(self.padding)
            .filter(|&x0| x0 + self.kernel <= width)
    }

    /// Returns the input coordinate read by output coordinate `out` at kernel offset `offset`,
    /// or `None` when it falls on the padding.
    #[inline]
    fn input_index(&self, out: usize, offset: usize, size: usize) -> Option<usize> {
        (out * self.stride + offset)
            .checked_sub(self.padding)
            .filter(|&i| i < size)
    }
}

pub(crate) fn unsupported(operation: &'static str, storage: &CpuStorage) -> candle_core::Error {
    candle_core::Error::wrap(Error::UnsupportedDType {
        operation,
        dtype: storage.dtype(),
    })
}
