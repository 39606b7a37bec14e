//! Augmenters built from other augmenters.

use image::{GrayImage, RgbImage};
use rand::{Rng, RngExt};

use crate::augmenter::Augmenter;
use crate::error::{Error, Result};
use crate::range::check_probability;

/// Returns the image unchanged and draws no random numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl Augmenter for Identity {
    fn augment(&self, image: &GrayImage, _rng: &mut dyn Rng) -> GrayImage {
        image.clone()
    }

    fn augment_rgb(&self, image: &RgbImage, _rng: &mut dyn Rng) -> RgbImage {
        image.clone()
    }
}

/// Applies every step in order; an empty sequence is the identity.
#[derive(Default)]
pub struct Sequence(pub Vec<Box<dyn Augmenter>>);

impl Sequence {
    /// Wraps the steps, applied first to last.
    pub fn new(steps: Vec<Box<dyn Augmenter>>) -> Self {
        Self(steps)
    }

    /// Appends a step.
    pub fn then(mut self, step: impl Augmenter + 'static) -> Self {
        self.0.push(Box::new(step));
        self
    }
}

impl Augmenter for Sequence {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        let mut current = image.clone();
        for step in &self.0 {
            current = step.augment(&current, rng);
        }
        current
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        let mut current = image.clone();
        for step in &self.0 {
            current = step.augment_rgb(&current, rng);
        }
        current
    }
}

/// Applies `inner` with probability `p`, otherwise returns the image unchanged.
pub struct Sometimes {
    p: f64,
    inner: Box<dyn Augmenter>,
}

impl Sometimes {
    /// Checks `p` and wraps `inner`.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] or [`Error::NotFinite`] when `p` is not a probability in [0, 1].
    pub fn new(p: f32, inner: impl Augmenter + 'static) -> Result<Self> {
        Ok(Self {
            p: check_probability("p", p)?,
            inner: Box::new(inner),
        })
    }

    /// Probability that the inner augmenter runs.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl Augmenter for Sometimes {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        if rng.random_bool(self.p) {
            self.inner.augment(image, rng)
        } else {
            image.clone()
        }
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        if rng.random_bool(self.p) {
            self.inner.augment_rgb(image, rng)
        } else {
            image.clone()
        }
    }
}

/// Applies one of its options, chosen uniformly for each image.
pub struct OneOf {
    options: Vec<Box<dyn Augmenter>>,
}

impl OneOf {
    /// Wraps the options.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyOneOf`] when `options` is empty.
    pub fn new(options: Vec<Box<dyn Augmenter>>) -> Result<Self> {
        if options.is_empty() {
            return Err(Error::EmptyOneOf);
        }
        Ok(Self { options })
    }

    fn choose(&self, rng: &mut dyn Rng) -> &dyn Augmenter {
        self.options[rng.random_range(0..self.options.len())].as_ref()
    }
}

impl Augmenter for OneOf {
    fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
        self.choose(rng).augment(image, rng)
    }

    fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
        self.choose(rng).augment_rgb(image, rng)
    }
}
