//! 2-D max pooling whose gradient goes to the first maximum of each window, as in PyTorch.
//!
//! candle 0.11.1's own max-pool backward scales each window's gradient by the fraction of tied
//! maxima instead of dividing it among them. It also locates windows by nearest upsampling, which
//! is wrong when the input size is not a multiple of the stride. This operation records nothing
//! between passes: the backward pass scans each window again and routes the upstream gradient to
//! the first maximum in row-major order, so every window passes on exactly its upstream gradient.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::{Error, Result};

/// Window geometry of a 2-D max pooling over `N x C x H x W` tensors (floor mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
}

impl MaxPool2d {
    /// Creates a pooling with a square `kernel`, a stride equal to it and no padding.
    pub fn new(kernel: usize) -> Result<Self> {
        Self::with_geometry((kernel, kernel), (kernel, kernel), (0, 0))
    }

    /// Creates a pooling with the given `(height, width)` kernel, stride and padding.
    ///
    /// Padding may be at most half the kernel, as in PyTorch, so that every window overlaps the
    /// input.
    pub fn with_geometry(kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize)) -> Result<Self> {
        if kernel.0 == 0 || kernel.1 == 0 {
            return Err(invalid("kernel", kernel, "kernel sizes must be at least 1"));
        }
        if stride.0 == 0 || stride.1 == 0 {
            return Err(invalid("stride", stride, "strides must be at least 1"));
        }
        if padding.0 > kernel.0 / 2 || padding.1 > kernel.1 / 2 {
            return Err(invalid(
                "padding",
                padding,
                "padding must be at most half the kernel size",
            ));
        }
        Ok(Self {
            kernel,
            stride,
            padding,
        })
    }

    /// Pools `xs` with candle's own `max_pool2d` and its gradient, the stock path kept for
    /// comparison with [`forward`](Self::forward).
    ///
    /// NOTE: candle 0.11.1's gradient scales each window by the fraction of tied maxima and
    /// places windows by nearest upsampling. Both are wrong: the first for ties, the second for
    /// sizes that are not a multiple of the stride (Conv-4 on 28x28 pools 7 to 3). Only
    /// `forward` has the correct gradient.
    pub fn forward_candle(&self, xs: &Tensor) -> Result<Tensor> {
        if self.padding != (0, 0) {
            return Err(Error::InvalidArgument {
                name: "padding",
                value: format!("{:?}", self.padding),
                reason: "candle's max_pool2d has no padding; use forward",
            });
        }
        Ok(xs.max_pool2d_with_stride(self.kernel, self.stride)?)
    }

    /// Applies the pooling to an `N x C x H x W` tensor of f32 or f64 values.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (_, _, height, width) = xs.dims4()?;
        self.output_size(height, width)?;
        Ok(xs.contiguous()?.apply_op1(*self)?)
    }

    /// Returns the `(height, width)` of the output for an input of the given size.
    pub fn output_size(&self, height: usize, width: usize) -> Result<(usize, usize)> {
        let padded = (height + 2 * self.padding.0, width + 2 * self.padding.1);
        if padded.0 < self.kernel.0 || padded.1 < self.kernel.1 {
            return Err(Error::ShapeMismatch {
                operation: "max_pool2d",
                details: format!(
                    "input of {height}x{width} with padding {:?} is smaller than the kernel {:?}",
                    self.padding, self.kernel
                ),
            });
        }
        Ok((
            (padded.0 - self.kernel.0) / self.stride.0 + 1,
            (padded.1 - self.kernel.1) / self.stride.1 + 1,
        ))
    }

    /// Calls `visit(window, offset)` with the input offset of the first maximum of every window
    /// of one `H x W` plane.
    pub(crate) fn for_each_argmax<T: WithDType>(
        &self,
        plane: &[T],
        height: usize,
        width: usize,
        out: (usize, usize),
        mut visit: impl FnMut(usize, usize),
    ) {
        for oy in 0..out.0 {
            let (y0, y1) = self.window(oy, self.stride.0, self.padding.0, self.kernel.0, height);
            for ox in 0..out.1 {
                let (x0, x1) = self.window(ox, self.stride.1, self.padding.1, self.kernel.1, width);

                // The first maximum in row-major order wins; a NaN wins over numbers so that it
                // propagates, as in PyTorch.
                let mut best = y0 * width + x0;
                for y in y0..y1 {
                    for x in x0..x1 {
                        let value = plane[y * width + x];
                        let current = plane[best];
                        #[allow(clippy::eq_op)] // `v != v` is the NaN test for a generic float.
                        let value_is_nan = value != value;
                        #[allow(clippy::eq_op)]
                        let current_is_nan = current != current;
                        if value > current || (value_is_nan && !current_is_nan) {
                            best = y * width + x;
                        }
                    }
                }
                visit(oy * out.1 + ox, best);
            }
        }
    }

    /// Returns the input range `[start, end)` covered by window `index` along one axis.
    fn window(&self, index: usize, stride: usize, padding: usize, kernel: usize, size: usize) -> (usize, usize) {
        let start = (index * stride) as isize - padding as isize;
        let end = (start + kernel as isize).min(size as isize);
        (start.max(0) as usize, end as usize)
    }

    fn forward_typed<T: WithDType>(&self, input: &[T], shape: &Shape) -> candle_core::Result<(Vec<T>, Shape)> {
        let (batch, channels, height, width) = shape.dims4()?;
        let out = self.output_size(height, width).map_err(candle_core::Error::wrap)?;
        let mut output = vec![T::zero(); batch * channels * out.0 * out.1];

        output
            .par_chunks_mut(out.0 * out.1)
            .zip(input.par_chunks(height * width))
            .for_each(|(output_plane, plane)| {
                self.for_each_argmax(plane, height, width, out, |window, position| {
                    output_plane[window] = plane[position]
                });
            });
        Ok((output, Shape::from((batch, channels, out.0, out.1))))
    }

    fn backward_typed<T: WithDType>(&self, input: &[T], shape: &Shape, grad: &[T]) -> candle_core::Result<Vec<T>> {
        let (_, _, height, width) = shape.dims4()?;
        let out = self.output_size(height, width).map_err(candle_core::Error::wrap)?;
        let mut grad_input = vec![T::zero(); input.len()];

        grad_input
            .par_chunks_mut(height * width)
            .zip(input.par_chunks(height * width))
            .zip(grad.par_chunks(out.0 * out.1))
            .for_each(|((grad_plane, plane), grad_out)| {
                self.for_each_argmax(plane, height, width, out, |window, position| {
                    grad_plane[position] += grad_out[window]
                });
            });
        Ok(grad_input)
    }
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "fsl-max-pool2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (start, end) = contiguous_range(layout)?;
        match storage {
            CpuStorage::F32(values) => {
                let (output, shape) = self.forward_typed(&values[start..end], layout.shape())?;
                Ok((CpuStorage::F32(output), shape))
            }
            CpuStorage::F64(values) => {
                let (output, shape) = self.forward_typed(&values[start..end], layout.shape())?;
                Ok((CpuStorage::F64(output), shape))
            }
            other => Err(candle_core::Error::wrap(Error::UnsupportedDType {
                operation: "max_pool2d",
                dtype: other.dtype(),
            })),
        }
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let grad = arg.apply_op2_no_bwd(&grad_res.contiguous()?, &MaxPool2dBackward(*self))?;
        Ok(Some(grad))
    }
}

/// The backward pass of [`MaxPool2d`]: input and upstream gradient to input gradient.
struct MaxPool2dBackward(MaxPool2d);

impl CustomOp2 for MaxPool2dBackward {
    fn name(&self) -> &'static str {
        "fsl-max-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        input: &CpuStorage,
        input_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input_start, input_end) = contiguous_range(input_layout)?;
        let (grad_start, grad_end) = contiguous_range(grad_layout)?;
        let shape = input_layout.shape().clone();
        match (input, grad) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                let result = self
                    .0
                    .backward_typed(&x[input_start..input_end], &shape, &g[grad_start..grad_end])?;
                Ok((CpuStorage::F32(result), shape))
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                let result = self
                    .0
                    .backward_typed(&x[input_start..input_end], &shape, &g[grad_start..grad_end])?;
                Ok((CpuStorage::F64(result), shape))
            }
            (other, _) => Err(candle_core::Error::wrap(Error::UnsupportedDType {
                operation: "max_pool2d backward",
                dtype: other.dtype(),
            })),
        }
    }
}

/// Returns the storage range of a contiguous layout, or an error for a strided one.
pub(crate) fn contiguous_range(layout: &Layout) -> candle_core::Result<(usize, usize)> {
    layout.contiguous_offsets().ok_or_else(|| {
        candle_core::Error::Msg("custom CPU kernels need contiguous tensors; call `contiguous()` first".into())
    })
}

fn invalid(name: &'static str, value: (usize, usize), reason: &'static str) -> Error {
    Error::InvalidArgument {
        name,
        value: format!("{value:?}"),
        reason,
    }
}
