//! Darknet-7, the backbone of tiny YOLO (Redmon and Farhadi, YOLOv3 "tiny" configuration).

use candle_core::Tensor;
use fsl_layers::params::ParamBuilder;
use serde::{Deserialize, Serialize};

use super::blocks::{ConvNorm, SameMaxPool, expect_min_images, global_average_pool, require_positive};
use crate::encoder::Encoder;
use crate::{Error, Result};

/// Number of convolution blocks.
const BLOCKS: usize = 7;

/// Hyper-parameters of [`Darknet7`].
///
/// The defaults are the published network on 3-channel images: 6,294,416 trainable parameters
/// (6,290,352 convolution weights, 4,064 batch-norm scales and shifts) and 4,064 running
/// statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Darknet7Config {
    /// Channels of the input images.
    pub in_channels: usize,
    /// Filters of the first block. Block `i` has `base_channels · 2^i` (published: 16, so the
    /// last block has 1024).
    pub base_channels: usize,
}

impl Default for Darknet7Config {
    fn default() -> Self {
        Self {
            in_channels: 3,
            base_channels: 16,
        }
    }
}

impl Darknet7Config {
    /// Returns the filters of block `index`.
    fn channels(&self, index: usize) -> usize {
        self.base_channels << index
    }

    /// Returns the embedding size: the filters of the last block.
    pub fn embedding_size(&self) -> usize {
        self.channels(BLOCKS - 1)
    }

    /// Returns the side of the last feature map for an input side: `ceil(side / 32)`.
    pub fn feature_side(&self, image_side: usize) -> usize {
        image_side.div_ceil(32)
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        require_positive("in_channels", self.in_channels, "the number of image channels")?;
        require_positive("base_channels", self.base_channels, "the number of filters")?;
        if self.base_channels.checked_mul(1 << (BLOCKS - 1)).is_none() {
            return Err(Error::InvalidConfig {
                name: "base_channels",
                value: self.base_channels.to_string(),
                reason: "the last block's 64 · base_channels filters overflow".into(),
            });
        }
        Ok(())
    }
}

/// The Darknet-7 encoder: seven blocks of 3x3 convolution (stride 1, padding 1, no bias),
/// batch norm and leaky ReLU 0.1 with 16, 32, ..., 1024 filters. A 2x2 max pooling follows each
/// of the first six blocks, with stride 2 for the first five and stride 1 for the sixth. The
/// last feature map is averaged over its positions into the embedding.
///
/// Poolings pad the bottom and right edges so that they output `ceil(side / stride)` rows and
/// columns, as Darknet and TensorFlow's `padding="same"` do, and a padded value never wins the
/// maximum. The network therefore takes any image size: a 224x224 image gives a 7x7x1024 feature
/// map. The global average pooling is this crate's choice, which keras-fsl leaves out. Blocks
/// are named `block0` to `block6`, each holding `conv` and `bn`.
#[derive(Debug, Clone)]
pub struct Darknet7 {
    config: Darknet7Config,
    blocks: Vec<ConvNorm>,
    pools: Vec<SameMaxPool>,
}

impl Darknet7 {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: Darknet7Config, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let mut blocks = Vec::with_capacity(BLOCKS);
        let mut in_channels = config.in_channels;
        for index in 0..BLOCKS {
            let filters = config.channels(index);
            blocks.push(ConvNorm::new(
                in_channels,
                filters,
                3,
                1,
                &params.push(&format!("block{index}")),
            )?);
            in_channels = filters;
        }
        let pools = [2, 2, 2, 2, 2, 1]
            .into_iter()
            .map(SameMaxPool::new)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, blocks, pools })
    }

    /// Computes the last feature map, `N x 1024 x ceil(H / 32) x ceil(W / 32)` with the default
    /// widths, before the global average pooling.
    pub fn features(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        expect_min_images(images, self.config.in_channels, 1, "Darknet-7")?;

        let mut xs = images.clone();
        for (index, block) in self.blocks.iter().enumerate() {
            xs = block.forward_leaky(&xs, train)?;
            if let Some(pool) = self.pools.get(index) {
                xs = pool.forward(&xs)?;
            }
        }
        Ok(xs)
    }
}

impl Encoder for Darknet7 {
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        global_average_pool(&self.features(images, train)?)
    }

    fn embedding_size(&self) -> usize {
        self.config.embedding_size()
    }
}
