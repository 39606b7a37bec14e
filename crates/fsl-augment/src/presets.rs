//! Ready-made pipelines: the Koch et al. Omniglot distortion and a natural-image recipe.

use crate::affine::{Affine, AffineConfig};
use crate::color::ColorJitter;
use crate::combinators::{Sequence, Sometimes};
use crate::config::AugmenterConfig;
use crate::error::Result;
use crate::geometry::ResizeFilter;
use crate::pixel_ops::HorizontalFlip;
use crate::resized_crop::RandomResizedCrop;

/// Jitter strength of brightness, contrast and saturation in [`natural_image`], the value of
/// the common ImageNet recipe (for example timm's `color_jitter=0.4`).
pub const NATURAL_COLOR_JITTER: f32 = 0.4;

/// Builds the Omniglot distortion of Koch, Zemel and Salakhutdinov (2015): rotation in
/// [-10°, 10°], shear in [-0.3, 0.3], scale in [0.8, 1.2] and translation in [-2, 2] px, each
/// component applied with probability 0.5, white fill. Same as [`Affine::omniglot`].
pub fn koch_omniglot() -> Affine {
    Affine::omniglot()
}

/// Describes [`koch_omniglot`] as a serialisable configuration.
pub fn koch_omniglot_config() -> AugmenterConfig {
    AugmenterConfig::Affine(AffineConfig::omniglot())
}

/// Builds the standard natural-image training pipeline for a `size` x `size` model input:
/// random resized crop (area 8 % to 100 %, aspect ratio 3/4 to 4/3, bilinear), horizontal flip
/// with probability 0.5, then colour jitter of strength 0.4 for brightness, contrast and
/// saturation, without hue jitter. For hue, build the pipeline by hand with
/// [`ColorJitter::with_hue`].
///
/// # Errors
///
/// [`Error::ZeroSize`](crate::Error::ZeroSize) when `size` is 0.
pub fn natural_image(size: u32) -> Result<Sequence> {
    let crop =
        RandomResizedCrop::new(size, size, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0))?.with_filter(ResizeFilter::Bilinear);
    let jitter = ColorJitter::new(NATURAL_COLOR_JITTER, NATURAL_COLOR_JITTER, NATURAL_COLOR_JITTER)?;

    Ok(Sequence::default()
        .then(crop)
        .then(Sometimes::new(0.5, HorizontalFlip)?)
        .then(jitter))
}

/// Describes [`natural_image`] as a serialisable configuration.
pub fn natural_image_config(size: u32) -> AugmenterConfig {
    AugmenterConfig::Sequence {
        steps: vec![
            AugmenterConfig::RandomResizedCrop {
                width: size,
                height: size,
                scale: (0.08, 1.0),
                ratio: (3.0 / 4.0, 4.0 / 3.0),
                filter: ResizeFilter::Bilinear,
            },
            AugmenterConfig::Sometimes {
                p: 0.5,
                inner: Box::new(AugmenterConfig::HorizontalFlip),
            },
            AugmenterConfig::ColorJitter {
                brightness: NATURAL_COLOR_JITTER,
                contrast: NATURAL_COLOR_JITTER,
                saturation: NATURAL_COLOR_JITTER,
                hue: 0.0,
            },
        ],
    }
}
