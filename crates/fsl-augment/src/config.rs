//! A serialisable description of an augmentation pipeline, to save beside a model and rebuild.

use serde::{Deserialize, Serialize};

use crate::affine::{AffineConfig, Interpolation};
use crate::augmenter::Augmenter;
use crate::blur::{ElasticDistortion, GaussianBlur};
use crate::color::{ColorJitter, Grayscale};
use crate::combinators::{Identity, OneOf, Sequence, SomeOf, Sometimes};
use crate::error::Result;
use crate::geometry::{CenterCrop, Crop, Extent, Pad, Resize, ResizeFilter};
use crate::intensity::{BrightnessContrast, Gamma, GaussianNoise};
use crate::pixel_ops::{HorizontalFlip, Invert, Rotate90, VerticalFlip};
use crate::resized_crop::RandomResizedCrop;

/// The parameters of one augmenter, combinators holding the descriptions of their parts.
///
/// [`build`](AugmenterConfig::build) checks the parameters and returns the augmenter;
/// [`Augmenter::config`] returns the description of a built one. With serde it is written as
/// an object whose `"type"` field names the variant in snake case, for example
/// `{"type": "sometimes", "p": 0.5, "inner": {"type": "horizontal_flip"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// NOTE: serde checks unknown fields only for variants with fields, so an extra key beside a
// variant without parameters (`{"type": "horizontal_flip", "p": 0.5}`) is ignored.
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum AugmenterConfig {
    /// [`Identity`].
    Identity,
    /// [`Sequence`] of steps, applied first to last.
    Sequence {
        /// The steps.
        steps: Vec<AugmenterConfig>,
    },
    /// [`Sometimes`]: `inner` applied with probability `p`.
    Sometimes {
        /// Probability in [0, 1].
        p: f32,
        /// The augmenter applied.
        inner: Box<AugmenterConfig>,
    },
    /// [`OneOf`] the options.
    OneOf {
        /// The options.
        options: Vec<AugmenterConfig>,
    },
    /// [`SomeOf`]: between `min` and `max` of the options.
    SomeOf {
        /// Smallest number of options applied.
        min: usize,
        /// Largest number of options applied.
        max: usize,
        /// The options.
        options: Vec<AugmenterConfig>,
    },
    /// [`Affine`](crate::Affine) distortion.
    Affine(AffineConfig),
    /// [`HorizontalFlip`].
    HorizontalFlip,
    /// [`VerticalFlip`].
    VerticalFlip,
    /// [`Invert`].
    Invert,
    /// [`Rotate90`] by `min_turns..=max_turns` quarter turns.
    Rotate90 {
        /// Minimum number of clockwise quarter turns.
        min_turns: u8,
        /// Maximum number of clockwise quarter turns.
        max_turns: u8,
    },
    /// [`GaussianNoise`].
    GaussianNoise {
        /// Standard deviation in 8-bit levels.
        std_dev: f32,
    },
    /// [`BrightnessContrast`].
    BrightnessContrast {
        /// Brightness offset range in 8-bit levels.
        brightness: (f32, f32),
        /// Contrast factor range.
        contrast: (f32, f32),
    },
    /// [`Gamma`] correction.
    Gamma {
        /// Exponent range.
        gamma: (f32, f32),
    },
    /// [`GaussianBlur`].
    GaussianBlur {
        /// Standard deviation range in pixels.
        sigma: (f32, f32),
    },
    /// [`ElasticDistortion`].
    ElasticDistortion {
        /// Displacement strength range in pixels.
        alpha: (f32, f32),
        /// Smoothness of the displacement field in pixels.
        sigma: f32,
        /// 8-bit level written outside the image.
        fill: u8,
        /// Interpolation between input pixels.
        interpolation: Interpolation,
    },
    /// [`Crop`] of every side.
    Crop {
        /// Amount removed per side.
        amount: Extent,
    },
    /// [`Pad`] of every side.
    Pad {
        /// Amount added per side.
        amount: Extent,
        /// 8-bit fill level.
        fill: u8,
    },
    /// [`Resize`] to a fixed size.
    Resize {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
        /// Resampling filter.
        filter: ResizeFilter,
    },
    /// [`CenterCrop`] to a fixed size.
    CenterCrop {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
        /// 8-bit level padding images smaller than the window.
        fill: u8,
    },
    /// [`RandomResizedCrop`].
    RandomResizedCrop {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
        /// Range of the cropped fraction of the image area.
        scale: (f32, f32),
        /// Range of the window's aspect ratio (width / height).
        ratio: (f32, f32),
        /// Resampling filter.
        filter: ResizeFilter,
    },
    /// [`Grayscale`].
    Grayscale,
    /// [`ColorJitter`].
    ColorJitter {
        /// Brightness jitter strength.
        brightness: f32,
        /// Contrast jitter strength.
        contrast: f32,
        /// Saturation jitter strength.
        saturation: f32,
        /// Hue jitter strength in [0, 0.5]; 0, the value when the field is missing, turns hue
        /// jitter off.
        #[serde(default)]
        hue: f32,
    },
}

impl AugmenterConfig {
    /// Checks every parameter and builds the augmenter.
    ///
    /// # Errors
    ///
    /// The error of the first constructor that rejects a parameter, naming that parameter.
    pub fn build(&self) -> Result<Box<dyn Augmenter>> {
        let augmenter: Box<dyn Augmenter> = match self {
            Self::Identity => Box::new(Identity),
            Self::Sequence { steps } => Box::new(Sequence::new(build_all(steps)?)),
            Self::Sometimes { p, inner } => Box::new(Sometimes::new(*p, inner.build()?)?),
            Self::OneOf { options } => Box::new(OneOf::new(build_all(options)?)?),
            Self::SomeOf { min, max, options } => Box::new(SomeOf::new(*min, *max, build_all(options)?)?),
            Self::Affine(config) => Box::new(config.build()?),
            Self::HorizontalFlip => Box::new(HorizontalFlip),
            Self::VerticalFlip => Box::new(VerticalFlip),
            Self::Invert => Box::new(Invert),
            Self::Rotate90 { min_turns, max_turns } => Box::new(Rotate90::new(*min_turns, *max_turns)?),
            Self::GaussianNoise { std_dev } => Box::new(GaussianNoise::new(*std_dev)?),
            Self::BrightnessContrast { brightness, contrast } => {
                Box::new(BrightnessContrast::new(*brightness, *contrast)?)
            }
            Self::Gamma { gamma } => Box::new(Gamma::new(*gamma)?),
            Self::GaussianBlur { sigma } => Box::new(GaussianBlur::new(*sigma)?),
            Self::ElasticDistortion {
                alpha,
                sigma,
                fill,
                interpolation,
            } => Box::new(
                ElasticDistortion::new(*alpha, *sigma)?
                    .with_fill(*fill)
                    .with_interpolation(*interpolation),
            ),
            Self::Crop { amount } => Box::new(Crop::new(*amount)?),
            Self::Pad { amount, fill } => Box::new(Pad::new(*amount, *fill)?),
            Self::Resize { width, height, filter } => Box::new(Resize::new(*width, *height, *filter)?),
            Self::CenterCrop { width, height, fill } => Box::new(CenterCrop::new(*width, *height)?.with_fill(*fill)),
            Self::RandomResizedCrop {
                width,
                height,
                scale,
                ratio,
                filter,
            } => Box::new(RandomResizedCrop::new(*width, *height, *scale, *ratio)?.with_filter(*filter)),
            Self::Grayscale => Box::new(Grayscale),
            Self::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
            } => Box::new(ColorJitter::new(*brightness, *contrast, *saturation)?.with_hue(*hue)?),
        };

        Ok(augmenter)
    }
}

fn build_all(configs: &[AugmenterConfig]) -> Result<Vec<Box<dyn Augmenter>>> {
    configs.iter().map(AugmenterConfig::build).collect()
}
