//! The augmenter trait.

use std::sync::Arc;

use image::{GrayImage, RgbImage};
use rand::Rng;

/// A random image transformation.
///
/// The generator is passed as `&mut dyn Rng`, not as a generic parameter, so the trait stays
/// dyn-compatible and combinators can hold `Box<dyn Augmenter>`. In rand 0.10 `Rng` has no
/// generic methods, and `RngExt` (`random`, `random_range`, ...) is implemented for
/// `dyn Rng` too, so nothing is lost but one indirect call per draw.
///
/// Implementations must draw the same random values for [`augment`](Augmenter::augment) and
/// [`augment_rgb`](Augmenter::augment_rgb), so one seed gives the same geometry in both.
pub trait Augmenter: Send + Sync {
    /// Returns a transformed copy of a grayscale image.
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage;

    /// Returns a transformed copy of an RGB image.
    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage;
}

impl<A: Augmenter + ?Sized> Augmenter for Box<A> {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        (**self).augment(image, rng)
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        (**self).augment_rgb(image, rng)
    }
}

impl<A: Augmenter + ?Sized> Augmenter for Arc<A> {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        (**self).augment(image, rng)
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        (**self).augment_rgb(image, rng)
    }
}

impl<A: Augmenter + ?Sized> Augmenter for &A {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        (**self).augment(image, rng)
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        (**self).augment_rgb(image, rng)
    }
}
