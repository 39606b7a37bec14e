//! Augmenters built from other augmenters.
//!
//! Combinators hold their parts behind [`Arc`], so cloning one copies a few pointers and the
//! clones share the parts.

use std::sync::Arc;

use image::{GrayImage, RgbImage};
use rand::{Rng, RngExt};

use crate::augmenter::Augmenter;
use crate::config::AugmenterConfig;
use crate::error::{Error, Result};
use crate::pixel::{GrayImageF32, RgbImageF32};
use crate::range::check_probability;

/// Implements [`Augmenter`] for a combinator through its `describe` method and its generic `run`
/// method, which receives the image and a function that applies one inner augmenter to it.
macro_rules! forward_combinator {
    ($type:ty) => {
        impl Augmenter for $type {
            fn augment(&self, image: &GrayImage, rng: &mut dyn Rng) -> GrayImage {
                self.run(image, rng, &|inner, image, rng| inner.augment(image, rng))
            }

            fn augment_rgb(&self, image: &RgbImage, rng: &mut dyn Rng) -> RgbImage {
                self.run(image, rng, &|inner, image, rng| inner.augment_rgb(image, rng))
            }

            fn augment_f32(&self, image: &GrayImageF32, rng: &mut dyn Rng) -> GrayImageF32 {
                self.run(image, rng, &|inner, image, rng| inner.augment_f32(image, rng))
            }

            fn augment_rgb_f32(&self, image: &RgbImageF32, rng: &mut dyn Rng) -> RgbImageF32 {
                self.run(image, rng, &|inner, image, rng| inner.augment_rgb_f32(image, rng))
            }

            fn config(&self) -> Option<AugmenterConfig> {
                self.describe()
            }
        }
    };
}

/// Applies one inner augmenter to an image of type `T`.
type Step<'a, T> = &'a dyn Fn(&dyn Augmenter, &T, &mut dyn Rng) -> T;

/// Shared, immutable list of augmenters.
type Parts = Arc<[Arc<dyn Augmenter>]>;

/// Moves boxed augmenters into a shared list.
fn share(parts: Vec<Box<dyn Augmenter>>) -> Parts {
    parts.into_iter().map(Arc::from).collect()
}

/// Collects the descriptions of `parts`, or `None` when one of them has none.
fn part_configs(parts: &[Arc<dyn Augmenter>]) -> Option<Vec<AugmenterConfig>> {
    parts.iter().map(|part| part.config()).collect()
}

/// Applies `parts` in order, starting from `image` without copying it first.
fn apply_in_order<'a, T: Clone>(
    parts: impl IntoIterator<Item = &'a Arc<dyn Augmenter>>,
    image: &T,
    rng: &mut dyn Rng,
    step: Step<'_, T>,
) -> T {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return image.clone();
    };

    let mut current = step(first.as_ref(), image, rng);
    for inner in parts {
        current = step(inner.as_ref(), &current, rng);
    }
    current
}

/// Returns the image unchanged and draws no random numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl Identity {
    fn run<T: Clone>(&self, image: &T, _rng: &mut dyn Rng, _step: Step<'_, T>) -> T {
        image.clone()
    }

    fn describe(&self) -> Option<AugmenterConfig> {
        Some(AugmenterConfig::Identity)
    }
}

forward_combinator!(Identity);

/// Applies every step in order; an empty sequence is the identity.
#[derive(Debug, Clone, Default)]
pub struct Sequence {
    steps: Parts,
}

impl Sequence {
    /// Wraps the steps, applied first to last.
    pub fn new(steps: Vec<Box<dyn Augmenter>>) -> Self {
        Self { steps: share(steps) }
    }

    /// Appends a step.
    pub fn then(self, step: impl Augmenter + 'static) -> Self {
        let mut steps = self.steps.to_vec();
        steps.push(Arc::new(step));

        Self { steps: steps.into() }
    }

    /// Returns the steps, first to last.
    pub fn steps(&self) -> &[Arc<dyn Augmenter>] {
        &self.steps
    }

    fn run<T: Clone>(&self, image: &T, rng: &mut dyn Rng, step: Step<'_, T>) -> T {
        apply_in_order(self.steps.iter(), image, rng, step)
    }

    fn describe(&self) -> Option<AugmenterConfig> {
        Some(AugmenterConfig::Sequence {
            steps: part_configs(&self.steps)?,
        })
    }
}

forward_combinator!(Sequence);

/// Applies `inner` with probability `p`, otherwise returns the image unchanged.
#[derive(Debug, Clone)]
pub struct Sometimes {
    p: f64,
    inner: Arc<dyn Augmenter>,
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
            inner: Arc::new(inner),
        })
    }

    /// Probability that the inner augmenter runs.
    pub fn p(&self) -> f64 {
        self.p
    }

    fn run<T: Clone>(&self, image: &T, rng: &mut dyn Rng, step: Step<'_, T>) -> T {
        if rng.random_bool(self.p) {
            step(self.inner.as_ref(), image, rng)
        } else {
            image.clone()
        }
    }

    fn describe(&self) -> Option<AugmenterConfig> {
        Some(AugmenterConfig::Sometimes {
            p: self.p as f32,
            inner: Box::new(self.inner.config()?),
        })
    }
}

forward_combinator!(Sometimes);

/// Applies one of its options, chosen uniformly for each image.
#[derive(Debug, Clone)]
pub struct OneOf {
    options: Parts,
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
        Ok(Self {
            options: share(options),
        })
    }

    fn run<T: Clone>(&self, image: &T, rng: &mut dyn Rng, step: Step<'_, T>) -> T {
        let chosen = self.options[rng.random_range(0..self.options.len())].as_ref();

        step(chosen, image, rng)
    }

    fn describe(&self) -> Option<AugmenterConfig> {
        Some(AugmenterConfig::OneOf {
            options: part_configs(&self.options)?,
        })
    }
}

forward_combinator!(OneOf);

/// Applies a random subset of its options: the subset size is drawn uniformly from
/// `min..=max`, the members uniformly without repetition, and they run in the order given.
#[derive(Debug, Clone)]
pub struct SomeOf {
    min: usize,
    max: usize,
    options: Parts,
}

impl SomeOf {
    /// Applies between `min` and `max` (inclusive) distinct options to each image; `SomeOf::new
    /// (n, n, options)` always applies exactly `n`.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyOptions`] when `options` is empty, [`Error::ReversedRange`] when
    /// `min > max`, [`Error::TooFewOptions`] when `max` exceeds the number of options.
    pub fn new(min: usize, max: usize, options: Vec<Box<dyn Augmenter>>) -> Result<Self> {
        if options.is_empty() {
            return Err(Error::EmptyOptions { combinator: "some-of" });
        }

        if min > max {
            return Err(Error::ReversedRange {
                field: "count",
                min: min as f64,
                max: max as f64,
            });
        }

        if max > options.len() {
            return Err(Error::TooFewOptions {
                field: "max",
                requested: max,
                available: options.len(),
            });
        }
        Ok(Self {
            min,
            max,
            options: share(options),
        })
    }

    fn run<T: Clone>(&self, image: &T, rng: &mut dyn Rng, step: Step<'_, T>) -> T {
        let count = rng.random_range(self.min..=self.max);
        let mut chosen = rand::seq::index::sample(rng, self.options.len(), count).into_vec();
        chosen.sort_unstable();

        apply_in_order(chosen.into_iter().map(|index| &self.options[index]), image, rng, step)
    }

    fn describe(&self) -> Option<AugmenterConfig> {
        Some(AugmenterConfig::SomeOf {
            min: self.min,
            max: self.max,
            options: part_configs(&self.options)?,
        })
    }
}

forward_combinator!(SomeOf);
