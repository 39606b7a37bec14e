//! Deterministic pixel rearrangements and value maps: flips and inversion.
//!
//! These draw no random numbers; wrap them in [`Sometimes`](crate::Sometimes) to apply them
//! with a probability.

use image::imageops;
use image::{GrayImage, RgbImage};
use rand::Rng;

use crate::augmenter::Augmenter;

/// Mirrors the image left to right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HorizontalFlip;

impl Augmenter for HorizontalFlip {
    fn augment(&self, image: &GrayImage, _rng: &mut dyn Rng) -> GrayImage {
        imageops::flip_horizontal(image)
    }

    fn augment_rgb(&self, image: &RgbImage, _rng: &mut dyn Rng) -> RgbImage {
        imageops::flip_horizontal(image)
    }
}

/// Mirrors the image top to bottom.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerticalFlip;

impl Augmenter for VerticalFlip {
    fn augment(&self, image: &GrayImage, _rng: &mut dyn Rng) -> GrayImage {
        imageops::flip_vertical(image)
    }

    fn augment_rgb(&self, image: &RgbImage, _rng: &mut dyn Rng) -> RgbImage {
        imageops::flip_vertical(image)
    }
}

/// Replaces every channel value `v` by `255 - v`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Invert;

impl Augmenter for Invert {
    fn augment(&self, image: &GrayImage, _rng: &mut dyn Rng) -> GrayImage {
        let mut output = image.clone();
        imageops::invert(&mut output);
        output
    }

    fn augment_rgb(&self, image: &RgbImage, _rng: &mut dyn Rng) -> RgbImage {
        let mut output = image.clone();
        imageops::invert(&mut output);
        output
    }
}
