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

    /// Panics unless `input` contains all `batch` images. The fused blocks rely on it before
    /// they mark outputs that one task per image fills as initialised.
    pub fn assert_batch_in(&self, input: &[impl Copy]) {
        assert!(
            input.len() >= self.batch * self.image_len(),
            "convolution block: {} input values for {} images of {}",
            input.len(),
            self.batch,
            self.image_len()
        );
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

    /// Unfolds one `C x H x W` image into `cols`, a `(C·K·K) x (OH·OW)` row-major matrix: row
    /// `(c, ky, kx)` holds, for every output position, the input value under that kernel tap, so
    /// that `W (C_out x C·K·K) · cols` is the convolution. Taps on the zero padding are written
    /// as zeros, so `cols` needs no clearing beforehand.
    ///
    /// Along an output row a tap reads one input row at a fixed offset, so with stride 1 each
    /// output row of `cols` is one slice copy framed by the padding zeros.
    pub fn unfold_image<T: WithDType>(&self, image: &[T], sizes: Sizes, cols: &mut [T]) {
        let positions = sizes.positions();
        for (tap_index, row) in cols.chunks_mut(positions).take(self.patch_len(sizes)).enumerate() {
            let (plane, ky, kx) = self.tap(image, sizes, tap_index);
            if self.stride == 1 && 2 * self.padding + 1 == self.kernel {
                self.unfold_same_tap(plane, sizes, (ky, kx), row);
                continue;
            }
            let (first, end) = self.valid_columns(kx, sizes);

            for (oy, out_row) in row.chunks_mut(sizes.out_width).enumerate() {
                let Some(y) = self.input_index(oy, ky, sizes.height) else {
                    out_row.fill(T::zero());
                    continue;
                };
                let input_row = &plane[y * sizes.width..][..sizes.width];
                out_row[..first].fill(T::zero());
                out_row[end..].fill(T::zero());
                if self.stride == 1 {
                    let x0 = first + kx - self.padding;
                    out_row[first..end].copy_from_slice(&input_row[x0..x0 + (end - first)]);
                } else {
                    for (ox, value) in out_row.iter_mut().enumerate().take(end).skip(first) {
                        *value = input_row[ox * self.stride + kx - self.padding];
                    }
                }
            }
        }
    }

    /// Writes one row of the unfolded matrix of a stride-1 "same" convolution (output as large
    /// as the input), where the row is the input plane shifted by `(ky - p, kx - p)`.
    ///
    /// The shifted plane is one contiguous copy. The copy wraps row ends into the neighbouring
    /// rows, so the columns that fall on the padding are zeroed afterwards. Conv-4's 3x3
    /// convolutions with padding 1 take this path, whose single copy replaced one short copy
    /// per output row.
    fn unfold_same_tap<T: WithDType>(&self, plane: &[T], sizes: Sizes, (ky, kx): (usize, usize), row: &mut [T]) {
        let (height, width) = (sizes.height, sizes.width);
        let (dy, dx) = (ky as isize - self.padding as isize, kx as isize - self.padding as isize);

        // Output rows whose input row `oy + dy` lies inside the plane.
        let first = (-dy).max(0) as usize;
        let end = (height as isize - dy).clamp(first as isize, height as isize) as usize;
        row[..first * width].fill(T::zero());
        row[end * width..].fill(T::zero());
        if first == end {
            return;
        }

        // rows[j] = plane[start + j] wherever that index lies inside the plane.
        let rows = &mut row[first * width..end * width];
        let start = (first as isize + dy) * width as isize + dx;
        let skip = (-start).max(0) as usize;
        let stop = ((plane.len() as isize - start).max(0) as usize).min(rows.len());
        if skip < stop {
            let source = (start + skip as isize) as usize;
            rows[skip..stop].copy_from_slice(&plane[source..source + (stop - skip)]);
        }

        // Columns whose input column `ox + dx` is padding, including any index skipped above.
        let shift = dx.unsigned_abs().min(width);
        for out_row in rows.chunks_mut(width) {
            if dx < 0 {
                out_row[..shift].fill(T::zero());
            } else {
                out_row[width - shift..].fill(T::zero());
            }
        }
    }

    /// Folds a `(C·K·K) x (OH·OW)` matrix back into one `C x H x W` image, summing where taps
    /// overlap; the adjoint of [`unfold_image`](Self::unfold_image). `image` must start zeroed.
    pub fn fold_image<T: WithDType>(&self, cols: &[T], sizes: Sizes, image: &mut [T]) {
        let positions = sizes.positions();
        let plane_len = sizes.height * sizes.width;
        let k = self.kernel;
        for (tap_index, row) in cols.chunks(positions).take(self.patch_len(sizes)).enumerate() {
            let (c, ky, kx) = (tap_index / (k * k), tap_index / k % k, tap_index % k);
            let plane = &mut image[c * plane_len..][..plane_len];
            let (first, end) = self.valid_columns(kx, sizes);

            for (oy, out_row) in row.chunks(sizes.out_width).enumerate() {
                let Some(y) = self.input_index(oy, ky, sizes.height) else {
                    continue;
                };
                let input_row = &mut plane[y * sizes.width..][..sizes.width];
                for ox in first..end {
                    input_row[ox * self.stride + kx - self.padding] += out_row[ox];
                }
            }
        }
    }

    /// Returns the input plane, `ky` and `kx` of row `tap_index` of an unfolded matrix.
    fn tap<'a, T>(&self, image: &'a [T], sizes: Sizes, tap_index: usize) -> (&'a [T], usize, usize) {
        let k = self.kernel;
        let plane_len = sizes.height * sizes.width;
        let c = tap_index / (k * k);
        (&image[c * plane_len..][..plane_len], tap_index / k % k, tap_index % k)
    }

    /// Returns the range `first..end` of output columns whose tap at offset `kx` lies inside the
    /// image rather than on the padding.
    fn valid_columns(&self, kx: usize, sizes: Sizes) -> (usize, usize) {
        let stride = self.stride;
        let first = self.padding.saturating_sub(kx).div_ceil(stride).min(sizes.out_width);
        let end = (sizes.width + self.padding)
            .saturating_sub(kx)
            .div_ceil(stride)
            .clamp(first, sizes.out_width);
        (first, end)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Unfolds by the definition: `cols[(c, ky, kx)][oy, ox] = x[c, oy·s + ky - p, ox·s + kx - p]`,
    /// zero on the padding.
    fn unfold_by_definition(patches: Patches, image: &[f64], sizes: Sizes) -> Vec<f64> {
        let k = patches.kernel;
        let mut cols = Vec::new();
        for c in 0..sizes.channels {
            for ky in 0..k {
                for kx in 0..k {
                    for oy in 0..sizes.out_height {
                        for ox in 0..sizes.out_width {
                            let y = (oy * patches.stride + ky) as isize - patches.padding as isize;
                            let x = (ox * patches.stride + kx) as isize - patches.padding as isize;
                            let inside =
                                (0..sizes.height as isize).contains(&y) && (0..sizes.width as isize).contains(&x);
                            cols.push(if inside {
                                image[(c * sizes.height + y as usize) * sizes.width + x as usize]
                            } else {
                                0.0
                            });
                        }
                    }
                }
            }
        }
        cols
    }

    #[test]
    fn unfold_matches_definition_on_odd_shapes() {
        // Same-size 3x3 and 5x5 kernels (the contiguous-copy path), planes one pixel wide or
        // high, and a stride-2 and an unpadded case (the per-row path).
        let cases = [
            (3, 1, 1, (2, 5, 7)),
            (3, 1, 1, (1, 1, 6)),
            (3, 1, 1, (1, 6, 1)),
            (5, 1, 2, (2, 4, 9)),
            (5, 1, 2, (1, 2, 2)),
            (3, 2, 1, (2, 6, 5)),
            (2, 1, 0, (1, 4, 5)),
        ];
        for (kernel, stride, padding, (channels, height, width)) in cases {
            let patches = Patches {
                kernel,
                stride,
                padding,
            };
            let sizes = patches.sizes(&Shape::from((1, channels, height, width))).unwrap();
            let image: Vec<f64> = (0..channels * height * width).map(|i| i as f64 + 1.0).collect();
            // Stale values in the buffer must all be overwritten.
            let mut cols = vec![f64::NAN; patches.patch_len(sizes) * sizes.positions()];

            patches.unfold_image(&image, sizes, &mut cols);

            assert_eq!(
                cols,
                unfold_by_definition(patches, &image, sizes),
                "kernel {kernel}, stride {stride}, padding {padding}, {channels}x{height}x{width}"
            );
        }
    }
}
