//! Random pairs: both tables shuffled independently each epoch and zipped.

use std::fmt::Display;
use std::hash::Hash;

use super::PairBatch;
use crate::error::Result;
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, batch_count, batch_range, check_batch_size, check_index};
use crate::tables::{LabelTables, PairedTables};

/// Pairs query `i` with support `i` after shuffling queries and supports independently each
/// epoch; the target is whether their labels match.
///
/// An epoch has `min(query items, support items)` pairs, so the longer table contributes a
/// different random subset every epoch. The share of matching pairs follows the class
/// frequencies; use [`RandomBalancedPairs`](super::RandomBalancedPairs) for a fixed share.
#[derive(Debug, Clone)]
pub struct RandomPairs<L> {
    tables: PairedTables<L>,
    batch_size: usize,
    pairs: usize,
    query_order: EpochOrder,
    support_order: EpochOrder,
}

impl<L> RandomPairs<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over `tables`, with `batch_size` pairs per batch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for `batch_size = 0`, and
    /// [`Error::EmptyTable`](crate::Error::EmptyTable) for a table without items.
    pub fn new(tables: LabelTables<'_, L>, batch_size: usize, seed: u64) -> Result<Self> {
        check_batch_size(batch_size)?;
        let tables = PairedTables::build(tables)?;

        let queries = tables.query.len();
        let supports = tables.support().len();
        Ok(Self {
            batch_size,
            pairs: queries.min(supports),
            query_order: EpochOrder::new(queries, seed::mix(&[seed, 0])),
            support_order: EpochOrder::new(supports, seed::mix(&[seed, 1])),
            tables,
        })
    }

    /// Pairs per epoch.
    pub fn pairs_per_epoch(&self) -> usize {
        self.pairs
    }
}

impl<L> Sequence for RandomPairs<L>
where
    L: Clone + Eq + Hash + Display,
{
    type Batch = PairBatch;

    fn len(&self) -> usize {
        batch_count(self.pairs, self.batch_size)
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<PairBatch> {
        check_index(index, self.len())?;

        let queries = self.query_order.get(epoch);
        let supports = self.support_order.get(epoch);
        let range = batch_range(index, self.batch_size, self.pairs);
        let mut batch = PairBatch::with_capacity(range.len());
        for pair in range {
            let (query, support) = (queries[pair], supports[pair]);
            batch.push(query, support, self.tables.matches(query, support));
        }
        Ok(batch)
    }
}
