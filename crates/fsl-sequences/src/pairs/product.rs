//! Product sequences: every pair of two item sets, shuffled for training or in a fixed order
//! for prediction.

use std::fmt::Display;
use std::hash::Hash;

use super::PairBatch;
use crate::error::{Error, Result};
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, batch_count, batch_range, check_batch_size, check_index};
use crate::tables::{ClassIndex, LabelTables, PairedTables};

/// All `N x N` ordered pairs of one table's items, self-pairs included, in a new random order
/// every epoch; the target is whether the two labels match.
///
/// The epoch's order is a shuffle of `N * N` positions held in memory, 8 bytes per pair.
#[derive(Debug, Clone)]
pub struct RandomProduct<L> {
    index: ClassIndex<L>,
    batch_size: usize,
    order: EpochOrder,
}

impl<L> RandomProduct<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over the items of `labels`, with `batch_size` pairs per batch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `batch_size = 0` or when `N * N` overflows `usize`, and
    /// [`Error::EmptyTable`] for empty labels.
    pub fn new(labels: &[L], batch_size: usize, seed: u64) -> Result<Self> {
        check_batch_size(batch_size)?;
        if labels.is_empty() {
            return Err(Error::EmptyTable { table: "labels" });
        }
        let Some(pairs) = labels.len().checked_mul(labels.len()) else {
            return Err(Error::InvalidArgument {
                name: "labels.len()",
                value: labels.len(),
                reason: "the number of pairs, its square, overflows usize",
            });
        };

        Ok(Self {
            index: ClassIndex::build(labels),
            batch_size,
            order: EpochOrder::new(pairs, seed::mix(&[seed, 0])),
        })
    }

    /// Pairs per epoch: `N * N`.
    pub fn pairs_per_epoch(&self) -> usize {
        self.index.len() * self.index.len()
    }
}

impl<L> Sequence for RandomProduct<L>
where
    L: Clone + Eq + Hash + Display,
{
    type Batch = PairBatch;

    fn len(&self) -> usize {
        batch_count(self.pairs_per_epoch(), self.batch_size)
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<PairBatch> {
        check_index(index, self.len())?;

        let order = self.order.get(epoch);
        let items = self.index.len();
        let range = batch_range(index, self.batch_size, self.pairs_per_epoch());
        let mut batch = PairBatch::with_capacity(range.len());
        for position in range {
            let pair = order[position];
            let (query, support) = (pair / items, pair % items);
            let matching = self.index.class_of[query] == self.index.class_of[support];
            batch.push(query, support, matching);
        }
        Ok(batch)
    }
}

/// A batch of (query, support) pairs for prediction, with targets when query labels are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductBatch {
    /// Query item of each pair, an index into the query items.
    pub query: Vec<usize>,
    /// Support item of each pair, an index into the support items.
    pub support: Vec<usize>,
    /// Whether the two items of each pair share a class, or `None` for unlabelled queries.
    pub targets: Option<Vec<bool>>,
}

/// Every (query, support) pair exactly once, in query-major order: pair `p` is query
/// `p / supports` with support `p % supports`. The order is the same in every epoch.
///
/// This is the prediction sequence: scoring each pair and reading the scores back as a
/// `queries x supports` matrix gives every query's scores against the support set.
#[derive(Debug, Clone)]
pub struct Product<L> {
    queries: usize,
    supports: usize,
    batch_size: usize,
    tables: Option<PairedTables<L>>,
}

impl Product<()> {
    /// Pairs `queries` unlabelled query items with `supports` support items; batches carry no
    /// targets.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `batch_size = 0` or when `queries * supports` overflows
    /// `usize`, and [`Error::EmptyTable`] when either count is zero.
    pub fn new(queries: usize, supports: usize, batch_size: usize) -> Result<Self> {
        Self::build(queries, supports, batch_size, None)
    }
}

impl<L> Product<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Pairs the items of two labelled tables (or of one table with itself); batches carry
    /// targets.
    ///
    /// # Errors
    ///
    /// As [`Product::new`].
    pub fn labelled(tables: LabelTables<'_, L>, batch_size: usize) -> Result<Self> {
        let tables = PairedTables::build(tables)?;

        Self::build(tables.query.len(), tables.support().len(), batch_size, Some(tables))
    }
}

impl<L> Product<L> {
    fn build(queries: usize, supports: usize, batch_size: usize, tables: Option<PairedTables<L>>) -> Result<Self> {
        check_batch_size(batch_size)?;
        if queries == 0 {
            return Err(Error::EmptyTable { table: "query" });
        }
        if supports == 0 {
            return Err(Error::EmptyTable { table: "support" });
        }
        if queries.checked_mul(supports).is_none() {
            return Err(Error::InvalidArgument {
                name: "queries * supports",
                value: queries,
                reason: "the number of pairs overflows usize",
            });
        }

        Ok(Self {
            queries,
            supports,
            batch_size,
            tables,
        })
    }

    /// Pairs per epoch: `queries * supports`.
    pub fn pairs_per_epoch(&self) -> usize {
        self.queries * self.supports
    }
}

impl<L> Sequence for Product<L> {
    type Batch = ProductBatch;

    fn len(&self) -> usize {
        batch_count(self.pairs_per_epoch(), self.batch_size)
    }

    fn batch(&self, _epoch: u64, index: usize) -> Result<ProductBatch> {
        check_index(index, self.len())?;

        let range = batch_range(index, self.batch_size, self.pairs_per_epoch());
        let query: Vec<usize> = range.clone().map(|pair| pair / self.supports).collect();
        let support: Vec<usize> = range.map(|pair| pair % self.supports).collect();
        let targets = self.tables.as_ref().map(|tables| {
            query
                .iter()
                .zip(&support)
                .map(|(&query, &support)| tables.matches(query, support))
                .collect()
        });
        Ok(ProductBatch {
            query,
            support,
            targets,
        })
    }
}
