//! Options that change which classes a sampler may draw.

use std::fmt::Display;

/// Options for [`EpisodeSampler::new`](super::EpisodeSampler::new).
///
/// The default draws from every class and rejects classes that are too small.
#[derive(Debug, Clone)]
pub struct SamplerOptions<L> {
    pub(crate) skip_small_classes: bool,
    pub(crate) skip_unmatched_classes: bool,
    pub(crate) allowed_classes: Option<Vec<L>>,
    pub(crate) groups: Option<Vec<String>>,
}

impl<L> Default for SamplerOptions<L> {
    fn default() -> Self {
        Self {
            skip_small_classes: false,
            skip_unmatched_classes: false,
            allowed_classes: None,
            groups: None,
        }
    }
}

impl<L> SamplerOptions<L> {
    /// Default options: every class, too-small and unmatched classes are an error, no groups.
    pub fn new() -> Self {
        Self::default()
    }

    /// Skips classes with fewer than `k_shot + q_query` items (logged) instead of failing; with
    /// separate tables, classes with fewer than `k_shot` support or `q_query` query items.
    pub fn with_skip_small_classes(mut self, skip: bool) -> Self {
        self.skip_small_classes = skip;
        self
    }

    /// With separate query and support tables, skips classes that only one table has (logged)
    /// instead of failing. One shared table has no such class.
    pub fn with_skip_unmatched_classes(mut self, skip: bool) -> Self {
        self.skip_unmatched_classes = skip;
        self
    }

    /// Restricts sampling to these classes, for example the training split's classes.
    ///
    /// Every listed class must occur in the labels (in either table when there are two).
    pub fn with_allowed_classes(mut self, classes: impl IntoIterator<Item = L>) -> Self {
        self.allowed_classes = Some(classes.into_iter().collect());
        self
    }

    /// Samples within groups: one group id per item, in the order of the labels (of the support
    /// table when there are two).
    ///
    /// Each episode first draws one group uniformly among the groups with at least `n_way`
    /// eligible classes, then draws all its classes from that group. For Omniglot the group is
    /// the alphabet. Groups are compared by their `Display` text, which also names them in logs
    /// and errors.
    pub fn with_groups<G: Display>(mut self, groups: impl IntoIterator<Item = G>) -> Self {
        self.groups = Some(groups.into_iter().map(|group| group.to_string()).collect());
        self
    }
}
