//! Affine warp of 8-bit images on raw channel values, with fixed-point bilinear weights.
//!
//! imageproc's generic `warp` reads every neighbour through a bounds-checked pixel accessor and
//! rounds between its two interpolation passes. This path walks each output row with the
//! inverse map stepped in 32.32 fixed point and weights neighbours with 11-bit integers. A value
//! then differs from exact bilinear interpolation of the same input by at most 0.5 levels for
//! rounding plus 0.125 levels because weights are rounded to 1/2048, wherever it lies in a row.

/// Bits of the fractional part of a source position.
const POSITION_BITS: u32 = 32;

/// Bits of a bilinear weight, so `1 << WEIGHT_BITS` is weight 1.
const WEIGHT_BITS: u32 = 11;

const WEIGHT_ONE: u32 = 1 << WEIGHT_BITS;

/// Rounding term and shift of the product of two weights.
const PRODUCT_HALF: i32 = 1 << (2 * WEIGHT_BITS - 1);
const PRODUCT_BITS: u32 = 2 * WEIGHT_BITS;

/// Interpolations this path implements. Bicubic stays with imageproc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LevelInterpolation {
    /// imageproc's rule: the pixel at `floor(x + 0.5), floor(y + 0.5)`.
    Nearest,
    /// The four neighbours weighted by distance, with `fill` outside the image.
    Bilinear,
}

/// Map from output to input pixel coordinates, pixel centres at integers:
/// `input = (a00 x + a01 y + b0, a10 x + a11 y + b1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct InverseAffine {
    pub(crate) a00: f64,
    pub(crate) a01: f64,
    pub(crate) b0: f64,
    pub(crate) a10: f64,
    pub(crate) a11: f64,
    pub(crate) b1: f64,
}

/// Source geometry shared by every output row.
struct Source<'a, const C: usize> {
    values: &'a [u8],
    width: i64,
    height: i64,
    fill: u8,
}

impl<const C: usize> Source<'_, C> {
    /// Channel values of pixel `(x, y)`, or the fill outside the image.
    fn pixel_or_fill(&self, x: i64, y: i64) -> [u8; C] {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return [self.fill; C];
        }

        let start = (y * self.width + x) as usize * C;
        std::array::from_fn(|channel| self.values[start + channel])
    }
}

/// Warps `values` (row-major, `channels` values per pixel, 1 or 3) with `inverse`; output
/// pixels whose neighbours lie outside the input read `fill` there.
pub(crate) fn warp_levels(
    values: &[u8],
    (width, height): (u32, u32),
    channels: usize,
    inverse: &InverseAffine,
    interpolation: LevelInterpolation,
    fill: u8,
) -> Vec<u8> {
    match channels {
        1 => warp_channels::<1>(values, (width, height), inverse, interpolation, fill),
        3 => warp_channels::<3>(values, (width, height), inverse, interpolation, fill),
        _ => unreachable!("augmenters only see gray and RGB images"),
    }
}

fn warp_channels<const C: usize>(
    values: &[u8],
    (width, height): (u32, u32),
    inverse: &InverseAffine,
    interpolation: LevelInterpolation,
    fill: u8,
) -> Vec<u8> {
    let source = Source::<C> {
        values,
        width: i64::from(width),
        height: i64::from(height),
        fill,
    };
    let row_length = width as usize * C;
    let mut output = vec![0u8; row_length * height as usize];
    if row_length == 0 {
        return output;
    }

    let scale = (1u64 << POSITION_BITS) as f64;
    let step_x = (inverse.a00 * scale).round() as i64;
    let step_y = (inverse.a10 * scale).round() as i64;

    for (y, row) in output.chunks_exact_mut(row_length).enumerate() {
        // The row start is computed in f64, so rounding errors of the fixed-point steps only
        // accumulate along one row.
        let y = y as f64;
        let start_x = ((inverse.a01 * y + inverse.b0) * scale).round() as i64;
        let start_y = ((inverse.a11 * y + inverse.b1) * scale).round() as i64;

        match interpolation {
            LevelInterpolation::Nearest => nearest_row(&source, row, (start_x, start_y), (step_x, step_y)),
            LevelInterpolation::Bilinear => bilinear_row(&source, row, (start_x, start_y), (step_x, step_y)),
        }
    }
    output
}

fn nearest_row<const C: usize>(source: &Source<'_, C>, row: &mut [u8], start: (i64, i64), step: (i64, i64)) {
    let half = 1i64 << (POSITION_BITS - 1);
    let (mut x, mut y) = start;

    for pixel in row.chunks_exact_mut(C) {
        // An arithmetic shift floors, also for negative positions.
        let column = (x + half) >> POSITION_BITS;
        let line = (y + half) >> POSITION_BITS;
        pixel.copy_from_slice(&source.pixel_or_fill(column, line));

        x += step.0;
        y += step.1;
    }
}

fn bilinear_row<const C: usize>(source: &Source<'_, C>, row: &mut [u8], start: (i64, i64), step: (i64, i64)) {
    let stride = source.width as usize * C;

    // Half a weight step added to both positions rounds the weights in `weight`. A fraction that
    // rounds up to a whole step then moves on to the next neighbour with weight 0, which reads
    // the same value.
    let half_step = 1i64 << (POSITION_BITS - WEIGHT_BITS - 1);
    let (mut x, mut y) = (start.0 + half_step, start.1 + half_step);

    for pixel in row.chunks_exact_mut(C) {
        let left = x >> POSITION_BITS;
        let top = y >> POSITION_BITS;
        let right_weight = weight(x);
        let bottom_weight = weight(y);
        x += step.0;
        y += step.1;

        let weights = Weights::new(right_weight, bottom_weight);

        let inside = left >= 0 && top >= 0 && left + 1 < source.width && top + 1 < source.height;
        if inside {
            // One bounds check for the 2x2 block instead of one per read.
            let start = (top * source.width + left) as usize * C;
            let block = &source.values[start..start + stride + 2 * C];
            for (channel, value) in pixel.iter_mut().enumerate() {
                *value = weights.blend(
                    block[channel],
                    block[channel + C],
                    block[channel + stride],
                    block[channel + stride + C],
                );
            }
            continue;
        }

        let outside = left < -1 || top < -1 || left >= source.width || top >= source.height;
        if outside {
            pixel.fill(source.fill);
            continue;
        }

        let top_left = source.pixel_or_fill(left, top);
        let top_right = source.pixel_or_fill(left + 1, top);
        let bottom_left = source.pixel_or_fill(left, top + 1);
        let bottom_right = source.pixel_or_fill(left + 1, top + 1);
        for (channel, value) in pixel.iter_mut().enumerate() {
            *value = weights.blend(
                top_left[channel],
                top_right[channel],
                bottom_left[channel],
                bottom_right[channel],
            );
        }
    }
}

/// Weight of the right (or lower) neighbour: bits of the fractional part of a position that
/// [`bilinear_row`] has offset by half a weight step, so truncating them rounds the weight.
fn weight(position: i64) -> u32 {
    ((position >> (POSITION_BITS - WEIGHT_BITS)) & (i64::from(WEIGHT_ONE) - 1)) as u32
}

/// Horizontal and vertical weights of the right and lower neighbours, each in
/// `0..=WEIGHT_ONE`.
struct Weights {
    right: i32,
    bottom: i32,
}

impl Weights {
    fn new(right: u32, bottom: u32) -> Self {
        Self {
            right: right as i32,
            bottom: bottom as i32,
        }
    }

    /// Interpolates the four neighbours' levels and rounds to a level. Two horizontal steps and
    /// one vertical step of the form `a + (b − a) · w` equal the sum weighted by weight products
    /// exactly, with three multiplications instead of eight.
    #[inline(always)]
    fn blend(&self, top_left: u8, top_right: u8, bottom_left: u8, bottom_right: u8) -> u8 {
        let one = WEIGHT_ONE as i32;
        let upper = i32::from(top_left) * one + (i32::from(top_right) - i32::from(top_left)) * self.right;
        let lower = i32::from(bottom_left) * one + (i32::from(bottom_right) - i32::from(bottom_left)) * self.right;

        // Both rows lie in [0, 255 · 2^11], so the sum stays in [0, 255 · 2^22] and fits i32.
        let sum = upper * one + (lower - upper) * self.bottom;
        ((sum + PRODUCT_HALF) >> PRODUCT_BITS) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shift(dx: f64, dy: f64) -> InverseAffine {
        InverseAffine {
            a00: 1.0,
            a01: 0.0,
            b0: -dx,
            a10: 0.0,
            a11: 1.0,
            b1: -dy,
        }
    }

    #[test]
    fn integer_shift_moves_pixels_exactly() {
        let values = [10, 20, 30, 40, 50, 60];

        let output = warp_levels(&values, (3, 2), 1, &shift(1.0, 0.0), LevelInterpolation::Bilinear, 255);

        assert_eq!(output, vec![255, 10, 20, 255, 40, 50]);
    }

    #[test]
    fn half_pixel_shift_averages_neighbours() {
        let values = [10, 20, 30, 40, 50, 60, 70, 80, 90];

        let output = warp_levels(&values, (3, 1), 3, &shift(0.5, 0.0), LevelInterpolation::Bilinear, 0);

        // Output pixel 0 reads x = -0.5: half fill 0, half the first pixel.
        assert_eq!(output[..3], [5, 10, 15]);
        assert_eq!(output[3..6], [25, 35, 45]);
        assert_eq!(output[6..9], [55, 65, 75]);
    }

    #[test]
    fn nearest_rounds_half_up() {
        let values = [10, 20, 30];

        let output = warp_levels(&values, (3, 1), 1, &shift(-0.5, 0.0), LevelInterpolation::Nearest, 0);

        // x + 0.5 reads 1, 2 and 3 (outside).
        assert_eq!(output, vec![20, 30, 0]);
    }
}
