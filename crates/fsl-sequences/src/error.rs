//! The error type of this crate.

/// Errors raised while building a sampler or a sequence.
///
/// Sampling itself never fails: every way an episode could be infeasible is checked when the
/// sampler is built, so a sampler that exists can always draw.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A numeric parameter is outside the values it accepts.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// Name of the parameter, as in the constructor signature.
        name: &'static str,
        /// The rejected value.
        value: usize,
        /// Description of the accepted values.
        reason: &'static str,
    },

    /// A class has fewer items than one episode takes from it.
    #[error(
        "class {class} has {have} items but an episode needs {need} (k_shot + q_query) from each \
         class; lower k_shot or q_query, drop the class, or enable skip_small_classes"
    )]
    ClassTooSmall {
        /// The class id as written by its `Display` implementation.
        class: String,
        /// Number of items labelled with this class.
        have: usize,
        /// Items one episode takes from a class (`k_shot + q_query`).
        need: usize,
    },

    /// `n_way` exceeds the number of distinct classes in the labels.
    #[error("n_way = {n_way} exceeds the {available} classes in the labels; lower n_way")]
    NotEnoughClasses {
        /// Requested classes per episode.
        n_way: usize,
        /// Distinct classes in the labels.
        available: usize,
    },

    /// `n_way` exceeds the number of classes left after filtering by the allowed class list.
    #[error(
        "n_way = {n_way} exceeds the {allowed} classes left after filtering by the allowed \
         class list; lower n_way or allow more classes"
    )]
    NotEnoughAllowedClasses {
        /// Requested classes per episode.
        n_way: usize,
        /// Classes that are both in the labels and in the allowed list.
        allowed: usize,
    },

    /// `n_way` exceeds the number of classes left after skipping the too-small ones.
    #[error(
        "n_way = {n_way} exceeds the {eligible} eligible classes; these classes have fewer than \
         {need} items (k_shot + q_query) and were skipped: {}",
        too_small.join(", ")
    )]
    NotEnoughEligibleClasses {
        /// Requested classes per episode.
        n_way: usize,
        /// Classes with at least `need` items.
        eligible: usize,
        /// Items one episode takes from a class (`k_shot + q_query`).
        need: usize,
        /// Skipped classes, in first-seen order.
        too_small: Vec<String>,
    },

    /// The allowed class list names a class that has no item.
    #[error("allowed class {class} does not occur in the labels; check the class list")]
    UnknownAllowedClass {
        /// The class id as written by its `Display` implementation.
        class: String,
    },

    /// The group list and the label list have different lengths.
    #[error("got {groups} group ids for {labels} item labels; give exactly one group per item")]
    GroupCountMismatch {
        /// Length of the group list.
        groups: usize,
        /// Length of the label list.
        labels: usize,
    },

    /// Items of one class carry different group ids.
    #[error(
        "class {class} has items in group {first_group} and in group {second_group}; \
         every item of a class must belong to the same group"
    )]
    ClassInSeveralGroups {
        /// The class id as written by its `Display` implementation.
        class: String,
        /// Group of the first item of the class.
        first_group: String,
        /// A different group found on a later item of the class.
        second_group: String,
    },

    /// In within-group mode, no group has `n_way` eligible classes.
    #[error(
        "no group has n_way = {n_way} eligible classes; the largest group, {largest_group}, has \
         {largest}; lower n_way"
    )]
    NoEligibleGroup {
        /// Requested classes per episode.
        n_way: usize,
        /// Name of the group with the most eligible classes.
        largest_group: String,
        /// Eligible classes in that group.
        largest: usize,
    },

    /// The loader's inputs do not fit together.
    #[error("invalid episode loader: {reason}")]
    InvalidLoader {
        /// Description of the mismatch.
        reason: String,
    },

    /// An image could not be read or decoded.
    #[error(transparent)]
    Dataset(#[from] fsl_datasets::Error),

    /// A tensor could not be built.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
