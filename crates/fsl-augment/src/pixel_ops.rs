//! Exact pixel rearrangements and value maps: flips, quarter turns and inversion.
//!
//! Flips and inversion draw no random numbers; wrap them in [`Sometimes`](crate::Sometimes) to
//! apply them with a probability.

use image::imageops;
use rand::{Rng, RngExt};

use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::pixel::{AugmentPixel, Image, Sample};

/// Mirrors the image left to right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HorizontalFlip;

impl HorizontalFlip {
    fn apply<P: AugmentPixel>(&self, image: &Image<P>, _rng: &mut dyn Rng) -> Image<P> {
        let (width, height) = image.dimensions();
        let mut output = image.clone();

        // Whole-pixel copies on raw rows; imageops::flip_horizontal moves one pixel at a time
        // through bounds-checked accessors.
        match P::CHANNEL_COUNT {
            1 => mirror_rows::<_, 1>(image.as_raw(), &mut output, width as usize),
            3 => mirror_rows::<_, 3>(image.as_raw(), &mut output, width as usize),
            _ => return imageops::flip_horizontal(image),
        }
        debug_assert_eq!(output.dimensions(), (width, height));
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::HorizontalFlip
    }
}

forward_augmenter!(HorizontalFlip);

/// Writes every row of `source` (rows of `width` pixels of `C` values) into `target` with its
/// pixels in reverse order.
fn mirror_rows<S: Copy, const C: usize>(source: &[S], target: &mut [S], width: usize) {
    let row_length = width * C;
    if row_length == 0 {
        return;
    }

    for (source_row, target_row) in source.chunks_exact(row_length).zip(target.chunks_exact_mut(row_length)) {
        let source_pixels = source_row.as_chunks::<C>().0;
        let target_pixels = target_row.as_chunks_mut::<C>().0;
        for (target_pixel, source_pixel) in target_pixels.iter_mut().zip(source_pixels.iter().rev()) {
            *target_pixel = *source_pixel;
        }
    }
}

/// Mirrors the image top to bottom.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerticalFlip;

impl VerticalFlip {
    fn apply<P: AugmentPixel>(&self, image: &Image<P>, _rng: &mut dyn Rng) -> Image<P> {
        imageops::flip_vertical(image)
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::VerticalFlip
    }
}

forward_augmenter!(VerticalFlip);

/// Replaces every channel value `v` by `white - v` (255 for `u8`, 1 for `f32`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Invert;

impl Invert {
    fn apply<P: AugmentPixel>(&self, image: &Image<P>, _rng: &mut dyn Rng) -> Image<P> {
        let mut output = image.clone();
        for value in output.iter_mut() {
            *value = P::Subpixel::from_f64(P::Subpixel::WHITE - value.to_f64());
        }
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Invert
    }
}

forward_augmenter!(Invert);

/// Turns the image clockwise by a whole number of quarter turns drawn uniformly from
/// `min_turns..=max_turns`; odd turns swap width and height. Pixels are moved exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotate90 {
    min_turns: u8,
    max_turns: u8,
}

impl Rotate90 {
    /// Quarter turns drawn from `min_turns..=max_turns`, both in 0 to 3; `(1, 1)` always turns
    /// by 90° clockwise and `(0, 3)` picks any of the four orientations.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] when a bound exceeds 3, [`Error::ReversedRange`] when
    /// `min_turns > max_turns`.
    pub fn new(min_turns: u8, max_turns: u8) -> Result<Self> {
        for (field, value) in [("min_turns", min_turns), ("max_turns", max_turns)] {
            if value > 3 {
                return Err(Error::OutOfRange {
                    field,
                    value: f64::from(value),
                    allowed: "[0, 3]",
                });
            }
        }

        if min_turns > max_turns {
            return Err(Error::ReversedRange {
                field: "turns",
                min: f64::from(min_turns),
                max: f64::from(max_turns),
            });
        }
        Ok(Self { min_turns, max_turns })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        match rng.random_range(self.min_turns..=self.max_turns) {
            0 => image.clone(),
            1 => imageops::rotate90(image),
            2 => imageops::rotate180(image),
            _ => imageops::rotate270(image),
        }
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Rotate90 {
            min_turns: self.min_turns,
            max_turns: self.max_turns,
        }
    }
}

forward_augmenter!(Rotate90);
