//! Hue rotation in HSV space, as torchvision's `adjust_hue` computes it on float tensors.
//!
//! A hue shift keeps each pixel's maximum channel (V) and minimum channel (V · (1 − S)), and
//! moves the hue `h` in [0, 1) to `(h + factor) mod 1`. Only the channel order and the middle
//! channel change, so both paths below work from the maximum, minimum and chroma (their
//! difference) without building an HSV image.

use image::{ImageBuffer, RgbImage};

use crate::error::{Error, Result};
use crate::pixel::RgbImageF32;

/// Fixed-point units of one of the six hue sectors in the 8-bit path.
const SECTOR_BITS: u32 = 16;
const SECTOR: i64 = 1 << SECTOR_BITS;
const FULL_TURN: i64 = 6 * SECTOR;

/// Shifts the hue of every pixel by `factor` turns of the colour wheel (0.5 turns red into
/// cyan), as torchvision's `adjust_hue` with `hue_factor = factor` does on a float tensor.
///
/// Gray pixels stay unchanged. The factor may be any finite number; values outside [-0.5, 0.5]
/// wrap around. Each output value is the exact result rounded to the nearest level.
///
/// # Errors
///
/// [`Error::NotFinite`] when `factor` is NaN or infinite.
pub fn adjust_hue(image: &RgbImage, factor: f32) -> Result<RgbImage> {
    let shift = check_factor(factor)?;
    let mut output = image.clone();

    shift_hue_levels(&mut output, shift);
    Ok(output)
}

/// Shifts the hue of an `f32` RGB image like [`adjust_hue`], without rounding.
///
/// # Errors
///
/// [`Error::NotFinite`] when `factor` is NaN or infinite.
pub fn adjust_hue_f32(image: &RgbImageF32, factor: f32) -> Result<RgbImageF32> {
    let shift = check_factor(factor)?;
    let mut values = image.as_raw().clone();

    shift_hue_values(&mut values, shift);
    Ok(ImageBuffer::from_raw(image.width(), image.height(), values).expect("three values per pixel"))
}

fn check_factor(factor: f32) -> Result<f64> {
    let value = f64::from(factor);
    if !value.is_finite() {
        return Err(Error::NotFinite {
            field: "hue_factor",
            value,
        });
    }
    Ok(value)
}

/// Shifts the hue of RGB levels (three values per pixel) in place by `factor` turns, in fixed
/// point. The hue is kept in units of 1/65536 sector, so the middle channel is within 0.01
/// levels of the exact value before rounding.
pub(crate) fn shift_hue_levels(values: &mut [u8], factor: f64) {
    let shift = ((factor * FULL_TURN as f64).round() as i64).rem_euclid(FULL_TURN);
    if shift == 0 {
        return;
    }

    for pixel in values.as_chunks_mut::<3>().0 {
        let [red, green, blue] = pixel.map(i64::from);
        let max = red.max(green).max(blue);
        let min = red.min(green).min(blue);
        let chroma = max - min;
        if chroma == 0 {
            continue;
        }

        // The hue is sector + numerator / chroma, with the same tie order as torchvision:
        // red wins when it is the maximum, then green.
        let (sector, numerator) = if max == red {
            (0, green - blue)
        } else if max == green {
            (2, blue - red)
        } else {
            (4, red - green)
        };
        let hue = sector * SECTOR + numerator * SECTOR / chroma;

        let moved = (hue + shift).rem_euclid(FULL_TURN);
        let offset = (chroma * (moved & (SECTOR - 1)) + SECTOR / 2) >> SECTOR_BITS;
        let (rising, falling) = (min + offset, max - offset);
        let rgb = match moved >> SECTOR_BITS {
            0 => [max, rising, min],
            1 => [falling, max, min],
            2 => [min, max, rising],
            3 => [min, falling, max],
            4 => [rising, min, max],
            _ => [max, min, falling],
        };
        *pixel = rgb.map(|value| value as u8);
    }
}

/// Shifts the hue of `f32` RGB values (three per pixel) in place by `factor` turns.
pub(crate) fn shift_hue_values(values: &mut [f32], factor: f64) {
    let shift = (factor.rem_euclid(1.0) * 6.0) as f32;
    if shift == 0.0 {
        return;
    }

    for pixel in values.as_chunks_mut::<3>().0 {
        let [red, green, blue] = *pixel;
        let max = red.max(green).max(blue);
        let min = red.min(green).min(blue);
        let chroma = max - min;
        if chroma <= 0.0 {
            continue;
        }

        let hue = if max == red {
            (green - blue) / chroma
        } else if max == green {
            2.0 + (blue - red) / chroma
        } else {
            4.0 + (red - green) / chroma
        };

        let moved = (hue + shift).rem_euclid(6.0);
        // `moved` can round up to exactly 6.0; sector 5 with fraction 1 is the same colour as
        // sector 0 with fraction 0.
        let sector = (moved as usize).min(5);
        let offset = chroma * (moved - sector as f32);
        let (rising, falling) = (min + offset, max - offset);
        *pixel = match sector {
            0 => [max, rising, min],
            1 => [falling, max, min],
            2 => [min, max, rising],
            3 => [min, falling, max],
            4 => [rising, min, max],
            _ => [max, min, falling],
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_turn_maps_red_to_cyan() {
        let mut values = [255, 0, 0, 200, 100, 100];

        shift_hue_levels(&mut values, 0.5);

        assert_eq!(values, [0, 255, 255, 100, 200, 200]);
    }

    #[test]
    fn third_turn_cycles_primaries() {
        let mut levels = [255, 0, 0, 0, 255, 0];
        let mut values = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

        shift_hue_levels(&mut levels, 1.0 / 3.0);
        shift_hue_values(&mut values, 1.0 / 3.0);

        assert_eq!(levels, [0, 255, 0, 0, 0, 255]);
        assert_eq!(values, [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn gray_pixels_keep_value() {
        let mut levels = [7, 7, 7];

        shift_hue_levels(&mut levels, 0.25);

        assert_eq!(levels, [7, 7, 7]);
    }
}
