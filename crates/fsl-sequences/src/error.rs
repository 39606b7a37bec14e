//! The error type of this crate.

/// Errors raised while building a sampler, a sequence or a loader, or while producing a batch.
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
        "n_way = {n_way} exceeds the {eligible} eligible classes; these classes have too few \
         items for k_shot + q_query = {need} and were skipped: {}",
        too_small.join(", ")
    )]
    NotEnoughEligibleClasses {
        /// Requested classes per episode.
        n_way: usize,
        /// Classes with enough items.
        eligible: usize,
        /// Items one episode takes from a class (`k_shot + q_query`).
        need: usize,
        /// Skipped classes, in first-seen order.
        too_small: Vec<String>,
    },

    /// With separate query and support tables, a class has too few items in one of them.
    #[error(
        "class {class} has {have} items in the {table} table but an episode needs {parameter} = \
         {need} from it; lower {parameter}, drop the class, or enable skip_small_classes"
    )]
    ClassTooSmallInTable {
        /// The class id as written by its `Display` implementation.
        class: String,
        /// The table that lacks items: `support` or `query`.
        table: &'static str,
        /// The episode parameter that sets the need: `k_shot` or `q_query`.
        parameter: &'static str,
        /// Items of this class in that table.
        have: usize,
        /// Items an episode takes from that table per class.
        need: usize,
    },

    /// With separate query and support tables, a class occurs in only one of them.
    #[error(
        "class {class} has items in the {present_in} table but none in the {missing_from} table; \
         add items, drop the class, or enable skip_unmatched_classes"
    )]
    UnmatchedClass {
        /// The class id as written by its `Display` implementation.
        class: String,
        /// The table that has the class: `support` or `query`.
        present_in: &'static str,
        /// The table that lacks it.
        missing_from: &'static str,
    },

    /// `n_way` exceeds the number of classes left after skipping the classes that only one of
    /// the query and support tables has.
    #[error(
        "n_way = {n_way} exceeds the {matched} classes that both the query and the support table \
         have; these classes occur in only one table and were skipped: {}",
        unmatched.join(", ")
    )]
    NotEnoughMatchedClasses {
        /// Requested classes per episode.
        n_way: usize,
        /// Classes present in both tables (after the allowed-class filter).
        matched: usize,
        /// Skipped classes, support-only ones first, each group in first-seen order.
        unmatched: Vec<String>,
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

    /// A batch index past the end of the epoch.
    #[error("batch {index} requested but an epoch has {len} batches")]
    BatchOutOfRange {
        /// The requested batch.
        index: usize,
        /// Batches per epoch.
        len: usize,
    },

    /// A label table has no item.
    #[error("the {table} table has no item; give at least one labelled item")]
    EmptyTable {
        /// Name of the table: `query`, `support` or `labels`.
        table: &'static str,
    },

    /// A query class has no support item to form a matching pair with.
    #[error(
        "class {class} has no positive partner: {}",
        if *shared {
            "it has a single item, and an item is never paired with itself; add items or drop the class"
        } else {
            "the support table has no item of this class; add some or drop the class from the queries"
        }
    )]
    NoPositivePartner {
        /// The class id as written by its `Display` implementation.
        class: String,
        /// Whether query and support share one table.
        shared: bool,
    },

    /// The support table has no class other than the query's, so no non-matching pair exists.
    #[error("class {class} has no negative partner: the support table has no other class; add classes")]
    NoNegativePartner {
        /// The class id as written by its `Display` implementation.
        class: String,
    },

    /// Balanced pairs need as many matching as non-matching pairs per query.
    #[error("pairs_per_query = {pairs_per_query} is odd; use an even number so half the pairs match")]
    OddPairsPerQuery {
        /// The rejected value.
        pairs_per_query: usize,
    },

    /// Balanced pairs alternate matching and non-matching pairs, so a batch must be even.
    #[error("batch_size = {batch_size} is odd; balanced pairs need an even batch size")]
    OddBatchSize {
        /// The rejected value.
        batch_size: usize,
    },

    /// A k-shot batch contains whole classes of `k_shot` items.
    #[error("batch_size = {batch_size} is not divisible by k_shot = {k_shot}; use a multiple of k_shot")]
    BatchSizeNotMultipleOfKShot {
        /// The rejected batch size.
        batch_size: usize,
        /// Items per class in a batch.
        k_shot: usize,
    },

    /// A class has fewer items than a k-shot batch takes from it, and padding is off.
    #[error(
        "class {class} has {have} items but a k-shot batch takes k_shot = {k_shot} from each \
         class; lower k_shot, drop the class, or enable padding with replacement"
    )]
    ClassBelowKShot {
        /// The class id as written by its `Display` implementation.
        class: String,
        /// Number of items labelled with this class.
        have: usize,
        /// Items per class in a batch.
        k_shot: usize,
    },

    /// A k-shot batch needs more classes than the labels have.
    #[error(
        "batch_size = {batch_size} with k_shot = {k_shot} needs {classes_per_batch} classes per \
         batch but the labels have {available}; lower batch_size or raise k_shot"
    )]
    NotEnoughClassesForBatch {
        /// `batch_size / k_shot`.
        classes_per_batch: usize,
        /// Items per batch.
        batch_size: usize,
        /// Items per class in a batch.
        k_shot: usize,
        /// Distinct classes in the labels.
        available: usize,
    },

    /// A label is missing from the fixed class list that targets are encoded against.
    #[error("label {label} of item {item} is not in the class list; add it to the list")]
    UnknownClass {
        /// The label as written by its `Display` implementation.
        label: String,
        /// The first item with this label.
        item: usize,
    },

    /// The fixed class list names a class twice, so its code would be ambiguous.
    #[error("class {class} occurs twice in the class list; list every class once")]
    DuplicateClass {
        /// The class id as written by its `Display` implementation.
        class: String,
    },

    /// A range of episode shapes is empty or starts at zero.
    #[error("invalid {name} range {start}..={end}: {reason}")]
    InvalidRange {
        /// Name of the range, as in the constructor signature.
        name: &'static str,
        /// First value of the range.
        start: usize,
        /// Last value of the range.
        end: usize,
        /// Description of the accepted ranges.
        reason: &'static str,
    },

    /// The loader's inputs do not fit together.
    #[error("invalid episode loader: {reason}")]
    InvalidLoader {
        /// Description of the mismatch.
        reason: String,
    },

    /// An episode names an item that has no image in the loader.
    #[error(
        "batch {index} of epoch {epoch} contains item {item} but the loader has {images} images; \
         build the sequence and the images from the same table"
    )]
    ItemOutOfRange {
        /// Epoch of the batch.
        epoch: u64,
        /// Index of the batch in its epoch.
        index: usize,
        /// The item without an image.
        item: usize,
        /// Number of images in the loader.
        images: usize,
    },

    /// A loader worker thread could not be started.
    #[error("failed to start a loader worker thread; lower the number of workers")]
    SpawnWorker(#[source] std::io::Error),

    /// A loader worker thread panicked, so the batches from this one on are missing.
    #[error(
        "the loader worker building batch {index} of epoch {epoch} panicked, and its panic \
         message went to standard error; fix the cause and resume with epoch_from({epoch}, {index})"
    )]
    WorkerStopped {
        /// Epoch of the missing batch.
        epoch: u64,
        /// Index of the first missing batch.
        index: usize,
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
