//! The augmenter trait.

use std::fmt::Debug;
use std::sync::Arc;

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
use rand::Rng;

use crate::config::AugmenterConfig;
use crate::pixel::{GrayImageF32, RgbImageF32};

/// A random image transformation.
///
/// The generator is passed as `&mut dyn Rng`, not as a generic parameter, so the trait stays
/// dyn-compatible and combinators can hold `Box<dyn Augmenter>`. In rand 0.10 `Rng` has no
/// generic methods, and `RngExt` (`random`, `random_range`, ...) is implemented for
/// `dyn Rng` too, so nothing is lost but one indirect call per draw.
///
/// Implementations must draw the same random values for every pixel type, so one seed gives
/// the same geometry for gray and RGB, `u8` and `f32` images.
pub trait Augmenter: Send + Sync + Debug {
    /// Returns a transformed copy of a grayscale image.
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage;

    /// Returns a transformed copy of an RGB image.
    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage;

    /// Returns a transformed copy of a grayscale `f32` image with values in [0, 1].
    ///
    /// Every augmenter of this crate works on the `f32` values directly. The default
    /// implementation, for augmenters written elsewhere, rounds to 8-bit levels, calls
    /// [`augment`](Augmenter::augment) and divides by 255, so it loses precision.
    fn augment_f32(&self, image: &GrayImageF32, rng: &mut dyn Rng) -> GrayImageF32 {
        let levels = ImageBuffer::from_fn(image.width(), image.height(), |x, y| {
            Luma([to_level(image.get_pixel(x, y)[0])])
        });

        let output = self.augment(&levels, rng);
        ImageBuffer::from_fn(output.width(), output.height(), |x, y| {
            Luma([f32::from(output.get_pixel(x, y)[0]) / 255.0])
        })
    }

    /// Returns a transformed copy of an RGB `f32` image with values in [0, 1].
    ///
    /// The default implementation rounds through 8-bit levels like
    /// [`augment_f32`](Augmenter::augment_f32).
    fn augment_rgb_f32(&self, image: &RgbImageF32, rng: &mut dyn Rng) -> RgbImageF32 {
        let levels = ImageBuffer::from_fn(image.width(), image.height(), |x, y| {
            Rgb(image.get_pixel(x, y).0.map(to_level))
        });

        let output = self.augment_rgb(&levels, rng);
        ImageBuffer::from_fn(output.width(), output.height(), |x, y| {
            Rgb(output.get_pixel(x, y).0.map(|level| f32::from(level) / 255.0))
        })
    }

    /// Returns the serialisable description this augmenter was built from, or `None` when it
    /// has none (the default, for augmenters written outside this crate).
    ///
    /// Every augmenter of this crate returns `Some`, and a combinator returns `Some` when all
    /// of its parts do.
    fn config(&self) -> Option<AugmenterConfig> {
        None
    }
}

fn to_level(value: f32) -> u8 {
    (value * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Implements [`Augmenter`] for `$type` by forwarding every pixel type to its generic
/// `apply` method and the description to its `describe` method.
macro_rules! forward_augmenter {
    ($type:ty) => {
        impl $crate::augmenter::Augmenter for $type {
            fn augment(&self, image: &image::GrayImage, rng: &mut dyn rand::Rng) -> image::GrayImage {
                self.apply(image, rng)
            }

            fn augment_rgb(&self, image: &image::RgbImage, rng: &mut dyn rand::Rng) -> image::RgbImage {
                self.apply(image, rng)
            }

            fn augment_f32(
                &self,
                image: &$crate::pixel::GrayImageF32,
                rng: &mut dyn rand::Rng,
            ) -> $crate::pixel::GrayImageF32 {
                self.apply(image, rng)
            }

            fn augment_rgb_f32(
                &self,
                image: &$crate::pixel::RgbImageF32,
                rng: &mut dyn rand::Rng,
            ) -> $crate::pixel::RgbImageF32 {
                self.apply(image, rng)
            }

            fn config(&self) -> Option<$crate::config::AugmenterConfig> {
                Some(self.describe())
            }
        }
    };
}

pub(crate) use forward_augmenter;

/// Forwards every method of [`Augmenter`] through a pointer type.
macro_rules! forward_pointer {
    ($pointer:ty) => {
        impl<A: Augmenter + ?Sized> Augmenter for $pointer {
            fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
                (**self).augment(image, rng)
            }

            fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
                (**self).augment_rgb(image, rng)
            }

            fn augment_f32(&self, image: &GrayImageF32, rng: &mut dyn Rng) -> GrayImageF32 {
                (**self).augment_f32(image, rng)
            }

            fn augment_rgb_f32(&self, image: &RgbImageF32, rng: &mut dyn Rng) -> RgbImageF32 {
                (**self).augment_rgb_f32(image, rng)
            }

            fn config(&self) -> Option<AugmenterConfig> {
                (**self).config()
            }
        }
    };
}

forward_pointer!(Box<A>);
forward_pointer!(Arc<A>);
forward_pointer!(&A);
