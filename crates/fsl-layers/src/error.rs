//! The error type of `fsl-layers`.

/// Errors raised by kernels, support layers, losses, metrics and custom operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// Two inputs that must agree in shape do not.
    #[error("shape mismatch in {operation}: {details}")]
    ShapeMismatch {
        /// The operation that checked the shapes.
        operation: &'static str,
        /// The shapes involved and what they should be.
        details: String,
    },

    /// A label is outside `0..n_classes`.
    #[error(
        "label {label} at position {position} is out of range for {n_classes} classes; labels must be 0..{n_classes}"
    )]
    LabelOutOfRange {
        /// The offending label.
        label: u32,
        /// Its position in the label list.
        position: usize,
        /// The number of classes.
        n_classes: usize,
    },

    /// A class has no support item, so it has no prototype.
    #[error(
        "class {class} of {n_classes} has no support item, so it has no prototype; give every class at least one support item, or use `prototypes`, which keeps only the classes present"
    )]
    EmptyClass {
        /// The class code without support items.
        class: u32,
        /// The number of classes asked for.
        n_classes: usize,
    },

    /// A support-set classifier was asked to predict before it had a support set.
    #[error("the support-set classifier has no support set; call `set_support` with labelled embeddings first")]
    EmptySupport,

    /// An input contains NaN or an infinity.
    #[error(
        "{name} contains a non-finite value (NaN or infinity) in row {row}; check the encoder's output for that item"
    )]
    NonFinite {
        /// The input that was checked.
        name: &'static str,
        /// The first row with a non-finite value.
        row: usize,
    },

    /// A parameter value is not valid for the operation.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// The parameter name.
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// Constraint the value must satisfy.
        reason: &'static str,
    },

    /// The data type is not supported by a custom CPU kernel.
    #[error("{operation} does not support {dtype:?} tensors; convert to f32 or f64 with `to_dtype`")]
    UnsupportedDType {
        /// The operation that rejected the tensor.
        operation: &'static str,
        /// The rejected data type.
        dtype: candle_core::DType,
    },

    /// Two inputs that must have the same data type do not.
    #[error(
        "dtype mismatch in {operation}: the two inputs are {a:?} and {b:?}; convert one with `to_dtype` so both match"
    )]
    DTypeMismatch {
        /// The operation that checked the data types.
        operation: &'static str,
        /// The first input's data type.
        a: candle_core::DType,
        /// The second input's data type.
        b: candle_core::DType,
    },

    /// A parameter checkpoint could not be written or read.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// Description of the failure.
        reason: String,
    },
}

/// Result alias of `fsl-layers`.
pub type Result<T> = std::result::Result<T, Error>;
