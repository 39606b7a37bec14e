//! Random resized crop: a random window of random area and aspect ratio, resized to a fixed
//! size, as in the Inception training recipe.

use rand::{Rng, RngExt};

use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::geometry::{ResizeFilter, resize_view};
use crate::pixel::{AugmentPixel, Image};
use crate::range::{UniformRange, check_size};

/// Number of random windows tried before falling back to a centred one.
const ATTEMPTS: usize = 10;

/// Crops a random window and resizes it to `width` x `height`.
///
/// The window covers a fraction of the image area drawn uniformly from `scale`, with an aspect
/// ratio (width / height) drawn log-uniformly from `ratio`, at a uniform position. When ten
/// draws all give a window that does not fit, the largest centred window whose ratio lies in
/// `ratio` is used. This follows torchvision 0.15+ `RandomResizedCrop.get_params`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomResizedCrop {
    width: u32,
    height: u32,
    scale: UniformRange,
    ratio: UniformRange,
    filter: ResizeFilter,
}

impl RandomResizedCrop {
    /// Output `width` x `height`, area fraction `scale` in (0, 1] and aspect ratio `ratio`
    /// (positive), resized with the bilinear filter. torchvision's defaults are
    /// `scale = (0.08, 1.0)` and `ratio = (3/4, 4/3)`.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroSize`] for a zero side, [`Error::NotFinite`] or [`Error::ReversedRange`]
    /// for either range, [`Error::OutOfRange`] for a scale outside (0, 1] or a ratio that is
    /// not positive.
    pub fn new(width: u32, height: u32, scale: (f32, f32), ratio: (f32, f32)) -> Result<Self> {
        let scale = UniformRange::new("scale", scale.0, scale.1)?;
        for value in [scale.min(), scale.max()] {
            if value <= 0.0 || value > 1.0 {
                return Err(Error::OutOfRange {
                    field: "scale",
                    value,
                    allowed: "(0, 1]",
                });
            }
        }

        Ok(Self {
            width: check_size("width", width)?,
            height: check_size("height", height)?,
            scale,
            ratio: UniformRange::new("ratio", ratio.0, ratio.1)?.check_inside(
                "ratio",
                0.0,
                f64::INFINITY,
                "(0, inf)",
            )?,
            filter: ResizeFilter::Bilinear,
        })
    }

    /// Sets the resampling filter; bilinear by default.
    pub fn with_filter(mut self, filter: ResizeFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Draws the window `(x, y, width, height)` inside an image of the given size.
    fn window(&self, image_width: u32, image_height: u32, rng: &mut dyn Rng) -> (u32, u32, u32, u32) {
        let area = f64::from(image_width) * f64::from(image_height);
        let (log_min, log_max) = (self.ratio.min().ln(), self.ratio.max().ln());

        for _ in 0..ATTEMPTS {
            let target_area = area * self.scale.sample(rng);
            let unit: f64 = rng.random();
            let aspect = (log_min + (log_max - log_min) * unit).exp();
            let width = (target_area * aspect).sqrt().round() as u32;
            let height = (target_area / aspect).sqrt().round() as u32;

            if (1..=image_width).contains(&width) && (1..=image_height).contains(&height) {
                let y = rng.random_range(0..=image_height - height);
                let x = rng.random_range(0..=image_width - width);
                return (x, y, width, height);
            }
        }

        let image_ratio = f64::from(image_width) / f64::from(image_height);
        let (width, height) = if image_ratio < self.ratio.min() {
            let height = (f64::from(image_width) / self.ratio.min()).round() as u32;
            (image_width, height.clamp(1, image_height))
        } else if image_ratio > self.ratio.max() {
            let width = (f64::from(image_height) * self.ratio.max()).round() as u32;
            (width.clamp(1, image_width), image_height)
        } else {
            (image_width, image_height)
        };
        ((image_width - width) / 2, (image_height - height) / 2, width, height)
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let window = self.window(image.width(), image.height(), rng);

        resize_view(image, window, (self.width, self.height), self.filter)
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::RandomResizedCrop {
            width: self.width,
            height: self.height,
            scale: self.scale.to_f32_pair(),
            ratio: self.ratio.to_f32_pair(),
            filter: self.filter,
        }
    }
}

forward_augmenter!(RandomResizedCrop);
