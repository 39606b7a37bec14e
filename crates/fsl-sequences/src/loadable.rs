//! The interface between index-level batches and the [`ParallelLoader`](crate::ParallelLoader):
//! the item lists a batch reads, and the assembly of the resulting tensors.

use candle_core::Tensor;
use fsl_layers::EpisodeBatch;

use crate::episode::Episode;
use crate::error::{Error, Result};

/// The side an input of a batch reads from: its images and its augmenter.
///
/// Query inputs read the loader's query images and use the configuration's query augmenter
/// when these are set, and fall back to the support images and the default augmenter
/// otherwise. Support inputs always read the support images with the default augmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageSide {
    /// Support, gallery or single-table items.
    Support,
    /// Query or anchor items.
    Query,
}

/// An index-level batch that a [`ParallelLoader`](crate::ParallelLoader) can turn into tensors.
///
/// Every batch of this crate's sequences implements it. The loader decodes, augments, resizes
/// and stacks the items of each input into one `len x 1 x H x W` tensor, inputs in the order
/// of [`LoadableBatch::inputs`], then calls [`LoadableBatch::assemble`].
pub trait LoadableBatch: Send + 'static {
    /// The batch with its images as tensors.
    type Loaded: Send + 'static;

    /// Item lists of the batch's inputs, in order, each with the side it reads from.
    fn inputs(&self) -> Vec<(ImageSide, &[usize])>;

    /// Builds the loaded batch from one tensor per input, in the order of
    /// [`LoadableBatch::inputs`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLoader`] when the number of tensors differs from the number of inputs.
    fn assemble(self, images: Vec<Tensor>) -> Result<Self::Loaded>;
}

/// Splits the tensors of a batch into exactly `N` inputs.
pub(crate) fn split_inputs<const N: usize>(images: Vec<Tensor>) -> Result<[Tensor; N]> {
    let count = images.len();

    images.try_into().map_err(|_| Error::InvalidLoader {
        reason: format!("got {count} image tensors for a batch with {N} inputs"),
    })
}

impl<L: Send + 'static> LoadableBatch for Episode<L> {
    type Loaded = EpisodeBatch;

    fn inputs(&self) -> Vec<(ImageSide, &[usize])> {
        vec![(ImageSide::Support, &self.support), (ImageSide::Query, &self.query)]
    }

    fn assemble(self, images: Vec<Tensor>) -> Result<EpisodeBatch> {
        let [support, query] = split_inputs(images)?;

        Ok(EpisodeBatch {
            support,
            support_labels: self.support_labels,
            query,
            query_labels: self.query_labels,
            n_way: self.class_ids.len(),
        })
    }
}
