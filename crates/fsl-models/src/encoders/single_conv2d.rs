//! SingleConv2D: one convolution and a global average pooling, a minimal encoder for tests and
//! debugging.

use candle_core::Tensor;
use fsl_layers::ops::Conv2d;
use fsl_layers::params::ParamBuilder;
use serde::{Deserialize, Serialize};

use super::blocks::{expect_min_images, global_average_pool, require_positive};
use crate::Result;
use crate::encoder::Encoder;

/// Side of the convolution kernel, and so the smallest image side.
const KERNEL: usize = 3;

/// Hyper-parameters of [`SingleConv2d`].
///
/// The defaults take grey images and have 100 trainable parameters (90 weights, 10 biases).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SingleConv2dConfig {
    /// Channels of the input images.
    pub in_channels: usize,
    /// Filters of the convolution, the embedding size (published: 10).
    pub filters: usize,
}

impl Default for SingleConv2dConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            filters: 10,
        }
    }
}

impl SingleConv2dConfig {
    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        require_positive("in_channels", self.in_channels, "the number of image channels")?;
        require_positive("filters", self.filters, "the number of filters")
    }
}

/// The SingleConv2D encoder: conv 10@3x3 without padding, with bias and no activation, then the
/// mean of every channel over the image.
///
/// It takes images of any size from 3x3 pixels and has no batch norm or dropout, so training
/// and evaluation modes compute the same function. Its parameters are named `conv`.
#[derive(Debug, Clone)]
pub struct SingleConv2d {
    config: SingleConv2dConfig,
    conv: Conv2d,
}

impl SingleConv2d {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: SingleConv2dConfig, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let conv = Conv2d::init(config.in_channels, config.filters, KERNEL, 1, 0, &params.push("conv"))?;
        Ok(Self { config, conv })
    }
}

impl Encoder for SingleConv2d {
    fn embed(&self, images: &Tensor, _train: bool) -> Result<Tensor> {
        expect_min_images(images, self.config.in_channels, KERNEL, "SingleConv2D")?;

        global_average_pool(&self.conv.forward(images)?)
    }

    fn embedding_size(&self) -> usize {
        self.config.filters
    }
}
