//! Random changes of pixel values: Gaussian noise, brightness and contrast.

use image::{GrayImage, ImageBuffer, Pixel, RgbImage};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::augmenter::Augmenter;
use crate::error::{Error, Result};
use crate::range::UniformRange;

/// Adds independent zero-mean Gaussian noise to every channel value, then rounds and clamps
/// to [0, 255].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianNoise {
    std_dev: f64,
}

impl GaussianNoise {
    /// Noise with standard deviation `std_dev`, in pixel levels (0 to 255 scale).
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`] or [`Error::OutOfRange`] when `std_dev` is not a finite value >= 0.
    pub fn new(std_dev: f32) -> Result<Self> {
        let value = f64::from(std_dev);
        if !value.is_finite() {
            return Err(Error::NotFinite {
                field: "std_dev",
                value,
            });
        }

        if value < 0.0 {
            return Err(Error::OutOfRange {
                field: "std_dev",
                value,
                allowed: "[0, inf)",
            });
        }
        Ok(Self { std_dev: value })
    }

    fn apply<P>(&self, image: &ImageBuffer<P, Vec<u8>>, rng: &mut dyn Rng) -> ImageBuffer<P, Vec<u8>>
    where
        P: Pixel<Subpixel = u8>,
    {
        let mut output = image.clone();
        for value in output.iter_mut() {
            let noise: f64 = rng.sample(StandardNormal);
            *value = to_level(f64::from(*value) + self.std_dev * noise);
        }
        output
    }
}

impl Augmenter for GaussianNoise {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        self.apply(image, rng)
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        self.apply(image, rng)
    }
}

/// Maps every channel value `v` to `(v - 127.5) · contrast + 127.5 + brightness`, rounded and
/// clamped to [0, 255], with `brightness` and `contrast` drawn once per image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrightnessContrast {
    brightness: UniformRange,
    contrast: UniformRange,
}

impl BrightnessContrast {
    /// Brightness offset range in pixel levels and contrast factor range (1 keeps contrast).
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`] or [`Error::ReversedRange`] for either range, and
    /// [`Error::OutOfRange`] when the contrast range includes a negative factor.
    pub fn new(brightness: (f32, f32), contrast: (f32, f32)) -> Result<Self> {
        let brightness = UniformRange::new("brightness", brightness.0, brightness.1)?;
        let contrast = UniformRange::new("contrast", contrast.0, contrast.1)?;
        if contrast.min() < 0.0 {
            return Err(Error::OutOfRange {
                field: "contrast",
                value: contrast.min(),
                allowed: "[0, inf)",
            });
        }

        Ok(Self { brightness, contrast })
    }

    fn apply<P>(&self, image: &ImageBuffer<P, Vec<u8>>, rng: &mut dyn Rng) -> ImageBuffer<P, Vec<u8>>
    where
        P: Pixel<Subpixel = u8>,
    {
        let brightness = self.brightness.sample(rng);
        let contrast = self.contrast.sample(rng);

        let mut output = image.clone();
        for value in output.iter_mut() {
            *value = to_level((f64::from(*value) - 127.5) * contrast + 127.5 + brightness);
        }
        output
    }
}

impl Augmenter for BrightnessContrast {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        self.apply(image, rng)
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        self.apply(image, rng)
    }
}

/// Rounds to the nearest pixel level and clamps to [0, 255].
fn to_level(value: f64) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}
