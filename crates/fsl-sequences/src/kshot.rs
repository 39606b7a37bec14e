//! k-shot batches: whole classes of `k_shot` items each, for losses on the batch's Gram matrix.

use std::fmt::Display;
use std::hash::Hash;

use rand::RngExt;
use rand::seq::{SliceRandom, index};

use crate::error::{Error, Result};
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, check_batch_size, check_index};
use crate::tables::ClassIndex;

/// Validated shape of a k-shot batch: `batch_size / k_shot` classes with `k_shot` items each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KShotSpec {
    k_shot: usize,
    batch_size: usize,
    pad_small_classes: bool,
}

impl KShotSpec {
    /// Checks and stores a batch shape; classes with fewer than `k_shot` items are an error
    /// unless [padding](KShotSpec::with_padding) is on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `k_shot = 0` or `batch_size = 0`, and
    /// [`Error::BatchSizeNotMultipleOfKShot`] when `k_shot` does not divide `batch_size`.
    pub fn new(k_shot: usize, batch_size: usize) -> Result<Self> {
        if k_shot == 0 {
            return Err(Error::InvalidArgument {
                name: "k_shot",
                value: k_shot,
                reason: "each class needs at least one item",
            });
        }
        check_batch_size(batch_size)?;
        if !batch_size.is_multiple_of(k_shot) {
            return Err(Error::BatchSizeNotMultipleOfKShot { batch_size, k_shot });
        }

        Ok(Self {
            k_shot,
            batch_size,
            pad_small_classes: false,
        })
    }

    /// Pads classes with fewer than `k_shot` items by drawing their items with replacement.
    pub fn with_padding(mut self, pad: bool) -> Self {
        self.pad_small_classes = pad;
        self
    }

    /// Items per class in a batch.
    pub fn k_shot(&self) -> usize {
        self.k_shot
    }

    /// Items per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Classes per batch: `batch_size / k_shot`.
    pub fn classes_per_batch(&self) -> usize {
        self.batch_size / self.k_shot
    }
}

/// One k-shot batch as item indices, class-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KShotBatch<L> {
    /// Classes of the batch in order; batch label `i` is `class_ids[i]`.
    pub class_ids: Vec<L>,
    /// Item indices, `k_shot` per class, class-major.
    pub items: Vec<usize>,
    /// Batch label of each item, in `0..class_ids.len()`.
    pub labels: Vec<u32>,
}

/// Batches of whole classes: every epoch shuffles the classes and cuts them into groups of
/// `batch_size / k_shot`; each class contributes `k_shot` distinct items.
///
/// An epoch has `classes / classes_per_batch` batches, so each class appears at most once per
/// epoch, and the classes left over after the last full batch wait for a later epoch's shuffle.
#[derive(Debug, Clone)]
pub struct KShotBatches<L> {
    spec: KShotSpec,
    index: ClassIndex<L>,
    seed: u64,
    class_order: EpochOrder,
}

impl<L> KShotBatches<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over one class label per item.
    ///
    /// # Errors
    ///
    /// - [`Error::EmptyTable`] for empty labels.
    /// - [`Error::ClassBelowKShot`] for the first class (in label order) with fewer than
    ///   `k_shot` items, unless padding is on.
    /// - [`Error::NotEnoughClassesForBatch`] when the labels have fewer classes than a batch.
    pub fn new(labels: &[L], spec: KShotSpec, seed: u64) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::EmptyTable { table: "labels" });
        }
        let index = ClassIndex::build(labels);

        if !spec.pad_small_classes
            && let Some((class, items)) = index
                .classes
                .iter()
                .zip(&index.items)
                .find(|(_, items)| items.len() < spec.k_shot)
        {
            return Err(Error::ClassBelowKShot {
                class: class.to_string(),
                have: items.len(),
                k_shot: spec.k_shot,
            });
        }

        let available = index.classes.len();
        if available < spec.classes_per_batch() {
            return Err(Error::NotEnoughClassesForBatch {
                classes_per_batch: spec.classes_per_batch(),
                batch_size: spec.batch_size,
                k_shot: spec.k_shot,
                available,
            });
        }

        Ok(Self {
            spec,
            seed,
            class_order: EpochOrder::new(available, seed::mix(&[seed, 0])),
            index,
        })
    }

    /// Returns the batch shape.
    pub fn spec(&self) -> &KShotSpec {
        &self.spec
    }

    /// Draws `k_shot` items of class `class`: distinct when the class is large enough, else all
    /// of its items followed by draws with replacement.
    fn class_items(&self, class: usize, epoch: u64) -> Vec<usize> {
        let items = &self.index.items[class];
        let k_shot = self.spec.k_shot;
        let mut rng = seed::rng(&[self.seed, epoch, class as u64, 3]);

        if items.len() >= k_shot {
            return index::sample(&mut rng, items.len(), k_shot)
                .iter()
                .map(|position| items[position])
                .collect();
        }

        let mut chosen = items.clone();
        chosen.shuffle(&mut rng);
        while chosen.len() < k_shot {
            chosen.push(items[rng.random_range(0..items.len())]);
        }
        chosen
    }
}

impl<L> Sequence for KShotBatches<L>
where
    L: Clone + Eq + Hash + Display,
{
    type Batch = KShotBatch<L>;

    fn len(&self) -> usize {
        self.index.classes.len() / self.spec.classes_per_batch()
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<KShotBatch<L>> {
        check_index(index, self.len())?;

        let per_batch = self.spec.classes_per_batch();
        let order = self.class_order.get(epoch);
        let classes = &order[index * per_batch..(index + 1) * per_batch];

        let mut batch = KShotBatch {
            class_ids: Vec::with_capacity(per_batch),
            items: Vec::with_capacity(self.spec.batch_size),
            labels: Vec::with_capacity(self.spec.batch_size),
        };
        for (label, &class) in classes.iter().enumerate() {
            batch.class_ids.push(self.index.classes[class].clone());
            batch.items.extend(self.class_items(class, epoch));
            batch.labels.extend(std::iter::repeat_n(label as u32, self.spec.k_shot));
        }
        Ok(batch)
    }
}
