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
        visit: impl FnMut(usize, usize),
    ) {
        self.for_each_extremum(plane, height, width, out, Extremum::Maximum, visit);
    }

    /// Writes the first `extremum` of every window of one `H x W` plane to `values` and its
    /// plane offset to `maxima`, both `OH x OW` (the `out` size).
    pub(crate) fn extrema_of_plane<T: WithDType>(
        &self,
        plane: &[T],
        (height, width): (usize, usize),
        out: (usize, usize),
        extremum: Extremum,
        values: &mut [T],
        maxima: &mut [u32],
    ) {
        // A NaN needs the slower comparison that lets it win; planes without one, the normal
        // case, take the 2x2 loop.
        #[allow(clippy::eq_op)] // `v != v` is the NaN test for a generic float.
        let has_nan = || plane.iter().fold(false, |any, &v| any | (v != v));
        if self.kernel == (2, 2) && self.stride == (2, 2) && self.padding == (0, 0) && !has_nan() {
            #[cfg(target_arch = "x86_64")]
            if super::pool_2x2_avx512::try_pool(plane, width, out, extremum, values, maxima) {
                return;
            }
            match extremum {
                Extremum::Maximum => pool_2x2(plane, width, out, |v, c| v > c, values, maxima),
                Extremum::Minimum => pool_2x2(plane, width, out, |v, c| v < c, values, maxima),
                Extremum::First => pool_2x2(plane, width, out, |_, _| false, values, maxima),
            }
            return;
        }
        self.for_each_extremum(plane, height, width, out, extremum, |window, offset| {
            values[window] = plane[offset];
            maxima[window] = offset as u32;
        });
    }

    /// Calls `visit(window, offset)` with the input offset of the first `extremum` of every
    /// window of one `H x W` plane, in row-major order. A NaN wins over numbers so that it
    /// propagates, as in PyTorch.
    pub(crate) fn for_each_extremum<T: WithDType>(
        &self,
        plane: &[T],
        height: usize,
        width: usize,
        out: (usize, usize),
        extremum: Extremum,
        visit: impl FnMut(usize, usize),
    ) {
        // One copy of the scan per order, so that the comparison inside is a single instruction.
        #[allow(clippy::eq_op)] // `v != v` is the NaN test for a generic float.
        let nan_wins = |value: T, current: T| (value != value) & (current == current);
        match extremum {
            Extremum::Maximum => self.scan(plane, (height, width), out, |v, c| (v > c) | nan_wins(v, c), visit),
            Extremum::Minimum => self.scan(plane, (height, width), out, |v, c| (v < c) | nan_wins(v, c), visit),
            Extremum::First => self.scan(plane, (height, width), out, |_, _| false, visit),
        }
    }

    /// Visits the first winner of every window, where `wins(value, current)` returns whether
    /// `value` beats the best value so far.
    ///
    /// Random data makes the comparisons unpredictable, so the winner is kept with selects
    /// rather than branches.
    #[inline(always)]
    fn scan<T: WithDType>(
        &self,
        plane: &[T],
        (height, width): (usize, usize),
        out: (usize, usize),
        wins: impl Fn(T, T) -> bool,
        mut visit: impl FnMut(usize, usize),
    ) {
        let keep = |(best, best_value): (usize, T), offset: usize, value: T| {
            let better = wins(value, best_value);
            (
                if better { offset } else { best },
                if better { value } else { best_value },
            )
        };

        for oy in 0..out.0 {
            let (y0, y1) = self.window(oy, self.stride.0, self.padding.0, self.kernel.0, height);
            for ox in 0..out.1 {
                let (x0, x1) = self.window(ox, self.stride.1, self.padding.1, self.kernel.1, width);
                let first = y0 * width + x0;
                let mut best = (first, plane[first]);
                for y in y0..y1 {
                    for (x, &value) in plane[y * width..][x0..x1].iter().enumerate() {
                        best = keep(best, y * width + x0 + x, value);
                    }
                }
                visit(oy * out.1 + ox, best.0);
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

/// Pools 2x2 windows of stride 2 (Conv-4's) from one plane `width` values wide and free of NaN;
/// see [`MaxPool2d::extrema_of_plane`].
///
/// The winner is kept with selects, not branches: random data makes every comparison a coin
/// toss, which a branch would mispredict half the time.
#[inline(always)]
fn pool_2x2<T: WithDType>(
    plane: &[T],
    width: usize,
    out: (usize, usize),
    wins: impl Fn(T, T) -> bool,
    values: &mut [T],
    maxima: &mut [u32],
) {
    let rows = values
        .chunks_exact_mut(out.1)
        .zip(maxima.chunks_exact_mut(out.1))
        .take(out.0);
    for (oy, (values, maxima)) in rows.enumerate() {
        let top = 2 * oy * width;
        let (upper, lower) = (&plane[top..][..2 * out.1], &plane[top + width..][..2 * out.1]);
        let windows = upper.chunks_exact(2).zip(lower.chunks_exact(2));
        for (ox, ((upper, lower), (value, maximum))) in
            windows.zip(values.iter_mut().zip(maxima.iter_mut())).enumerate()
        {
            // Offsets fit in u32: the caller's argmax buffers are u32.
            let left = (top + 2 * ox) as u32;
            let candidates = [
                (upper[1], left + 1),
                (lower[0], left + width as u32),
                (lower[1], left + width as u32 + 1),
            ];
            let (mut best, mut offset) = (upper[0], left);
            for (candidate, candidate_offset) in candidates {
                let better = wins(candidate, best);
                offset = if better { candidate_offset } else { offset };
                best = if better { candidate } else { best };
            }
            *value = best;
            *maximum = offset;
        }
    }
}

/// The rule that picks the winner of a pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extremum {
    Maximum,
    Minimum,
    /// Every value ties: the window's first element wins.
    First,
}

impl Extremum {
    /// Returns the extremum of raw values that becomes the maximum after multiplying them by
    /// `scale` and adding a shift.
    ///
    /// A positive scale keeps the order of the values, a negative one reverses it and zero makes
    /// every value tie, so the first element wins. Batch normalisation scales each channel this
    /// way, so its max pooling can pool the raw values and normalise only the winners.
    pub fn under_scale<T: WithDType>(scale: T) -> Self {
        if scale < T::zero() {
            Self::Minimum
        } else if scale == T::zero() {
            Self::First
        } else {
            Self::Maximum
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Winners by brute force: the first value of each window in row-major order that no
    /// later value beats under `wins`.
    fn brute_force(plane: &[f32], width: usize, out: (usize, usize), wins: impl Fn(f32, f32) -> bool) -> Vec<usize> {
        let mut winners = Vec::new();
        for oy in 0..out.0 {
            for ox in 0..out.1 {
                let offsets = [0, 1, width, width + 1].map(|d| 2 * oy * width + 2 * ox + d);
                let mut best = offsets[0];
                for &offset in &offsets[1..] {
                    if wins(plane[offset], plane[best]) {
                        best = offset;
                    }
                }
                winners.push(best);
            }
        }
        winners
    }

    /// Planes whose last row and column belong to no window (5x7, 3x33), as wide as sixteen
    /// windows (2x32) and wider (4x70, 28x28, against the AVX-512 loop's steps of sixteen).
    /// Values from {0, 1, 2} tie often.
    #[test]
    fn two_by_two_windows_pick_the_first_extremum() {
        let pool = MaxPool2d::new(2).unwrap();
        type Wins = fn(f32, f32) -> bool;
        let cases: [(Extremum, Wins); 3] = [
            (Extremum::Maximum, |v, c| v > c),
            (Extremum::Minimum, |v, c| v < c),
            (Extremum::First, |_, _| false),
        ];

        for (height, width) in [(5, 7), (3, 33), (2, 32), (4, 70), (28, 28)] {
            let plane: Vec<f32> = (0..height * width).map(|i| ((i * 7 + i / 3) % 3) as f32).collect();
            let out = pool.output_size(height, width).unwrap();

            for (extremum, wins) in cases {
                let (mut values, mut maxima) = (vec![0.0; out.0 * out.1], vec![0u32; out.0 * out.1]);
                pool.extrema_of_plane(&plane, (height, width), out, extremum, &mut values, &mut maxima);

                let expected = brute_force(&plane, width, out, wins);
                let maxima: Vec<usize> = maxima.iter().map(|&m| m as usize).collect();
                assert_eq!(maxima, expected, "{height}x{width} {extremum:?}");
                let expected_values: Vec<f32> = expected.iter().map(|&offset| plane[offset]).collect();
                assert_eq!(values, expected_values, "{height}x{width} {extremum:?}");
            }
        }
    }

    #[test]
    fn nan_wins_window_in_either_order() {
        let mut plane = vec![1.0f32, 5.0, 2.0, 0.0, 3.0, 4.0, 6.0, 7.0];
        plane[5] = f32::NAN;
        let pool = MaxPool2d::new(2).unwrap();
        let out = pool.output_size(2, 4).unwrap();

        for extremum in [Extremum::Maximum, Extremum::Minimum] {
            let (mut values, mut maxima) = (vec![0.0; 2], vec![0u32; 2]);
            pool.extrema_of_plane(&plane, (2, 4), out, extremum, &mut values, &mut maxima);
            assert_eq!(maxima[0], 5, "{extremum:?}: the NaN at offset 5");
            assert!(values[0].is_nan());
            let expected = if extremum == Extremum::Maximum { 7 } else { 3 };
            assert_eq!(maxima[1], expected, "{extremum:?}: the window without NaN");
        }
    }
}
