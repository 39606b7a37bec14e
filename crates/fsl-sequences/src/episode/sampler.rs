//! Index-level episode sampling: which items form the support and query sets.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use rand::rngs::StdRng;
use rand::seq::index;
use rand::{Rng, RngExt, SeedableRng};

use super::options::SamplerOptions;
use super::pool::ClassPool;
use super::spec::EpisodeSpec;
use crate::error::Result;

/// One episode as item indices into the label list the sampler was built from.
///
/// Episode label `i` stands for class `class_ids[i]`, and the same map applies to the support
/// and the query set. Both sets are class-major: all items of label 0, then label 1, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode<L> {
    /// Class ids in the order they were drawn; episode label `i` is `class_ids[i]`.
    pub class_ids: Vec<L>,
    /// Support item indices, `k_shot` per class, class-major.
    pub support: Vec<usize>,
    /// Episode label of each support item, in `0..n_way`.
    pub support_labels: Vec<u32>,
    /// Query item indices, `q_query` per class, class-major, never in the support set.
    pub query: Vec<usize>,
    /// Episode label of each query item, in `0..n_way`.
    pub query_labels: Vec<u32>,
}

/// Draws episodes of a fixed [`EpisodeSpec`] from a list of item labels.
///
/// Classes are kept in the order they first occur in the labels, so two samplers built from
/// the same numbers typed as `i64`, `u16` or `String` draw the same episodes. Every check runs
/// in [`EpisodeSampler::new`]; drawing never retries and never fails.
#[derive(Debug, Clone)]
pub struct EpisodeSampler<L> {
    spec: EpisodeSpec,
    pool: ClassPool<L>,
}

impl<L> EpisodeSampler<L>
where
    L: Clone + Eq + Hash + Debug + Display,
{
    /// Builds a sampler from one class label per item (the item index is its position).
    ///
    /// # Errors
    ///
    /// - [`Error::ClassTooSmall`](crate::Error::ClassTooSmall) for the first class (in label
    ///   order) with fewer than `k_shot + q_query` items, unless small classes are skipped.
    /// - [`Error::NotEnoughClasses`](crate::Error::NotEnoughClasses),
    ///   [`Error::NotEnoughAllowedClasses`](crate::Error::NotEnoughAllowedClasses) or
    ///   [`Error::NotEnoughEligibleClasses`](crate::Error::NotEnoughEligibleClasses) when fewer
    ///   than `n_way` classes remain.
    /// - [`Error::UnknownAllowedClass`](crate::Error::UnknownAllowedClass) for an allowed class
    ///   without items.
    /// - [`Error::GroupCountMismatch`](crate::Error::GroupCountMismatch),
    ///   [`Error::ClassInSeveralGroups`](crate::Error::ClassInSeveralGroups) or
    ///   [`Error::NoEligibleGroup`](crate::Error::NoEligibleGroup) for bad groups.
    pub fn new(labels: &[L], spec: EpisodeSpec, options: SamplerOptions<L>) -> Result<Self> {
        let pool = ClassPool::build(labels, &spec, &options)?;

        Ok(Self { spec, pool })
    }

    /// Draws one episode from `rng`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Episode<L> {
        let spec = &self.spec;

        draw_episode(&self.pool, spec.n_way(), spec.k_shot(), spec.q_query(), rng)
    }

    /// Draws episode number `index` of the stream identified by `seed`.
    ///
    /// The result depends only on `(seed, index)` and the sampler's input, so episodes can be
    /// drawn in any order or on any thread.
    pub fn episode(&self, seed: u64, index: u64) -> Episode<L> {
        let mut rng = StdRng::seed_from_u64(episode_seed(seed, index));

        self.sample(&mut rng)
    }

    /// Returns the episode shape this sampler draws.
    pub fn spec(&self) -> &EpisodeSpec {
        &self.spec
    }

    /// Classes that episodes may contain, in first-seen order.
    pub fn eligible_classes(&self) -> &[L] {
        &self.pool.classes
    }

    /// Classes excluded for having fewer than `k_shot + q_query` items, in first-seen order.
    pub fn skipped_classes(&self) -> &[L] {
        &self.pool.skipped
    }

    /// Names of the groups episodes are drawn from, or `None` outside within-group mode.
    pub fn eligible_groups(&self) -> Option<Vec<&str>> {
        self.pool
            .groups
            .as_ref()
            .map(|groups| groups.iter().map(|group| group.name.as_str()).collect())
    }
}

/// Draws an episode of the given shape from a pool whose classes all have at least
/// `k_shot + q_query` items and which has at least `n_way` classes (in every eligible group).
pub(crate) fn draw_episode<L: Clone, R: Rng + ?Sized>(
    pool: &ClassPool<L>,
    n_way: usize,
    k_shot: usize,
    q_query: usize,
    rng: &mut R,
) -> Episode<L> {
    let need = k_shot + q_query;

    // `index::sample` returns distinct positions in random order, which is the draw order.
    let classes: Vec<usize> = match &pool.groups {
        Some(groups) => {
            let group = &groups[rng.random_range(0..groups.len())];
            index::sample(rng, group.classes.len(), n_way)
                .iter()
                .map(|position| group.classes[position])
                .collect()
        }
        None => index::sample(rng, pool.classes.len(), n_way).into_vec(),
    };

    let mut episode = Episode {
        class_ids: Vec::with_capacity(n_way),
        support: Vec::with_capacity(n_way * k_shot),
        support_labels: Vec::with_capacity(n_way * k_shot),
        query: Vec::with_capacity(n_way * q_query),
        query_labels: Vec::with_capacity(n_way * q_query),
    };
    for (label, &class) in classes.iter().enumerate() {
        let items = &pool.items[class];

        // One draw of distinct positions split in two keeps support and query disjoint.
        let chosen = index::sample(rng, items.len(), need);
        for (rank, position) in chosen.iter().enumerate() {
            let label = label as u32;
            if rank < k_shot {
                episode.support.push(items[position]);
                episode.support_labels.push(label);
            } else {
                episode.query.push(items[position]);
                episode.query_labels.push(label);
            }
        }
        episode.class_ids.push(pool.classes[class].clone());
    }

    episode
}

/// Mixes a stream seed and an episode index into one RNG seed, so nearby seeds and indices
/// give unrelated streams.
pub(crate) fn episode_seed(seed: u64, index: u64) -> u64 {
    crate::seed::mix(&[seed, index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_seed_separates_seed_and_index() {
        assert_ne!(episode_seed(1, 0), episode_seed(0, 1));
        assert_ne!(episode_seed(0, 0), episode_seed(0, 1));
    }
}
