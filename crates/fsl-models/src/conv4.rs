//! Conv-4, the encoder of Vinyals et al. (2016) and Snell et al. (2017): four blocks of 3x3
//! convolution, batch normalisation, ReLU and 2x2 max pooling.

use candle_core::Tensor;
use fsl_layers::ops::{BatchNorm2d, Conv2d, MaxPool2d, conv_norm_relu_pool};
use fsl_layers::params::ParamBuilder;
use serde::{Deserialize, Serialize};

use crate::encoder::Encoder;
use crate::{Error, Result};

/// The implementation of convolution, batch norm and max pooling that a [`Conv4`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The CPU operations of `fsl_layers::ops`, with gradients of their own.
    #[default]
    Fsl,
    /// candle's stock operations and autograd, kept to compare speed and gradients. Its forward
    /// pass is right, but candle 0.11.1's max-pool gradient multiplies every window's gradient
    /// by the fraction of the window at its maximum (a unique maximum of a 2x2 window receives
    /// a quarter), and misplaces windows for sizes that are not a multiple of the stride, so
    /// train with [`Backend::Fsl`].
    Candle,
}

/// Hyper-parameters of [`Conv4`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conv4Config {
    /// Channels of the input images (1 for Omniglot).
    pub in_channels: usize,
    /// Filters of every convolution.
    pub hidden_channels: usize,
    /// Side of the square input images, in pixels.
    pub image_size: usize,
    /// Implementation of the layers; configurations saved without it use [`Backend::Fsl`].
    #[serde(default)]
    pub backend: Backend,
}

impl Default for Conv4Config {
    fn default() -> Self {
        Self {
            in_channels: 1,
            hidden_channels: 64,
            image_size: 28,
            backend: Backend::Fsl,
        }
    }
}

impl Conv4Config {
    /// Returns the embedding size: channels times the spatial size left after four poolings.
    pub fn embedding_size(&self) -> usize {
        let side = (0..4).fold(self.image_size, |side, _| side / 2);
        self.hidden_channels * side * side
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, value: usize, reason: &str| Error::InvalidConfig {
            name,
            value: value.to_string(),
            reason: reason.into(),
        };
        if self.in_channels == 0 {
            return Err(invalid("in_channels", 0, "an image has at least one channel"));
        }
        if self.hidden_channels == 0 {
            return Err(invalid("hidden_channels", 0, "each block needs at least one filter"));
        }
        if self.image_size < 16 {
            return Err(invalid(
                "image_size",
                self.image_size,
                "four 2x2 poolings need images of at least 16x16 pixels",
            ));
        }
        Ok(())
    }
}

/// One block: convolution, batch norm, ReLU, max pooling.
#[derive(Debug, Clone)]
struct Block {
    conv: Conv2d,
    norm: BatchNorm2d,
    pool: MaxPool2d,
    backend: Backend,
}

impl Block {
    fn new(in_channels: usize, out_channels: usize, backend: Backend, params: &ParamBuilder) -> Result<Self> {
        Ok(Self {
            conv: Conv2d::init(in_channels, out_channels, 3, 1, 1, &params.push("conv"))?,
            norm: BatchNorm2d::new(out_channels, &params.push("bn"))?,
            pool: MaxPool2d::new(2)?,
            backend,
        })
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if self.backend == Backend::Candle {
            let xs = self.conv.forward_candle(xs)?;
            let xs = self.norm.forward_candle(&xs, train)?;
            return Ok(self.pool.forward_candle(&xs.relu()?)?);
        }

        // Convolution, batch norm, ReLU and pooling run as one operation.
        Ok(conv_norm_relu_pool(xs, &self.conv, &self.norm, &self.pool, train)?)
    }
}

/// The Conv-4 encoder.
#[derive(Debug, Clone)]
pub struct Conv4 {
    config: Conv4Config,
    blocks: Vec<Block>,
}

impl Conv4 {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: Conv4Config, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let mut blocks = Vec::with_capacity(4);
        let mut in_channels = config.in_channels;
        for index in 0..4 {
            blocks.push(Block::new(
                in_channels,
                config.hidden_channels,
                config.backend,
                &params.push(&format!("block{index}")),
            )?);
            in_channels = config.hidden_channels;
        }
        Ok(Self { config, blocks })
    }
}

impl Encoder for Conv4 {
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        let (_, channels, height, width) = images.dims4()?;
        let expected = (self.config.in_channels, self.config.image_size, self.config.image_size);
        if (channels, height, width) != expected {
            return Err(Error::InvalidConfig {
                name: "image shape",
                value: format!("{channels}x{height}x{width}"),
                reason: format!(
                    "the encoder was built for {}x{}x{} images",
                    expected.0, expected.1, expected.2
                ),
            });
        }

        let mut xs = images.clone();
        for block in &self.blocks {
            xs = block.forward(&xs, train)?;
        }
        Ok(xs.flatten_from(1)?)
    }

    fn embedding_size(&self) -> usize {
        self.config.embedding_size()
    }
}
