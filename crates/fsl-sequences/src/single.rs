//! Single images in table order (or shuffled per epoch), with class targets.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;

use crate::error::{Error, Result};
use crate::seed;
use crate::sequence::{EpochOrder, Sequence, batch_count, batch_range, check_batch_size, check_index};

/// Encoding of a class as a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetEncoding {
    /// The class's position in the class list, as `u32`.
    Codes,
    /// A row of `classes` values, 1 at the class's position and 0 elsewhere.
    OneHot,
}

/// Targets of a batch of single images.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class code of each item.
    Codes(Vec<u32>),
    /// One-hot rows, row-major: item `i`'s row is `values[i * classes..(i + 1) * classes]`.
    OneHot {
        /// Length of a row: the size of the class list.
        classes: usize,
        /// `batch length x classes` values, each 0 or 1.
        values: Vec<f32>,
    },
}

/// A batch of single items with their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct SingleBatch {
    /// Item indices into the labels.
    pub items: Vec<usize>,
    /// Target of each item.
    pub targets: Targets,
}

/// Every item once per epoch, in table order unless [shuffled](SingleImages::shuffled), with
/// targets encoded against a fixed class list.
///
/// The class list fixes the codes, so training and evaluation splits encode a class alike even
/// when their labels occur in different orders. The last batch of an epoch may be shorter.
#[derive(Debug, Clone)]
pub struct SingleImages<L> {
    classes: Vec<L>,
    codes: Vec<u32>,
    encoding: TargetEncoding,
    batch_size: usize,
    order: Option<EpochOrder>,
}

impl<L> SingleImages<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Builds the sequence over `labels`, encoding targets against `classes`.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] for `batch_size = 0`.
    /// - [`Error::EmptyTable`] for empty labels.
    /// - [`Error::DuplicateClass`] for a class listed twice, and [`Error::UnknownClass`] for the
    ///   first label missing from `classes`.
    pub fn new(labels: &[L], classes: &[L], encoding: TargetEncoding, batch_size: usize) -> Result<Self> {
        check_batch_size(batch_size)?;
        if labels.is_empty() {
            return Err(Error::EmptyTable { table: "labels" });
        }

        let mut position: HashMap<&L, u32> = HashMap::with_capacity(classes.len());
        for (code, class) in classes.iter().enumerate() {
            if position.insert(class, code as u32).is_some() {
                return Err(Error::DuplicateClass {
                    class: class.to_string(),
                });
            }
        }

        let mut codes = Vec::with_capacity(labels.len());
        for (item, label) in labels.iter().enumerate() {
            let Some(&code) = position.get(label) else {
                return Err(Error::UnknownClass {
                    label: label.to_string(),
                    item,
                });
            };
            codes.push(code);
        }

        Ok(Self {
            classes: classes.to_vec(),
            codes,
            encoding,
            batch_size,
            order: None,
        })
    }

    /// Shuffles the items anew every epoch, from `seed`.
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.order = Some(EpochOrder::new(self.codes.len(), seed::mix(&[seed, 0])));
        self
    }

    /// Returns the class list that targets are encoded against.
    pub fn classes(&self) -> &[L] {
        &self.classes
    }
}

impl<L> Sequence for SingleImages<L> {
    type Batch = SingleBatch;

    fn len(&self) -> usize {
        batch_count(self.codes.len(), self.batch_size)
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<SingleBatch> {
        check_index(index, self.len())?;

        let range = batch_range(index, self.batch_size, self.codes.len());
        let items: Vec<usize> = match &self.order {
            Some(order) => order.get(epoch)[range].to_vec(),
            None => range.collect(),
        };

        let targets = match self.encoding {
            TargetEncoding::Codes => Targets::Codes(items.iter().map(|&item| self.codes[item]).collect()),
            TargetEncoding::OneHot => {
                let classes = self.classes.len();
                let mut values = vec![0.0; items.len() * classes];
                for (row, &item) in items.iter().enumerate() {
                    values[row * classes + self.codes[item] as usize] = 1.0;
                }
                Targets::OneHot { classes, values }
            }
        };
        Ok(SingleBatch { items, targets })
    }
}
