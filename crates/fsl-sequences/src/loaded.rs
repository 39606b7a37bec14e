//! Batches of pairs, triplets, k-shot classes and single images with their images as tensors,
//! as a [`ParallelLoader`](crate::ParallelLoader) delivers them.
//!
//! Every image tensor is `len x 1 x H x W`, row `i` being item `i` of the matching index list.

use candle_core::Tensor;

use crate::error::Result;
use crate::kshot::KShotBatch;
use crate::loadable::{ImageSide, LoadableBatch, split_inputs};
use crate::pairs::{PairBatch, ProductBatch};
use crate::single::SingleBatch;
use crate::triplet::TripletBatch;

/// A [`PairBatch`] with its images.
#[derive(Debug, Clone)]
pub struct LoadedPairs {
    /// Query image of each pair, from the query images.
    pub query: Tensor,
    /// Support image of each pair, from the support images.
    pub support: Tensor,
    /// The index-level batch, with the items and targets.
    pub batch: PairBatch,
}

impl LoadableBatch for PairBatch {
    type Loaded = LoadedPairs;

    fn inputs(&self) -> Vec<(ImageSide, &[usize])> {
        vec![(ImageSide::Query, &self.query), (ImageSide::Support, &self.support)]
    }

    fn assemble(self, images: Vec<Tensor>) -> Result<LoadedPairs> {
        let [query, support] = split_inputs(images)?;

        Ok(LoadedPairs {
            query,
            support,
            batch: self,
        })
    }
}

/// A [`ProductBatch`] with its images.
#[derive(Debug, Clone)]
pub struct LoadedProduct {
    /// Query image of each pair, from the query images.
    pub query: Tensor,
    /// Support image of each pair, from the support images.
    pub support: Tensor,
    /// The index-level batch, with the items and targets.
    pub batch: ProductBatch,
}

impl LoadableBatch for ProductBatch {
    type Loaded = LoadedProduct;

    fn inputs(&self) -> Vec<(ImageSide, &[usize])> {
        vec![(ImageSide::Query, &self.query), (ImageSide::Support, &self.support)]
    }

    fn assemble(self, images: Vec<Tensor>) -> Result<LoadedProduct> {
        let [query, support] = split_inputs(images)?;

        Ok(LoadedProduct {
            query,
            support,
            batch: self,
        })
    }
}

/// A [`TripletBatch`] with its images.
#[derive(Debug, Clone)]
pub struct LoadedTriplets {
    /// Anchor images, from the query images.
    pub anchor: Tensor,
    /// Positive images, from the support images.
    pub positive: Tensor,
    /// Negative images, from the support images.
    pub negative: Tensor,
    /// The index-level batch, with the items.
    pub batch: TripletBatch,
}

impl LoadableBatch for TripletBatch {
    type Loaded = LoadedTriplets;

    fn inputs(&self) -> Vec<(ImageSide, &[usize])> {
        vec![
            (ImageSide::Query, &self.anchor),
            (ImageSide::Support, &self.positive),
            (ImageSide::Support, &self.negative),
        ]
    }

    fn assemble(self, images: Vec<Tensor>) -> Result<LoadedTriplets> {
        let [anchor, positive, negative] = split_inputs(images)?;

        Ok(LoadedTriplets {
            anchor,
            positive,
            negative,
            batch: self,
        })
    }
}

/// A [`KShotBatch`] with its images.
#[derive(Debug, Clone)]
pub struct LoadedKShot<L> {
    /// The images, class-major, from the support images.
    pub images: Tensor,
    /// The index-level batch, with the items, their labels and the class id of each label.
    pub batch: KShotBatch<L>,
}

impl<L: Send + 'static> LoadableBatch for KShotBatch<L> {
    type Loaded = LoadedKShot<L>;

    fn inputs(&self) -> Vec<(ImageSide, &[usize])> {
        vec![(ImageSide::Support, &self.items)]
    }

    fn assemble(self, images: Vec<Tensor>) -> Result<LoadedKShot<L>> {
        let [images] = split_inputs(images)?;

        Ok(LoadedKShot { images, batch: self })
    }
}

/// A [`SingleBatch`] with its images.
#[derive(Debug, Clone)]
pub struct LoadedSingles {
    /// The images, from the support images.
    pub images: Tensor,
    /// The index-level batch, with the items and targets.
    pub batch: SingleBatch,
}

impl LoadableBatch for SingleBatch {
    type Loaded = LoadedSingles;

    fn inputs(&self) -> Vec<(ImageSide, &[usize])> {
        vec![(ImageSide::Support, &self.items)]
    }

    fn assemble(self, images: Vec<Tensor>) -> Result<LoadedSingles> {
        let [images] = split_inputs(images)?;

        Ok(LoadedSingles { images, batch: self })
    }
}
