//! Episodes whose n-way, k-shot and query count vary from episode to episode.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::ops::RangeInclusive;

use rand::Rng;

use super::options::SamplerOptions;
use super::pool::ClassPool;
use super::sampler::{Episode, draw_episode, episode_seed};
use super::spec::EpisodeSpec;
use crate::draw::{episode_rng, in_range};
use crate::error::{Error, Result};
use crate::tables::LabelTables;

/// Validated ranges of episode shapes, each bound inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EpisodeRanges {
    n_way: RangeInclusive<usize>,
    k_shot: RangeInclusive<usize>,
    q_query: RangeInclusive<usize>,
}

impl EpisodeRanges {
    /// Checks and stores the ranges that each episode draws its shape from.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRange`] naming the first range that is empty, or that starts at zero
    /// for `n_way` and `k_shot`.
    pub fn new(
        n_way: RangeInclusive<usize>,
        k_shot: RangeInclusive<usize>,
        q_query: RangeInclusive<usize>,
    ) -> Result<Self> {
        for (name, range, min) in [("n_way", &n_way, 1), ("k_shot", &k_shot, 1), ("q_query", &q_query, 0)] {
            let (start, end) = (*range.start(), *range.end());
            if start > end {
                return Err(Error::InvalidRange {
                    name,
                    start,
                    end,
                    reason: "the range is empty; give start <= end",
                });
            }
            if start < min {
                return Err(Error::InvalidRange {
                    name,
                    start,
                    end,
                    reason: "an episode needs at least one class and one support item per class",
                });
            }
        }

        Ok(Self { n_way, k_shot, q_query })
    }

    /// Range of classes per episode.
    pub fn n_way(&self) -> &RangeInclusive<usize> {
        &self.n_way
    }

    /// Range of support items per class.
    pub fn k_shot(&self) -> &RangeInclusive<usize> {
        &self.k_shot
    }

    /// Range of query items per class.
    pub fn q_query(&self) -> &RangeInclusive<usize> {
        &self.q_query
    }

    /// The largest shape, which every eligible class and group must be able to serve.
    fn largest(&self) -> Result<EpisodeSpec> {
        EpisodeSpec::new(*self.n_way.end(), *self.k_shot.end(), *self.q_query.end())
    }
}

/// Draws episodes whose `n_way`, `k_shot` and `q_query` are each drawn uniformly from a range,
/// once per episode; within an episode every class has the same `k_shot` and `q_query`.
///
/// Feasibility is checked for the largest shape, so a class needs at least
/// `max k_shot + max q_query` items to be eligible (with skipping on, smaller classes are left
/// out of every episode, even of those that would fit them), and at least `max n_way` classes
/// must remain. In exchange, drawing never fails and never retries.
#[derive(Debug, Clone)]
pub struct VariableEpisodeSampler<L> {
    ranges: EpisodeRanges,
    pool: ClassPool<L>,
}

impl<L> VariableEpisodeSampler<L>
where
    L: Clone + Eq + Hash + Debug + Display,
{
    /// Builds a sampler from one class label per item (the item index is its position).
    ///
    /// # Errors
    ///
    /// The errors of [`EpisodeSampler::new`](super::EpisodeSampler::new) for the largest shape
    /// of `ranges`.
    pub fn new(labels: &[L], ranges: EpisodeRanges, options: SamplerOptions<L>) -> Result<Self> {
        Self::from_tables(LabelTables::shared(labels), ranges, options)
    }

    /// Builds a sampler whose support items come from one table and query items from another,
    /// or from one shared table, as [`EpisodeSampler::from_tables`](super::EpisodeSampler::from_tables)
    /// does.
    ///
    /// # Errors
    ///
    /// The errors of [`EpisodeSampler::from_tables`](super::EpisodeSampler::from_tables) for the
    /// largest shape of `ranges`.
    pub fn from_tables(tables: LabelTables<'_, L>, ranges: EpisodeRanges, options: SamplerOptions<L>) -> Result<Self> {
        let pool = ClassPool::build(tables, &ranges.largest()?, &options)?;

        Ok(Self { ranges, pool })
    }

    /// Draws one episode, shape first, from `rng`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Episode<L> {
        let n_way = in_range(rng, &self.ranges.n_way);
        let k_shot = in_range(rng, &self.ranges.k_shot);
        let q_query = in_range(rng, &self.ranges.q_query);

        draw_episode(&self.pool, n_way, k_shot, q_query, rng)
    }

    /// Draws episode number `index` of the stream identified by `seed`.
    ///
    /// The result depends only on `(seed, index)` and the sampler's input.
    pub fn episode(&self, seed: u64, index: u64) -> Episode<L> {
        let mut rng = episode_rng(episode_seed(seed, index));

        self.sample(&mut rng)
    }

    /// Returns the ranges episode shapes are drawn from.
    pub fn ranges(&self) -> &EpisodeRanges {
        &self.ranges
    }

    /// Classes that episodes may contain, in first-seen order.
    pub fn eligible_classes(&self) -> &[L] {
        &self.pool.classes
    }

    /// Classes excluded for having fewer than `max k_shot + max q_query` items.
    pub fn skipped_classes(&self) -> &[L] {
        &self.pool.skipped
    }
}
