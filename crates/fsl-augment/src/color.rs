//! Colour operations: grayscale conversion and colour jitter.

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
use rand::Rng;

use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::hue::{shift_hue_levels, shift_hue_values};
use crate::jitter_levels::{JitterFactors, jitter_levels};
use crate::pixel::{AugmentPixel, GrayImageF32, Image, RgbImageF32, Sample, levels_mut};
use crate::range::{UniformRange, check_non_negative};

/// ITU-R BT.601 luma weights of red, green and blue, as Pillow's `convert("L")` and
/// torchvision's `rgb_to_grayscale` use.
pub(crate) const LUMA_WEIGHTS: [f64; 3] = [0.299, 0.587, 0.114];

/// Luma of one pixel in the sample type's units; a gray pixel is its own luma.
fn luma<P: AugmentPixel>(pixel: &P) -> f64 {
    let channels = pixel.channels();
    if channels.len() < 3 {
        return channels[0].to_f64();
    }

    LUMA_WEIGHTS
        .iter()
        .zip(channels)
        .map(|(weight, value)| weight * value.to_f64())
        .sum()
}

/// Converts an RGB image to grayscale with the BT.601 weights `0.299 R + 0.587 G + 0.114 B`,
/// rounded to the nearest level.
pub fn to_grayscale(image: &RgbImage) -> GrayImage {
    ImageBuffer::from_fn(image.width(), image.height(), |x, y| {
        Luma([u8::from_f64(luma(image.get_pixel(x, y)))])
    })
}

/// Converts an `f32` RGB image to grayscale with the weights of [`to_grayscale`].
pub fn to_grayscale_f32(image: &RgbImageF32) -> GrayImageF32 {
    ImageBuffer::from_fn(image.width(), image.height(), |x, y| {
        Luma([f32::from_f64(luma(image.get_pixel(x, y)))])
    })
}

/// Converts a grayscale image to RGB by copying the value into all three channels.
pub fn to_rgb(image: &GrayImage) -> RgbImage {
    ImageBuffer::from_fn(image.width(), image.height(), |x, y| Rgb([image.get_pixel(x, y)[0]; 3]))
}

/// Converts an `f32` grayscale image to RGB by copying the value into all three channels.
pub fn to_rgb_f32(image: &GrayImageF32) -> RgbImageF32 {
    ImageBuffer::from_fn(image.width(), image.height(), |x, y| Rgb([image.get_pixel(x, y)[0]; 3]))
}

/// Replaces the colour of an RGB image by its luma in all three channels (as [`to_grayscale`]
/// followed by [`to_rgb`]), keeping three channels so it can sit inside an RGB pipeline.
/// Grayscale images pass unchanged. Draws no random numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grayscale;

impl Grayscale {
    fn apply<P: AugmentPixel>(&self, image: &Image<P>, _rng: &mut dyn Rng) -> Image<P> {
        let mut output = image.clone();
        for pixel in output.pixels_mut() {
            let gray = P::Subpixel::from_f64(luma(pixel));
            pixel.apply(|_| gray);
        }
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Grayscale
    }
}

forward_augmenter!(Grayscale);

/// Random brightness, contrast, saturation and hue changes with torchvision's `ColorJitter`
/// semantics, applied in that fixed order (torchvision shuffles the order per image).
///
/// Brightness, contrast and saturation factors are drawn uniformly from
/// `[max(0, 1 - strength), 1 + strength]`. Brightness multiplies every value. Contrast blends
/// every value with the mean luma of the image (`c · v + (1 - c) · mean`). Saturation blends
/// every channel with the pixel's luma, so gray images stay unchanged. Values are clamped to
/// [0, white] after each step and, for `u8` images, rounded once after saturation. The hue
/// factor is drawn uniformly from `[-hue, hue]` and applied as [`adjust_hue`](crate::adjust_hue),
/// which rounds `u8` values again. Hue leaves gray images unchanged.
///
/// The three factors are always drawn, the hue factor only when `hue > 0`, so a jitter without
/// hue draws the same random numbers as before hue existed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorJitter {
    brightness: f32,
    contrast: f32,
    saturation: f32,
    hue: f32,
}

impl ColorJitter {
    /// Jitter strengths, each >= 0; 0 turns that change off. Hue starts off; set it with
    /// [`with_hue`](Self::with_hue).
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`](crate::Error::NotFinite) or
    /// [`Error::OutOfRange`](crate::Error::OutOfRange) naming the strength that is not a finite
    /// value >= 0.
    pub fn new(brightness: f32, contrast: f32, saturation: f32) -> Result<Self> {
        check_non_negative("brightness", brightness)?;
        check_non_negative("contrast", contrast)?;
        check_non_negative("saturation", saturation)?;

        Ok(Self {
            brightness,
            contrast,
            saturation,
            hue: 0.0,
        })
    }

    /// Sets the hue jitter: the factor is drawn from `[-hue, hue]` in turns of the colour
    /// wheel, with `hue` in [0, 0.5] as torchvision requires; 0 turns hue jitter off.
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`](crate::Error::NotFinite) or
    /// [`Error::OutOfRange`](crate::Error::OutOfRange) when `hue` is not a finite value in
    /// [0, 0.5].
    pub fn with_hue(mut self, hue: f32) -> Result<Self> {
        let checked = check_non_negative("hue", hue)?;
        if checked > 0.5 {
            return Err(Error::OutOfRange {
                field: "hue",
                value: checked,
                allowed: "[0, 0.5]",
            });
        }

        self.hue = hue;
        Ok(self)
    }

    /// Draws the factors of one image in a fixed order: brightness, contrast, saturation, then
    /// hue when it is on.
    fn draw(&self, rng: &mut dyn Rng) -> (JitterFactors, Option<f64>) {
        let factors = JitterFactors {
            brightness: factor_range(self.brightness).sample(rng),
            contrast: factor_range(self.contrast).sample(rng),
            saturation: factor_range(self.saturation).sample(rng),
        };

        let hue = (self.hue > 0.0).then(|| UniformRange::from_known(-self.hue, self.hue).sample(rng));
        (factors, hue)
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let (factors, hue) = self.draw(rng);
        let channels = usize::from(P::CHANNEL_COUNT);
        let mut output = image.clone();

        if let Some(values) = levels_mut(&mut output) {
            jitter_levels(values, channels, factors);
            if let (Some(hue), 3) = (hue, channels) {
                shift_hue_levels(values, hue);
            }
            return output;
        }

        jitter_values(&mut output, factors);
        if let (Some(hue), 3) = (hue, channels) {
            let mut values: Vec<f32> = output.iter().map(|&value| value.into()).collect();
            shift_hue_values(&mut values, hue);
            output
                .iter_mut()
                .zip(values)
                .for_each(|(target, value)| *target = P::Subpixel::from_f64(f64::from(value)));
        }
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::ColorJitter {
            brightness: self.brightness,
            contrast: self.contrast,
            saturation: self.saturation,
            hue: self.hue,
        }
    }
}

/// Applies brightness, contrast and saturation to an `f32` image in f64, without rounding.
fn jitter_values<P: AugmentPixel>(image: &mut Image<P>, factors: JitterFactors) {
    let white = P::Subpixel::WHITE;
    let mut values: Vec<f64> = image
        .iter()
        .map(|value| (value.to_f64() * factors.brightness).clamp(0.0, white))
        .collect();

    let channels = usize::from(P::CHANNEL_COUNT);
    let mean = values.chunks(channels).map(luma_of_slice).sum::<f64>() / (values.len() / channels).max(1) as f64;
    for value in &mut values {
        *value = (factors.contrast * *value + (1.0 - factors.contrast) * mean).clamp(0.0, white);
    }

    for pixel in values.chunks_mut(channels) {
        let gray = luma_of_slice(pixel);
        for value in pixel.iter_mut() {
            *value = (factors.saturation * *value + (1.0 - factors.saturation) * gray).clamp(0.0, white);
        }
    }

    image
        .iter_mut()
        .zip(values)
        .for_each(|(target, value)| *target = P::Subpixel::from_f64(value));
}

forward_augmenter!(ColorJitter);

/// Factor range `[max(0, 1 - strength), 1 + strength]` for a checked strength.
fn factor_range(strength: f32) -> UniformRange {
    UniformRange::from_known((1.0 - strength).max(0.0), 1.0 + strength)
}

/// Luma of one pixel's channel values (one value: gray, three: RGB).
fn luma_of_slice(channels: &[f64]) -> f64 {
    if channels.len() < 3 {
        return channels[0];
    }

    LUMA_WEIGHTS
        .iter()
        .zip(channels)
        .map(|(weight, value)| weight * value)
        .sum()
}
