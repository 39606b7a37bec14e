//! Random balanced pairs: one partner per query, alternately matching and non-matching.

use std::fmt::Display;
use std::hash::Hash;

use super::PairBatch;
use crate::error::{Error, Result};
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, batch_count, batch_range, check_batch_size, check_index};
use crate::tables::{LabelTables, PairedTables};

/// Gives every query item one support partner per epoch, queries shuffled each epoch; pairs at
/// even positions match and pairs at odd positions do not.
///
/// The positive partner is drawn uniformly among the support items of the query's class (never
/// the query itself when the tables are shared). The negative partner's class is drawn
/// uniformly among the other support classes, then its item uniformly within that class.
/// Because the batch size is even, every batch has exactly as many matching as non-matching
/// pairs, except a last batch of odd length, which has one more matching pair.
#[derive(Debug, Clone)]
pub struct RandomBalancedPairs<L> {
    tables: PairedTables<L>,
    batch_size: usize,
    seed: u64,
    query_order: EpochOrder,
}

impl<L> RandomBalancedPairs<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over `tables`, with `batch_size` pairs per batch.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] for `batch_size = 0` and [`Error::OddBatchSize`] for an odd
    ///   one.
    /// - [`Error::EmptyTable`] for a table without items.
    /// - [`Error::NoPositivePartner`] or [`Error::NoNegativePartner`] for the first query class
    ///   that cannot form a matching or a non-matching pair.
    pub fn new(tables: LabelTables<'_, L>, batch_size: usize, seed: u64) -> Result<Self> {
        check_batch_size(batch_size)?;
        if !batch_size.is_multiple_of(2) {
            return Err(Error::OddBatchSize { batch_size });
        }

        let tables = PairedTables::build(tables)?;
        tables.check_partners()?;

        Ok(Self {
            batch_size,
            seed,
            query_order: EpochOrder::new(tables.query.len(), seed::mix(&[seed, 0])),
            tables,
        })
    }

    /// Pairs per epoch: one per query item.
    pub fn pairs_per_epoch(&self) -> usize {
        self.tables.query.len()
    }
}

impl<L> Sequence for RandomBalancedPairs<L>
where
    L: Clone + Eq + Hash + Display,
{
    type Batch = PairBatch;

    fn len(&self) -> usize {
        batch_count(self.pairs_per_epoch(), self.batch_size)
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<PairBatch> {
        check_index(index, self.len())?;

        let queries = self.query_order.get(epoch);
        let range = batch_range(index, self.batch_size, self.pairs_per_epoch());
        let mut batch = PairBatch::with_capacity(range.len());
        for pair in range {
            let query = queries[pair];
            let mut rng = seed::rng(&[self.seed, epoch, pair as u64, 1]);

            let matching = pair.is_multiple_of(2);
            let support = if matching {
                self.tables.draw_positive(query, &mut rng)
            } else {
                self.tables.draw_negative(query, &mut rng)
            };
            batch.push(query, support, matching);
        }
        Ok(batch)
    }
}
