//! Index-level episode sampling: which items form the support and query sets.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use rand::Rng;

use super::options::SamplerOptions;
use super::pool::ClassPool;
use super::spec::EpisodeSpec;
use crate::draw::{below, episode_rng, with_scratch};
use crate::error::Result;
use crate::tables::LabelTables;

/// One episode as item indices into the label tables the sampler was built from.
///
/// Episode label `i` stands for class `class_ids[i]`, and the same map applies to the support
/// and the query set. Both sets are class-major: all items of label 0, then label 1, and so on.
/// With [`LabelTables::Separate`] tables, support indices index the support table and query
/// indices the query table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode<L> {
    /// Class ids in the order they were drawn; episode label `i` is `class_ids[i]`.
    pub class_ids: Vec<L>,
    /// Support item indices, `k_shot` per class, class-major.
    pub support: Vec<usize>,
    /// Episode label of each support item, in `0..n_way`.
    pub support_labels: Vec<u32>,
    /// Query item indices, `q_query` per class, class-major; with one shared table never in the
    /// support set.
    pub query: Vec<usize>,
    /// Episode label of each query item, in `0..n_way`.
    pub query_labels: Vec<u32>,
}

/// Draws episodes of a fixed [`EpisodeSpec`] from a list of item labels, or from a support
/// table and a query table.
///
/// Classes are kept in the order they first occur in the labels, so two samplers built from
/// the same numbers typed as `i64`, `u16` or `String` draw the same episodes. Every check runs
/// in [`EpisodeSampler::new`] or [`EpisodeSampler::from_tables`], so drawing never rejects an
/// episode and never fails.
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
        Self::from_tables(LabelTables::shared(labels), spec, options)
    }

    /// Builds a sampler whose support items come from one table and query items from another,
    /// or from one shared table (then it is [`EpisodeSampler::new`]).
    ///
    /// With separate tables, classes are matched by label and kept in the support table's
    /// first-seen order. Each episode class takes `k_shot` distinct support items and
    /// `q_query` distinct query items of that class.
    ///
    /// # Errors
    ///
    /// The errors of [`EpisodeSampler::new`], with groups counted against the support table,
    /// and with separate tables:
    /// - [`Error::EmptyTable`](crate::Error::EmptyTable) for a table without items.
    /// - [`Error::UnmatchedClass`](crate::Error::UnmatchedClass) for the first class that only
    ///   one table has (support-only classes first), unless unmatched classes are skipped.
    /// - [`Error::ClassTooSmallInTable`](crate::Error::ClassTooSmallInTable) for the first class
    ///   with fewer than `k_shot` support or `q_query` query items, unless small classes are
    ///   skipped.
    /// - [`Error::NotEnoughMatchedClasses`](crate::Error::NotEnoughMatchedClasses) when fewer
    ///   than `n_way` classes remain after skipping unmatched ones.
    pub fn from_tables(tables: LabelTables<'_, L>, spec: EpisodeSpec, options: SamplerOptions<L>) -> Result<Self> {
        let pool = ClassPool::build(tables, &spec, &options)?;

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
        let mut rng = episode_rng(episode_seed(seed, index));

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

    /// Classes excluded because only one of the query and support tables has them.
    pub fn unmatched_classes(&self) -> &[L] {
        &self.pool.unmatched
    }

    /// Returns whether support and query items come from one shared table.
    pub fn shares_table(&self) -> bool {
        self.pool.query_items.is_none()
    }

    /// Names of the groups episodes are drawn from, or `None` outside within-group mode.
    pub fn eligible_groups(&self) -> Option<Vec<&str>> {
        self.pool
            .groups
            .as_ref()
            .map(|groups| groups.iter().map(|group| group.name.as_str()).collect())
    }
}

/// Draws an episode of the given shape from a pool whose classes all have enough items for it
/// and which has at least `n_way` classes (in every eligible group).
pub(crate) fn draw_episode<L: Clone, R: Rng + ?Sized>(
    pool: &ClassPool<L>,
    n_way: usize,
    k_shot: usize,
    q_query: usize,
    rng: &mut R,
) -> Episode<L> {
    let mut episode = Episode {
        class_ids: Vec::with_capacity(n_way),
        support: Vec::with_capacity(n_way * k_shot),
        support_labels: Vec::with_capacity(n_way * k_shot),
        query: Vec::with_capacity(n_way * q_query),
        query_labels: Vec::with_capacity(n_way * q_query),
    };

    with_scratch(|scratch| {
        // Distinct positions come out in random order, which is the draw order of the classes.
        let mut classes = std::mem::take(&mut scratch.classes);
        classes.clear();
        match &pool.groups {
            Some(groups) => {
                let group = &groups[below(rng, groups.len())];
                scratch.sample_positions(rng, group.classes.len(), n_way, &mut classes);
                for class in &mut classes {
                    *class = group.classes[*class];
                }
            }
            None => scratch.sample_positions(rng, pool.classes.len(), n_way, &mut classes),
        }

        for (label, &class) in classes.iter().enumerate() {
            match &pool.query_items {
                // One draw of distinct items split in two keeps support and query disjoint.
                None => {
                    let drawn = scratch.sample_values(rng, &pool.items[class], k_shot + q_query);
                    episode.support.extend_from_slice(&drawn[..k_shot]);
                    episode.query.extend_from_slice(&drawn[k_shot..]);
                }
                Some(query_items) => {
                    let support = scratch.sample_values(rng, &pool.items[class], k_shot);
                    episode.support.extend_from_slice(support);
                    let query = scratch.sample_values(rng, &query_items[class], q_query);
                    episode.query.extend_from_slice(query);
                }
            }

            let label = label as u32;
            episode.support_labels.extend(std::iter::repeat_n(label, k_shot));
            episode.query_labels.extend(std::iter::repeat_n(label, q_query));
            episode.class_ids.push(pool.classes[class].clone());
        }

        scratch.classes = classes;
    });

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
