//! The error type of this crate.

/// Errors raised while checking augmentation parameters.
///
/// Augmenting never fails: parameters are checked once, when an augmenter is built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is NaN or infinite.
    #[error("invalid {field}: {value} is not a finite number")]
    NotFinite {
        /// Name of the parameter.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },

    /// A range has its lower bound above its upper bound.
    #[error("invalid {field} range: min {min} is greater than max {max}; swap the bounds")]
    ReversedRange {
        /// Name of the parameter.
        field: &'static str,
        /// Lower bound given.
        min: f64,
        /// Upper bound given.
        max: f64,
    },

    /// A parameter is finite but outside the values the operation accepts.
    #[error("invalid {field}: {value} is outside {allowed}")]
    OutOfRange {
        /// Name of the parameter.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The accepted values, in interval notation.
        allowed: &'static str,
    },

    /// A one-of combinator was given no augmenter to choose from.
    #[error("one-of augmenter needs at least one option, got none")]
    EmptyOneOf,

    /// A combinator other than one-of was given no augmenter to choose from.
    #[error("{combinator} augmenter needs at least one option, got none")]
    EmptyOptions {
        /// Name of the combinator.
        combinator: &'static str,
    },

    /// A some-of combinator was asked to apply more augmenters than it holds.
    #[error(
        "invalid {field}: {requested} augmenters requested but only {available} given; lower {field} or add options"
    )]
    TooFewOptions {
        /// Name of the parameter.
        field: &'static str,
        /// Number requested.
        requested: usize,
        /// Number of options given.
        available: usize,
    },

    /// An output width or height is zero.
    #[error("invalid {field}: the output size must be at least 1 pixel, got 0")]
    ZeroSize {
        /// Name of the parameter.
        field: &'static str,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
