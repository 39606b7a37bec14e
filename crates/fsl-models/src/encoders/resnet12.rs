//! ResNet-12, the residual backbone of most recent few-shot work, as in Lee et al. (2019,
//! "Meta-Learning with Differentiable Convex Optimization", MetaOptNet) and Oreshkin et al.
//! (2018, "TADAM").

use candle_core::Tensor;
use fsl_layers::ops::MaxPool2d;
use fsl_layers::params::ParamBuilder;
use serde::{Deserialize, Serialize};

use super::blocks::{ConvNorm, expect_min_images, global_average_pool, leaky_relu, require_positive};
use crate::Result;
use crate::encoder::Encoder;

/// Number of residual blocks, each ending with a 2x2 pooling.
const BLOCKS: usize = 4;

/// Smallest image side: four 2x2 poolings leave one position from 16 pixels.
const MIN_IMAGE_SIDE: usize = 1 << BLOCKS;

/// Hyper-parameters of [`ResNet12`].
///
/// The defaults are the published network on 3-channel images: 12,424,320 trainable parameters
/// (12,414,848 convolution weights, 9,472 batch-norm scales and shifts) and 9,472 running
/// statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResNet12Config {
    /// Channels of the input images.
    pub in_channels: usize,
    /// Filters of the four blocks (published: 64, 160, 320, 640).
    pub channels: [usize; BLOCKS],
}

impl Default for ResNet12Config {
    fn default() -> Self {
        Self {
            in_channels: 3,
            channels: [64, 160, 320, 640],
        }
    }
}

impl ResNet12Config {
    /// Returns the embedding size: the filters of the last block.
    pub fn embedding_size(&self) -> usize {
        self.channels[BLOCKS - 1]
    }

    /// Returns the side of the last feature map for an input side: `side / 16`, rounded down at
    /// every pooling. An 84x84 image gives 5x5.
    pub fn feature_side(&self, image_side: usize) -> usize {
        image_side >> BLOCKS
    }

    /// Returns the smallest image side the network accepts: 16 pixels.
    pub fn min_image_size() -> usize {
        MIN_IMAGE_SIDE
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        require_positive("in_channels", self.in_channels, "the number of image channels")?;
        for filters in self.channels {
            require_positive("channels", filters, "every block's number of filters")?;
        }
        Ok(())
    }
}

/// A residual block: three 3x3 convolutions with batch norm, leaky ReLU after the first two, a
/// 1x1 convolution with batch norm on the shortcut, leaky ReLU after the sum, then 2x2 max
/// pooling.
#[derive(Debug, Clone)]
struct Block {
    convs: [ConvNorm; 3],
    shortcut: ConvNorm,
}

impl Block {
    fn new(in_channels: usize, out_channels: usize, params: &ParamBuilder) -> Result<Self> {
        Ok(Self {
            convs: [
                ConvNorm::new(in_channels, out_channels, 3, 1, &params.push("conv0"))?,
                ConvNorm::new(out_channels, out_channels, 3, 1, &params.push("conv1"))?,
                ConvNorm::new(out_channels, out_channels, 3, 1, &params.push("conv2"))?,
            ],
            shortcut: ConvNorm::new(in_channels, out_channels, 1, 1, &params.push("shortcut"))?,
        })
    }

    fn forward(&self, xs: &Tensor, train: bool, pool: &MaxPool2d) -> Result<Tensor> {
        let ys = self.convs[0].forward_leaky(xs, train)?;
        let ys = self.convs[1].forward_leaky(&ys, train)?;
        let ys = self.convs[2].forward(&ys, train)?;

        let sum = (ys + self.shortcut.forward(xs, train)?)?;
        Ok(pool.forward(&leaky_relu(&sum)?)?)
    }
}

/// The ResNet-12 encoder: four residual blocks with 64, 160, 320 and 640 filters, each halving
/// the image with a 2x2 max pooling, then the average of the last feature map over its
/// positions.
///
/// Convolutions are 3x3 with padding 1, or 1x1 on the shortcut. They have no bias because batch
/// norm follows every one of them. The activation is leaky ReLU 0.1. The global average pooling follows
/// TADAM and gives a 640-dimensional embedding for any image size from 16x16. MetaOptNet
/// flattens the 5x5x640 map of an 84x84 image instead, which [`ResNet12::features`] returns.
/// DropBlock and dropout are left out, so the only difference between training and evaluation
/// mode is batch norm. Parameters are named `block{b}.conv0` to `.conv2` and `block{b}.shortcut`,
/// each holding `conv` and `bn`.
#[derive(Debug, Clone)]
pub struct ResNet12 {
    config: ResNet12Config,
    blocks: Vec<Block>,
    pool: MaxPool2d,
}

impl ResNet12 {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: ResNet12Config, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let mut blocks = Vec::with_capacity(BLOCKS);
        let mut in_channels = config.in_channels;
        for (index, filters) in config.channels.into_iter().enumerate() {
            blocks.push(Block::new(
                in_channels,
                filters,
                &params.push(&format!("block{index}")),
            )?);
            in_channels = filters;
        }
        Ok(Self {
            config,
            blocks,
            pool: MaxPool2d::new(2)?,
        })
    }

    /// Computes the last feature map, `N x 640 x H/16 x W/16` with the default widths (sides
    /// rounded down at every pooling), before the global average pooling.
    pub fn features(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        expect_min_images(images, self.config.in_channels, MIN_IMAGE_SIDE, "ResNet-12")?;

        let mut xs = images.clone();
        for block in &self.blocks {
            xs = block.forward(&xs, train, &self.pool)?;
        }
        Ok(xs)
    }
}

impl Encoder for ResNet12 {
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        global_average_pool(&self.features(images, train)?)
    }

    fn embedding_size(&self) -> usize {
        self.config.embedding_size()
    }
}
