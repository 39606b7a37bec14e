//! Triplets for metric learning: an anchor, a positive of its class and a negative of another.

use std::fmt::Display;
use std::hash::Hash;

use crate::error::Result;
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, batch_count, batch_range, check_batch_size, check_index};
use crate::tables::{LabelTables, PairedTables};

/// A batch of triplets as item indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripletBatch {
    /// Anchor items, indices into the query table.
    pub anchor: Vec<usize>,
    /// Positive items, indices into the support table, each of its anchor's class.
    pub positive: Vec<usize>,
    /// Negative items, indices into the support table, each of a class other than its anchor's.
    pub negative: Vec<usize>,
}

/// Every query item once per epoch as an anchor, anchors shuffled each epoch.
///
/// The positive is drawn uniformly among the support items of the anchor's class, never the
/// anchor itself when the tables are shared. The negative's class is drawn uniformly among the
/// other support classes, then its item uniformly within that class.
#[derive(Debug, Clone)]
pub struct Triplets<L> {
    tables: PairedTables<L>,
    batch_size: usize,
    seed: u64,
    anchor_order: EpochOrder,
}

impl<L> Triplets<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over `tables`, with `batch_size` triplets per batch.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`](crate::Error::InvalidArgument) for `batch_size = 0`.
    /// - [`Error::EmptyTable`](crate::Error::EmptyTable) for a table without items.
    /// - [`Error::NoPositivePartner`](crate::Error::NoPositivePartner) or
    ///   [`Error::NoNegativePartner`](crate::Error::NoNegativePartner) for the first query class
    ///   without a positive or a negative.
    pub fn new(tables: LabelTables<'_, L>, batch_size: usize, seed: u64) -> Result<Self> {
        check_batch_size(batch_size)?;
        let tables = PairedTables::build(tables)?;
        tables.check_partners()?;

        Ok(Self {
            batch_size,
            seed,
            anchor_order: EpochOrder::new(tables.query.len(), seed::mix(&[seed, 0])),
            tables,
        })
    }

    /// Triplets per epoch: one per query item.
    pub fn triplets_per_epoch(&self) -> usize {
        self.tables.query.len()
    }
}

impl<L> Sequence for Triplets<L>
where
    L: Clone + Eq + Hash + Display,
{
    type Batch = TripletBatch;

    fn len(&self) -> usize {
        batch_count(self.triplets_per_epoch(), self.batch_size)
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<TripletBatch> {
        check_index(index, self.len())?;

        let anchors = self.anchor_order.get(epoch);
        let range = batch_range(index, self.batch_size, self.triplets_per_epoch());
        let mut batch = TripletBatch {
            anchor: Vec::with_capacity(range.len()),
            positive: Vec::with_capacity(range.len()),
            negative: Vec::with_capacity(range.len()),
        };
        for position in range {
            let anchor = anchors[position];
            let mut rng = seed::rng(&[self.seed, epoch, position as u64, 4]);

            batch.anchor.push(anchor);
            batch.positive.push(self.tables.draw_positive(anchor, &mut rng));
            batch.negative.push(self.tables.draw_negative(anchor, &mut rng));
        }
        Ok(batch)
    }
}
