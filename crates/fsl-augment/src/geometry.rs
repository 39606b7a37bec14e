//! Changes of image size: crop, pad, resize and centre crop.

use image::imageops::{self, FilterType};
use image::{GenericImageView, ImageBuffer};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::augmenter::forward_augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::pixel::{AugmentPixel, Image, image_from_levels, levels, uniform_pixel};
use crate::range::UniformRange;
use crate::resize_levels::resize_levels;

/// How much to take off or add on one side of an image, drawn independently for each of the
/// four sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "unit", rename_all = "snake_case")]
pub enum Extent {
    /// A whole number of pixels drawn uniformly from `min..=max`.
    Pixels {
        /// Smallest number of pixels.
        min: u32,
        /// Largest number of pixels.
        max: u32,
    },
    /// A fraction of the side length (width for left and right, height for top and bottom),
    /// drawn uniformly from `[min, max)` and rounded to whole pixels.
    Fraction {
        /// Smallest fraction.
        min: f32,
        /// Largest fraction.
        max: f32,
    },
}

impl Extent {
    /// Checks the bounds; `max_fraction` is the exclusive upper limit of a fraction.
    fn check(self, field: &'static str, max_fraction: f64, allowed: &'static str) -> Result<Self> {
        match self {
            Self::Pixels { min, max } => {
                if min > max {
                    return Err(Error::ReversedRange {
                        field,
                        min: f64::from(min),
                        max: f64::from(max),
                    });
                }
            }
            Self::Fraction { min, max } => {
                UniformRange::new(field, min, max)?.check_from(field, 0.0, max_fraction, allowed)?;
            }
        }
        Ok(self)
    }

    /// Draws the amounts for the top, right, bottom and left sides, in that order.
    ///
    /// Four values are always drawn, so later augmenters see the same random stream whatever
    /// the image size.
    fn draw(self, width: u32, height: u32, rng: &mut dyn Rng) -> Sides {
        let mut draw_one = |length: u32| match self {
            Self::Pixels { min, max } => rng.random_range(min..=max),
            Self::Fraction { min, max } => {
                let fraction = UniformRange::from_known(min, max).sample(rng);
                (fraction * f64::from(length)).round() as u32
            }
        };

        Sides {
            top: draw_one(height),
            right: draw_one(width),
            bottom: draw_one(height),
            left: draw_one(width),
        }
    }
}

/// Amounts in pixels for the four sides.
#[derive(Debug, Clone, Copy)]
struct Sides {
    top: u32,
    right: u32,
    bottom: u32,
    left: u32,
}

/// Removes a random number of rows and columns from each side; the output is smaller.
///
/// At least one row and one column always remain: when the drawn amounts would remove
/// everything, the bottom and right amounts are reduced first, then the top and left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    amount: Extent,
}

impl Crop {
    /// Crops every side by `amount`; a fraction must lie in [0, 0.5).
    ///
    /// # Errors
    ///
    /// [`Error::ReversedRange`] when `min > max`, [`Error::NotFinite`] or
    /// [`Error::OutOfRange`] for a fraction outside [0, 0.5).
    pub fn new(amount: Extent) -> Result<Self> {
        Ok(Self {
            amount: amount.check("crop", 0.5, "[0, 0.5)")?,
        })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let (width, height) = image.dimensions();
        let sides = self.amount.draw(width, height, rng);

        let left = sides.left.min(width - 1);
        let right = sides.right.min(width - 1 - left);
        let top = sides.top.min(height - 1);
        let bottom = sides.bottom.min(height - 1 - top);

        image
            .view(left, top, width - left - right, height - top - bottom)
            .to_image()
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Crop { amount: self.amount }
    }
}

forward_augmenter!(Crop);

/// Adds a random number of rows and columns of a constant fill to each side; the output is
/// larger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pad {
    amount: Extent,
    fill: u8,
}

impl Pad {
    /// Pads every side by `amount` with `fill` (an 8-bit level, divided by 255 for `f32`
    /// images); a fraction must be >= 0.
    ///
    /// # Errors
    ///
    /// [`Error::ReversedRange`] when `min > max`, [`Error::NotFinite`] or
    /// [`Error::OutOfRange`] for a negative fraction.
    pub fn new(amount: Extent, fill: u8) -> Result<Self> {
        Ok(Self {
            amount: amount.check("pad", f64::INFINITY, "[0, inf)")?,
            fill,
        })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, rng: &mut dyn Rng) -> Image<P> {
        let (width, height) = image.dimensions();
        let sides = self.amount.draw(width, height, rng);

        let mut output = ImageBuffer::from_pixel(
            width + sides.left + sides.right,
            height + sides.top + sides.bottom,
            uniform_pixel::<P>(self.fill),
        );
        imageops::replace(&mut output, image, i64::from(sides.left), i64::from(sides.top));
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Pad {
            amount: self.amount,
            fill: self.fill,
        }
    }
}

forward_augmenter!(Pad);

/// The resampling filter of a resize.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeFilter {
    /// The nearest input pixel.
    Nearest,
    /// A triangle (bilinear) filter, widened when shrinking so every input pixel counts.
    #[default]
    Bilinear,
    /// The Catmull-Rom cubic filter.
    Bicubic,
    /// A Lanczos filter with window 3.
    Lanczos3,
}

impl ResizeFilter {
    fn to_image(self) -> FilterType {
        match self {
            Self::Nearest => FilterType::Nearest,
            Self::Bilinear => FilterType::Triangle,
            Self::Bicubic => FilterType::CatmullRom,
            Self::Lanczos3 => FilterType::Lanczos3,
        }
    }
}

/// Resizes the window `(x, y, width, height)` of an image to `width` x `height` with `filter`.
///
/// `u8` images go through fast_image_resize, which reads the window in place; `f32` images go
/// through `image::imageops::resize` on a view. Both widen the filter when shrinking, but their
/// values can differ slightly because fast_image_resize rounds its coefficients to fixed point.
pub(crate) fn resize_view<P: AugmentPixel>(
    image: &Image<P>,
    window: (u32, u32, u32, u32),
    (width, height): (u32, u32),
    filter: ResizeFilter,
) -> Image<P> {
    let (x, y, crop_width, crop_height) = window;
    let view = image.view(x, y, crop_width, crop_height);
    if (crop_width, crop_height) == (width, height) {
        return view.to_image();
    }

    if let Some(values) = levels(image) {
        let channels = usize::from(P::CHANNEL_COUNT);
        let resized = resize_levels(values, image.dimensions(), channels, window, (width, height), filter);
        return image_from_levels(width, height, resized);
    }

    imageops::resize(&*view, width, height, filter.to_image())
}

/// Resizes every image to a fixed size; draws no random numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    width: u32,
    height: u32,
    filter: ResizeFilter,
}

impl Resize {
    /// Resizes to `width` x `height` pixels with `filter`.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroSize`] when `width` or `height` is 0.
    pub fn new(width: u32, height: u32, filter: ResizeFilter) -> Result<Self> {
        Ok(Self {
            width: crate::range::check_size("width", width)?,
            height: crate::range::check_size("height", height)?,
            filter,
        })
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, _rng: &mut dyn Rng) -> Image<P> {
        let (width, height) = image.dimensions();

        resize_view(image, (0, 0, width, height), (self.width, self.height), self.filter)
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::Resize {
            width: self.width,
            height: self.height,
            filter: self.filter,
        }
    }
}

forward_augmenter!(Resize);

/// Cuts the central `width` x `height` window out of every image; draws no random numbers.
///
/// The window starts at `(image_width - width) / 2` (rounded down) and likewise in y. A side
/// shorter than the window is padded with `fill` on both ends, the extra pixel of an odd
/// difference going to the right or bottom, as torchvision's `CenterCrop` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CenterCrop {
    width: u32,
    height: u32,
    fill: u8,
}

impl CenterCrop {
    /// Crops to `width` x `height` pixels, padding small images with black (level 0).
    ///
    /// # Errors
    ///
    /// [`Error::ZeroSize`] when `width` or `height` is 0.
    pub fn new(width: u32, height: u32) -> Result<Self> {
        Ok(Self {
            width: crate::range::check_size("width", width)?,
            height: crate::range::check_size("height", height)?,
            fill: 0,
        })
    }

    /// Sets the 8-bit level used to pad images smaller than the window.
    pub fn with_fill(mut self, fill: u8) -> Self {
        self.fill = fill;
        self
    }

    fn apply<P: AugmentPixel>(&self, image: &Image<P>, _rng: &mut dyn Rng) -> Image<P> {
        let (width, height) = image.dimensions();
        let offset_x = centre_offset(width, self.width);
        let offset_y = centre_offset(height, self.height);

        let mut output = ImageBuffer::from_pixel(self.width, self.height, uniform_pixel::<P>(self.fill));
        imageops::replace(&mut output, image, -offset_x, -offset_y);
        output
    }

    fn describe(&self) -> AugmenterConfig {
        AugmenterConfig::CenterCrop {
            width: self.width,
            height: self.height,
            fill: self.fill,
        }
    }
}

/// Offset of a centred window of length `window` in a side of length `side`. It is negative when
/// the window is longer, and then the side starts `(window - side) / 2` pixels into the window.
fn centre_offset(side: u32, window: u32) -> i64 {
    if side >= window {
        i64::from((side - window) / 2)
    } else {
        -i64::from((window - side) / 2)
    }
}

forward_augmenter!(CenterCrop);
