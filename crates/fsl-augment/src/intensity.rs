//! Random changes of pixel values: Gaussian noise, brightness and contrast, gamma.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::pixel::{AugmentPixel, Image, Sample};
use crate::range::{UniformRange, check_non_negative};

/// Adds independent zero-mean Gaussian noise to every channel value, then rounds and clamps
/// to [0, 255] (`u8`) or clamps to [0, 1] (`f32`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianNoise {
    std_dev: f64,
}

impl GaussianNoise {
    /// Noise with standard deviation `std_dev`, in 8-bit levels (divided by 255 for `f32`
    /// images).
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`] or [`Error::OutOfRange`] when `std_dev` is not a finite value >= 0.
    pub fn new(std_dev: f32) -> Result<Self> {
        Ok(Self {
            std_dev: check_non_negative("std_dev", std_dev)?,
        })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let std_dev = self.std_dev / 255.0 * P::Subpixel::WHITE;

        let mut output = image.clone();
        for value in output.iter_mut() {
            let noise: f64 = rng.sample(StandardNormal);
            *value = P::Subpixel::from_f64(value.to_f64() + std_dev * noise);
        }
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::GaussianNoise {
            std_dev: self.std_dev as f32,
        }
    }
}

forward_augmenter!(GaussianNoise);

/// Maps every channel value `v` (in 8-bit levels) to `(v - 127.5) · contrast + 127.5 +
/// brightness`, rounded and clamped to [0, 255], with `brightness` and `contrast` drawn once
/// per image. `f32` images use the same map scaled to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrightnessContrast {
    brightness: UniformRange,
    contrast: UniformRange,
}

impl BrightnessContrast {
    /// Brightness offset range in 8-bit levels and contrast factor range (1 keeps contrast).
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

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let white = P::Subpixel::WHITE;
        let brightness = self.brightness.sample(rng) / 255.0 * white;
        let contrast = self.contrast.sample(rng);

        let mut output = image.clone();
        for value in output.iter_mut() {
            let mapped = (value.to_f64() - white / 2.0) * contrast + white / 2.0 + brightness;
            *value = P::Subpixel::from_f64(mapped);
        }
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::BrightnessContrast {
            brightness: self.brightness.to_f32_pair(),
            contrast: self.contrast.to_f32_pair(),
        }
    }
}

forward_augmenter!(BrightnessContrast);

/// Maps every channel value `v` to `white · (v / white)^gamma`, with `gamma` drawn once per
/// image. Gamma above 1 darkens mid-tones and below 1 brightens them; 0 and white stay put.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    gamma: UniformRange,
}

impl Gamma {
    /// Gamma exponent range; both bounds must be positive.
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`] or [`Error::ReversedRange`] for the range, [`Error::OutOfRange`]
    /// when a bound is not positive.
    pub fn new(gamma: (f32, f32)) -> Result<Self> {
        let gamma =
            UniformRange::new("gamma", gamma.0, gamma.1)?.check_inside("gamma", 0.0, f64::INFINITY, "(0, inf)")?;

        Ok(Self { gamma })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let white = P::Subpixel::WHITE;
        let gamma = self.gamma.sample(rng);

        let mut output = image.clone();
        for value in output.iter_mut() {
            *value = P::Subpixel::from_f64(white * (value.to_f64() / white).powf(gamma));
        }
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Gamma {
            gamma: self.gamma.to_f32_pair(),
        }
    }
}

forward_augmenter!(Gamma);
