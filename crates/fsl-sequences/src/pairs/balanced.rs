//! Balanced pairs: every query in a fixed, even number of pairs, half of them matching.

use std::fmt::Display;
use std::hash::Hash;

use rand::RngExt;
use rand::seq::index;

use super::PairBatch;
use crate::error::{Error, Result};
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, batch_count, batch_range, check_batch_size, check_index};
use crate::tables::{LabelTables, PairedTables};

/// Puts every query item, queries shuffled each epoch, in `pairs_per_query / 2` matching and
/// as many non-matching pairs.
///
/// A query's pairs are consecutive and alternate matching and non-matching, starting with a
/// matching one. The positive partners are distinct support items of the query's class (never
/// the query itself when the tables are shared), drawn with replacement only when the class has
/// fewer than `pairs_per_query / 2` of them. Each negative partner's class is drawn uniformly
/// among the other support classes, then its item uniformly within that class. With an even
/// batch size every batch has exactly half matching pairs.
#[derive(Debug, Clone)]
pub struct BalancedPairs<L> {
    tables: PairedTables<L>,
    pairs_per_query: usize,
    batch_size: usize,
    seed: u64,
    query_order: EpochOrder,
}

impl<L> BalancedPairs<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over `tables`, with `pairs_per_query` pairs for each query item and
    /// `batch_size` pairs per batch.
    ///
    /// # Errors
    ///
    /// - [`Error::OddPairsPerQuery`] for an odd `pairs_per_query` and
    ///   [`Error::InvalidArgument`] for zero.
    /// - [`Error::InvalidArgument`] for `batch_size = 0` and [`Error::OddBatchSize`] for an odd
    ///   one.
    /// - [`Error::EmptyTable`] for a table without items.
    /// - [`Error::NoPositivePartner`] or [`Error::NoNegativePartner`] for the first query class
    ///   that cannot form a matching or a non-matching pair.
    pub fn new(tables: LabelTables<'_, L>, pairs_per_query: usize, batch_size: usize, seed: u64) -> Result<Self> {
        if pairs_per_query == 0 {
            return Err(Error::InvalidArgument {
                name: "pairs_per_query",
                value: pairs_per_query,
                reason: "every query needs at least one matching and one non-matching pair",
            });
        }
        if !pairs_per_query.is_multiple_of(2) {
            return Err(Error::OddPairsPerQuery { pairs_per_query });
        }

        check_batch_size(batch_size)?;
        if !batch_size.is_multiple_of(2) {
            return Err(Error::OddBatchSize { batch_size });
        }

        let tables = PairedTables::build(tables)?;
        tables.check_partners()?;

        Ok(Self {
            pairs_per_query,
            batch_size,
            seed,
            query_order: EpochOrder::new(tables.query.len(), seed::mix(&[seed, 0])),
            tables,
        })
    }

    /// Pairs per epoch: `pairs_per_query` for every query item.
    pub fn pairs_per_epoch(&self) -> usize {
        self.tables.query.len() * self.pairs_per_query
    }

    /// Draws the positive and the negative partners of `query`, in pair order.
    fn partners(&self, query: usize, epoch: u64, position: usize) -> (Vec<usize>, Vec<usize>) {
        let half = self.pairs_per_query / 2;
        let mut rng = seed::rng(&[self.seed, epoch, position as u64, 2]);

        let available = self.tables.positive_count(query);
        let positives: Vec<usize> = if available >= half {
            index::sample(&mut rng, available, half)
                .iter()
                .map(|rank| self.tables.positive(query, rank))
                .collect()
        } else {
            (0..half)
                .map(|_| self.tables.positive(query, rng.random_range(0..available)))
                .collect()
        };

        let negatives = (0..half).map(|_| self.tables.draw_negative(query, &mut rng)).collect();
        (positives, negatives)
    }
}

impl<L> Sequence for BalancedPairs<L>
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

        // A batch may start or end inside a query's run of pairs, so the partners of each query
        // are drawn whole and the batch takes the slice it covers.
        let mut current: Option<(usize, Vec<usize>, Vec<usize>)> = None;
        for pair in range {
            let position = pair / self.pairs_per_query;
            let query = queries[position];
            if current.as_ref().is_none_or(|(cached, _, _)| *cached != position) {
                let (positives, negatives) = self.partners(query, epoch, position);
                current = Some((position, positives, negatives));
            }
            let (_, positives, negatives) = current.as_ref().expect("filled above");

            let rank = pair % self.pairs_per_query;
            if rank.is_multiple_of(2) {
                batch.push(query, positives[rank / 2], true);
            } else {
                batch.push(query, negatives[rank / 2], false);
            }
        }
        Ok(batch)
    }
}
