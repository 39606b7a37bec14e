//! The sequence abstraction: a fixed number of batches per epoch, each computable on its own.

use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};
use crate::seed;

/// An epoch-based source of index-level batches.
///
/// A sequence stores its seed, so batch `index` of epoch `epoch` is a pure function of the
/// sequence's inputs, the seed, `epoch` and `index`. Batches can therefore be computed in any
/// order or on any thread, and an interrupted epoch resumes from `(seed, epoch, index)` with
/// [`Sequence::epoch_from`]. Sequences that shuffle draw a new order for every epoch; ending an
/// epoch means asking for the next epoch number.
pub trait Sequence {
    /// One batch of item indices and targets.
    type Batch;

    /// Batches per epoch.
    fn len(&self) -> usize;

    /// Returns whether an epoch has no batch.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Computes batch `index` of epoch `epoch`.
    ///
    /// # Errors
    ///
    /// [`Error::BatchOutOfRange`] when `index >= self.len()`.
    fn batch(&self, epoch: u64, index: usize) -> Result<Self::Batch>;

    /// Iterates over every batch of `epoch`, in order.
    fn epoch(&self, epoch: u64) -> EpochBatches<'_, Self>
    where
        Self: Sized,
    {
        self.epoch_from(epoch, 0)
    }

    /// Iterates over the batches of `epoch` from batch `start` on, to resume an epoch.
    fn epoch_from(&self, epoch: u64, start: usize) -> EpochBatches<'_, Self>
    where
        Self: Sized,
    {
        EpochBatches {
            sequence: self,
            epoch,
            next: start,
        }
    }
}

/// Iterator over the batches of one epoch, from [`Sequence::epoch`] or [`Sequence::epoch_from`].
#[derive(Debug)]
pub struct EpochBatches<'a, S> {
    sequence: &'a S,
    epoch: u64,
    next: usize,
}

impl<S: Sequence> Iterator for EpochBatches<'_, S> {
    type Item = Result<S::Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.sequence.len() {
            return None;
        }

        let batch = self.sequence.batch(self.epoch, self.next);
        self.next += 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.sequence.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

/// Rejects a batch index outside `0..len`.
pub(crate) fn check_index(index: usize, len: usize) -> Result<()> {
    if index < len {
        return Ok(());
    }

    Err(Error::BatchOutOfRange { index, len })
}

/// Number of batches of at most `batch_size` items that hold `items` items.
pub(crate) fn batch_count(items: usize, batch_size: usize) -> usize {
    items.div_ceil(batch_size)
}

/// Item positions `start..end` of batch `index` when `items` items are cut into batches of
/// `batch_size`; the last batch may be shorter.
pub(crate) fn batch_range(index: usize, batch_size: usize, items: usize) -> std::ops::Range<usize> {
    let start = index * batch_size;
    start..(start + batch_size).min(items)
}

/// Rejects a zero batch size.
pub(crate) fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size > 0 {
        return Ok(());
    }

    Err(Error::InvalidArgument {
        name: "batch_size",
        value: batch_size,
        reason: "a batch needs at least one item",
    })
}

/// The per-epoch shuffle of `0..len`, computed once per epoch and shared by the batches of
/// that epoch.
///
/// Only the most recent epoch is kept: batches are normally requested epoch after epoch, and
/// a request for another epoch recomputes its order from the seed, so the cache never changes
/// a result.
#[derive(Debug)]
pub(crate) struct EpochOrder {
    len: usize,
    seed: u64,
    cache: Mutex<Option<(u64, Arc<Vec<usize>>)>>,
}

impl EpochOrder {
    /// Shuffles `0..len` once per epoch, seeded by `seed` and the epoch.
    pub(crate) fn new(len: usize, seed: u64) -> Self {
        Self {
            len,
            seed,
            cache: Mutex::new(None),
        }
    }

    /// Returns the order of `epoch`.
    pub(crate) fn get(&self, epoch: u64) -> Arc<Vec<usize>> {
        // A panic elsewhere while the lock was held cannot leave a wrong order behind, because
        // the cache is written in one assignment.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((cached_epoch, order)) = cache.as_ref()
            && *cached_epoch == epoch
        {
            return Arc::clone(order);
        }

        let order = Arc::new(seed::permutation(self.len, seed::mix(&[self.seed, epoch])));
        *cache = Some((epoch, Arc::clone(&order)));
        order
    }
}

impl Clone for EpochOrder {
    fn clone(&self) -> Self {
        Self::new(self.len, self.seed)
    }
}
