//! Checked parameter ranges and probabilities.

use rand::{Rng, RngExt};

use crate::error::{Error, Result};

/// A closed interval `[min, max]` of finite values that a parameter is drawn from uniformly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UniformRange {
    min: f64,
    max: f64,
}

impl UniformRange {
    /// Checks that both bounds are finite and `min <= max`; `field` names the parameter in errors.
    ///
    /// # Errors
    ///
    /// [`Error::NotFinite`] or [`Error::ReversedRange`].
    pub fn new(field: &'static str, min: f32, max: f32) -> Result<Self> {
        let (min, max) = (f64::from(min), f64::from(max));
        for value in [min, max] {
            if !value.is_finite() {
                return Err(Error::NotFinite { field, value });
            }
        }

        if min > max {
            return Err(Error::ReversedRange { field, min, max });
        }

        Ok(Self { min, max })
    }

    /// Builds the interval `[min, max]` from constants that are known to be finite and ordered.
    pub(crate) fn from_known(min: f32, max: f32) -> Self {
        Self {
            min: f64::from(min),
            max: f64::from(max),
        }
    }

    /// Lower bound.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// Upper bound.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Checks that the whole range lies inside the open interval `(low, high)`.
    pub(crate) fn check_inside(self, field: &'static str, low: f64, high: f64, allowed: &'static str) -> Result<Self> {
        for value in [self.min, self.max] {
            if value <= low || value >= high {
                return Err(Error::OutOfRange { field, value, allowed });
            }
        }
        Ok(self)
    }

    /// Checks that the whole range lies inside the half-open interval `[low, high)`.
    pub(crate) fn check_from(self, field: &'static str, low: f64, high: f64, allowed: &'static str) -> Result<Self> {
        for value in [self.min, self.max] {
            if value < low || value >= high {
                return Err(Error::OutOfRange { field, value, allowed });
            }
        }
        Ok(self)
    }

    /// Returns the bounds as the `f32` pair they were built from.
    pub(crate) fn to_f32_pair(self) -> (f32, f32) {
        (self.min as f32, self.max as f32)
    }

    /// Draws a value uniformly from `[min, max)`, or exactly `min` when the bounds are equal.
    ///
    /// One `f64` is always consumed, so the random stream does not depend on the range.
    pub(crate) fn sample(&self, rng: &mut dyn Rng) -> f64 {
        let unit: f64 = rng.random();

        self.min + (self.max - self.min) * unit
    }
}

/// Checks that `p` is a probability in `[0, 1]`.
pub(crate) fn check_probability(field: &'static str, p: f32) -> Result<f64> {
    let value = f64::from(p);
    if !value.is_finite() {
        return Err(Error::NotFinite { field, value });
    }

    if !(0.0..=1.0).contains(&value) {
        return Err(Error::OutOfRange {
            field,
            value,
            allowed: "[0, 1]",
        });
    }
    Ok(value)
}

/// Checks that `value` is a finite number `>= 0`.
pub(crate) fn check_non_negative(field: &'static str, value: f32) -> Result<f64> {
    let value = f64::from(value);
    if !value.is_finite() {
        return Err(Error::NotFinite { field, value });
    }

    if value < 0.0 {
        return Err(Error::OutOfRange {
            field,
            value,
            allowed: "[0, inf)",
        });
    }
    Ok(value)
}

/// Checks that an output size is not zero.
pub(crate) fn check_size(field: &'static str, value: u32) -> Result<u32> {
    if value == 0 {
        return Err(Error::ZeroSize { field });
    }
    Ok(value)
}
