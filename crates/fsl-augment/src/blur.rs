//! Gaussian blur and elastic distortion, both built on imageproc's separable Gaussian filter.

use image::{ImageBuffer, Luma};
use imageproc::filter::gaussian_blur_f32;
use imageproc::geometric_transformations::{Border, warp_with};
use rand::{Rng, RngExt};

use crate::affine::Interpolation;
use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::pixel::{AugmentPixel, Image, from_f32_units, to_f32_units, uniform_pixel};
use crate::range::UniformRange;

/// Blurs with a Gaussian kernel whose standard deviation (in pixels) is drawn once per image.
///
/// The filter is imageproc 0.27's `gaussian_blur_f32`: a separable kernel of radius
/// `ceil(2 sigma)` normalised to sum 1, with edge pixels repeated beyond the border. It runs
/// on `f32` copies of the values and rounds once at the end, so `u8` images are not darkened
/// by truncation between the two passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianBlur {
    sigma: UniformRange,
}

impl GaussianBlur {
    /// Standard deviation range in pixels; both bounds must be positive.
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`] or [`Error::ReversedRange`] for the range, [`Error::OutOfRange`]
    /// when a bound is not positive.
    pub fn new(sigma: (f32, f32)) -> Result<Self> {
        Ok(Self {
            sigma: positive_range("sigma", sigma)?,
        })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let sigma = self.sigma.sample(rng) as f32;

        blur_channels(image, sigma)
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::GaussianBlur {
            sigma: self.sigma.to_f32_pair(),
        }
    }
}

forward_augmenter!(GaussianBlur);

/// Blurs every channel of `image` in `f32` and rounds back to the pixel type.
fn blur_channels<P: AugmentPixel>(image: &Image<P>, sigma: f32) -> Image<P> {
    let (width, height) = image.dimensions();
    let channels = usize::from(P::CHANNEL_COUNT);
    let values = to_f32_units(image);

    let mut blurred = vec![0.0f32; values.len()];
    for channel in 0..channels {
        let plane: ImageBuffer<Luma<f32>, Vec<f32>> = ImageBuffer::from_raw(
            width,
            height,
            values.iter().skip(channel).step_by(channels).copied().collect(),
        )
        .expect("one value per pixel");

        let plane = gaussian_blur_f32(&plane, sigma);
        for (target, value) in blurred.iter_mut().skip(channel).step_by(channels).zip(plane.iter()) {
            *target = *value;
        }
    }
    from_f32_units(width, height, &blurred)
}

/// Moves every pixel by a smooth random displacement field (Simard, Steinkraus and Platt,
/// 2003, "Best practices for convolutional neural networks applied to visual document
/// analysis").
///
/// For each image, two fields of independent uniform values in [-1, 1] (x then y, row-major)
/// are blurred with a Gaussian of standard deviation `sigma` pixels and scaled by `alpha`
/// pixels, with `alpha` drawn once per image. Output pixel `(x, y)` reads the input at
/// `(x + dx, y + dy)` with the chosen interpolation, and `fill` where that lies outside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElasticDistortion {
    alpha: UniformRange,
    sigma: f64,
    fill: u8,
    interpolation: Interpolation,
}

impl ElasticDistortion {
    /// Displacement strength range `alpha` (pixels, >= 0) and smoothness `sigma` (pixels, > 0);
    /// fill 0 and bilinear interpolation. Simard et al. used `alpha = 34`, `sigma = 4` on
    /// 28x28 MNIST digits.
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`], [`Error::ReversedRange`] or [`Error::OutOfRange`] for a negative
    /// `alpha` bound or a `sigma` that is not positive.
    pub fn new(alpha: (f32, f32), sigma: f32) -> Result<Self> {
        let alpha =
            UniformRange::new("alpha", alpha.0, alpha.1)?.check_from("alpha", 0.0, f64::INFINITY, "[0, inf)")?;
        let sigma = positive_range("sigma", (sigma, sigma))?.min();

        Ok(Self {
            alpha,
            sigma,
            fill: 0,
            interpolation: Interpolation::Bilinear,
        })
    }

    /// Sets the 8-bit level written where the displaced position lies outside the image.
    pub fn with_fill(mut self, fill: u8) -> Self {
        self.fill = fill;
        self
    }

    /// Sets the interpolation between input pixels.
    pub fn with_interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// Draws one smoothed displacement field, scaled by `alpha`.
    fn field(&self, width: u32, height: u32, alpha: f64, rng: &mut dyn Rng) -> Vec<f32> {
        let noise: ImageBuffer<Luma<f32>, Vec<f32>> =
            ImageBuffer::from_fn(width, height, |_, _| Luma([rng.random_range(-1.0f32..=1.0)]));

        let smooth = gaussian_blur_f32(&noise, self.sigma as f32);
        smooth.iter().map(|value| value * alpha as f32).collect()
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let (width, height) = image.dimensions();
        let alpha = self.alpha.sample(rng);
        let dx = self.field(width, height, alpha, rng);
        let dy = self.field(width, height, alpha, rng);

        let index = |x: f32, y: f32| y as usize * width as usize + x as usize;
        warp_with(
            image,
            |x, y| (x + dx[index(x, y)], y + dy[index(x, y)]),
            self.interpolation.to_imageproc(),
            Border::Constant(uniform_pixel::<P>(self.fill)),
        )
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::ElasticDistortion {
            alpha: self.alpha.to_f32_pair(),
            sigma: self.sigma as f32,
            fill: self.fill,
            interpolation: self.interpolation,
        }
    }
}

forward_augmenter!(ElasticDistortion);

/// Checks a range whose bounds must both be positive.
fn positive_range(field: &'static str, (min, max): (f32, f32)) -> Result<UniformRange> {
    let range = UniformRange::new(field, min, max)?;
    if range.min() <= 0.0 {
        return Err(Error::OutOfRange {
            field,
            value: range.min(),
            allowed: "(0, inf)",
        });
    }
    Ok(range)
}
