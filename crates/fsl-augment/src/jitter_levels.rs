//! Brightness, contrast and saturation jitter of 8-bit images through lookup tables.
//!
//! Brightness and contrast map each level on its own once the image's mean luma is known, and
//! that mean follows from per-channel sums, so both become one 256-entry table. Saturation blends
//! each channel with the pixel's luma, a sum of one table entry per channel. The tables hold
//! the exact f64 results in fixed point, so the output rounds the same value as the f64
//! formulas up to 0.002 levels.

use crate::color::LUMA_WEIGHTS;

/// Fractional bits of the saturation tables.
const TABLE_BITS: u32 = 14;
const TABLE_HALF: i32 = 1 << (TABLE_BITS - 1);

/// Factors drawn for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct JitterFactors {
    pub(crate) brightness: f64,
    pub(crate) contrast: f64,
    pub(crate) saturation: f64,
}

/// Applies brightness, contrast and saturation to row-major levels with `channels` values per
/// pixel (1 or 3) in place, clamping to [0, 255] after each step and rounding once.
pub(crate) fn jitter_levels(values: &mut [u8], channels: usize, factors: JitterFactors) {
    let contrasted = brightness_contrast_table(values, channels, factors);

    if channels == 1 {
        // The luma of a gray pixel is its value, so saturation leaves it as it is.
        let levels = contrasted.map(|value| value.round() as u8);
        values.iter_mut().for_each(|value| *value = levels[usize::from(*value)]);
        return;
    }

    if factors.saturation <= PACKED_MAX_SATURATION {
        saturate_packed(values, &contrasted, factors.saturation);
    } else {
        saturate(values, &contrasted, factors.saturation);
    }
}

/// Returns, for every input level, its value after brightness and contrast (clamped, not
/// rounded).
fn brightness_contrast_table(values: &[u8], channels: usize, factors: JitterFactors) -> [f64; 256] {
    let brightened: [f64; 256] = std::array::from_fn(|level| (level as f64 * factors.brightness).clamp(0.0, 255.0));

    // Brightness clamps exactly the levels from `threshold` up to 255, so the sum of brightened
    // values of a channel is b · (sum of levels below the threshold) + 255 · (count at or above).
    let threshold = brightened.iter().position(|&value| value >= 255.0).unwrap_or(256) as u16;
    let sums = ChannelSums::of(values, channels, threshold);

    let weights: &[f64] = if channels == 1 { &[1.0] } else { &LUMA_WEIGHTS };
    let luma_sum: f64 = weights
        .iter()
        .enumerate()
        .map(|(channel, weight)| {
            let below = (sums.total[channel] - sums.clamped_total[channel]) as f64;
            weight * (factors.brightness * below + 255.0 * sums.clamped_count[channel] as f64)
        })
        .sum();
    let mean = luma_sum / (values.len() / channels).max(1) as f64;

    brightened.map(|value| (factors.contrast * value + (1.0 - factors.contrast) * mean).clamp(0.0, 255.0))
}

/// Per-channel sums of levels, and the sum and count of levels at or above a threshold.
struct ChannelSums {
    total: [u64; 3],
    clamped_total: [u64; 3],
    clamped_count: [u64; 3],
}

/// Accumulator lanes: a multiple of 1 and 3 channels, so lane `i` only sums channel
/// `i % channels`, and of 16, so the loop maps onto SIMD registers.
const LANES: usize = 48;

/// Chunks of `LANES` values summed in u16 lanes before they are added to u64 totals; a u16 lane
/// then sums to at most 256 · 255 = 65280. Narrow lanes make the loop cheap on SSE2.
const CHUNKS_PER_BLOCK: usize = 256;

impl ChannelSums {
    fn of(values: &[u8], channels: usize, threshold: u16) -> Self {
        let total = lane_sums(values, u16::from);

        // A brightness factor below 1 clamps no level (threshold 256), and then the two passes
        // over clamped levels are skipped.
        let (clamped_total, clamped_count) = if threshold > 255 {
            ([0; LANES], [0; LANES])
        } else {
            let is_clamped = move |level: u8| u16::from(u16::from(level) >= threshold);
            (
                lane_sums(values, |level| u16::from(level) * is_clamped(level)),
                lane_sums(values, is_clamped),
            )
        };

        let by_channel = |lanes: [u64; LANES]| {
            let mut sums = [0u64; 3];
            for (lane, value) in lanes.into_iter().enumerate() {
                sums[lane % channels] += value;
            }
            sums
        };
        Self {
            total: by_channel(total),
            clamped_total: by_channel(clamped_total),
            clamped_count: by_channel(clamped_count),
        }
    }
}

/// Sums `term(level)` over the values into `LANES` lanes by position modulo `LANES`.
fn lane_sums(values: &[u8], term: impl Fn(u8) -> u16) -> [u64; LANES] {
    let mut sums = [0u64; LANES];

    for block in values.chunks(LANES * CHUNKS_PER_BLOCK) {
        let mut block_sums = [0u16; LANES];
        let (chunks, rest) = block.as_chunks::<LANES>();
        for chunk in chunks {
            for (sum, &level) in block_sums.iter_mut().zip(chunk) {
                *sum += term(level);
            }
        }

        // A block starts at a multiple of LANES, so the remainder's lanes keep their channel.
        for (sum, &level) in block_sums.iter_mut().zip(rest) {
            *sum += term(level);
        }
        for (sum, block_sum) in sums.iter_mut().zip(block_sums) {
            *sum += u64::from(block_sum);
        }
    }
    sums
}

/// Blends every channel with its pixel's luma: `s · x + (1 − s) · luma`, where `x` is the
/// contrasted value of the channel's level.
fn saturate(values: &mut [u8], contrasted: &[f64; 256], saturation: f64) {
    let scale = f64::from(1u32 << TABLE_BITS);
    let fixed = |value: f64| (value * scale).round() as i32;

    let own: [i32; 256] = contrasted.map(|value| fixed(saturation * value));
    let luma_parts: [[i32; 256]; 3] =
        LUMA_WEIGHTS.map(|weight| contrasted.map(|value| fixed((1.0 - saturation) * weight * value)));

    for pixel in values.as_chunks_mut::<3>().0 {
        let luma = luma_parts[0][usize::from(pixel[0])]
            + luma_parts[1][usize::from(pixel[1])]
            + luma_parts[2][usize::from(pixel[2])];

        for value in pixel.iter_mut() {
            let blended = (own[usize::from(*value)] + luma + TABLE_HALF) >> TABLE_BITS;
            *value = blended.clamp(0, 255) as u8;
        }
    }
}

/// Largest saturation factor whose blended values, from -510 to 765 levels, fit the packed
/// lanes of [`saturate_packed`].
const PACKED_MAX_SATURATION: f64 = 3.0;

/// Bits per packed lane, fractional bits and level offset of a lane. A lane contains
/// `(value + 1024) · 1024 + 512`, so values from -1024 to 1023 levels stay inside 21 bits and
/// never borrow from or carry into a neighbouring lane.
const LANE_BITS: u32 = 21;
const LANE_FRACTION_BITS: u32 = 10;
const LANE_OFFSET: i64 = 1024;
const LANE_MASK: u64 = (1 << (LANE_BITS - LANE_FRACTION_BITS)) - 1;

/// [`saturate`] with the three output channels of a pixel packed into one u64, so a pixel
/// costs three table reads and two additions. Each lane sums three table entries rounded to
/// 1/1024 level, so a value is within 0.0015 levels of the f64 result before rounding.
fn saturate_packed(values: &mut [u8], contrasted: &[f64; 256], saturation: f64) {
    let scale = f64::from(1u32 << LANE_FRACTION_BITS);
    let fixed = |value: f64| (value * scale).round() as i64;
    let pack = |lanes: [i64; 3]| {
        lanes.iter().enumerate().fold(0u64, |packed, (lane, &value)| {
            packed.wrapping_add((value as u64).wrapping_shl(LANE_BITS * lane as u32))
        })
    };

    // Table j adds channel j's share to every lane: its luma part to all three, and its own
    // blended value to lane j. Table 0 also carries the offset and rounding term of each lane.
    let offset = LANE_OFFSET << LANE_FRACTION_BITS | 1 << (LANE_FRACTION_BITS - 1);
    let tables: [[u64; 256]; 3] = std::array::from_fn(|channel| {
        std::array::from_fn(|level| {
            let value = contrasted[level];
            let luma_part = fixed((1.0 - saturation) * LUMA_WEIGHTS[channel] * value);
            let own = fixed(saturation * value);
            let start = if channel == 0 { offset } else { 0 };
            pack(std::array::from_fn(|lane| {
                start + luma_part + if lane == channel { own } else { 0 }
            }))
        })
    });
    let clamp: [u8; 1 << (LANE_BITS - LANE_FRACTION_BITS)] =
        std::array::from_fn(|index| (index as i64 - LANE_OFFSET).clamp(0, 255) as u8);

    for pixel in values.as_chunks_mut::<3>().0 {
        let packed = tables[0][usize::from(pixel[0])]
            .wrapping_add(tables[1][usize::from(pixel[1])])
            .wrapping_add(tables[2][usize::from(pixel[2])]);

        for (lane, value) in pixel.iter_mut().enumerate() {
            let index = (packed >> (LANE_BITS * lane as u32 + LANE_FRACTION_BITS)) & LANE_MASK;
            *value = clamp[index as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors(brightness: f64, contrast: f64, saturation: f64) -> JitterFactors {
        JitterFactors {
            brightness,
            contrast,
            saturation,
        }
    }

    #[test]
    fn brightness_scales_and_clamps() {
        let mut values = [0, 100, 200];

        jitter_levels(&mut values, 1, factors(1.5, 1.0, 1.0));

        assert_eq!(values, [0, 150, 255]);
    }

    #[test]
    fn zero_contrast_gives_mean_luma() {
        // Lumas 76.245 and 149.685 average to 112.965.
        let mut values = [255, 0, 0, 0, 255, 0];

        jitter_levels(&mut values, 3, factors(1.0, 0.0, 1.0));

        assert_eq!(values, [113; 6]);
    }

    #[test]
    fn packed_saturation_rounds_exact_value() {
        let original: Vec<u8> = (0..3000u32).map(|index| (index * 97 % 251) as u8).collect();
        let contrasted: [f64; 256] = std::array::from_fn(|level| (level as f64 * 1.13 - 7.0).clamp(0.0, 255.0));

        for saturation in [0.0, 0.6, 1.0, 1.4, 3.0] {
            let mut packed = original.clone();
            saturate_packed(&mut packed, &contrasted, saturation);

            for (index, (pixel, output)) in original.chunks(3).zip(packed.chunks(3)).enumerate() {
                let values: Vec<f64> = pixel.iter().map(|&level| contrasted[usize::from(level)]).collect();
                let luma: f64 = LUMA_WEIGHTS
                    .iter()
                    .zip(&values)
                    .map(|(weight, value)| weight * value)
                    .sum();

                for (value, &level) in values.iter().zip(output) {
                    let exact = (saturation * value + (1.0 - saturation) * luma).clamp(0.0, 255.0);
                    let difference = (f64::from(level) - exact).abs();
                    assert!(
                        difference <= 0.502,
                        "saturation {saturation}, pixel {index}: {level} against {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_saturation_gives_luma() {
        let mut values = [10, 20, 30];

        jitter_levels(&mut values, 3, factors(1.0, 1.0, 0.0));

        // 0.299 · 10 + 0.587 · 20 + 0.114 · 30 = 18.15.
        assert_eq!(values, [18, 18, 18]);
    }
}
