//! KochNet, the encoder of the siamese one-shot network of Koch, Zemel and Salakhutdinov (2015),
//! "Siamese Neural Networks for One-shot Image Recognition".

use candle_core::Tensor;
use fsl_layers::ops::{Conv2d, MaxPool2d};
use fsl_layers::params::ParamBuilder;
use serde::{Deserialize, Serialize};

use super::blocks::{Dense, expect_square_images, require_positive};
use crate::encoder::Encoder;
use crate::{Error, Result};

/// Kernel sides of the four valid (unpadded) convolutions.
const KERNELS: [usize; 4] = [10, 7, 4, 4];

/// Hyper-parameters of [`KochNet`].
///
/// The defaults are the published network on 105x105 grey images: 38,947,648 trainable
/// parameters, of which 37,752,832 are in the dense layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KochNetConfig {
    /// Channels of the input images (1 for Omniglot).
    pub in_channels: usize,
    /// Side of the square input images in pixels, at least 65.
    pub image_size: usize,
    /// Filters of the four convolutions (published: 64, 128, 128, 256).
    pub channels: [usize; 4],
    /// Units of the final dense layer, the embedding size (published: 4096).
    pub embedding_size: usize,
}

impl Default for KochNetConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            image_size: 105,
            channels: [64, 128, 128, 256],
            embedding_size: 4096,
        }
    }
}

impl KochNetConfig {
    /// Returns the side of the last feature map, or `None` when the image is too small for the
    /// four convolutions and three poolings.
    pub fn feature_side(&self) -> Option<usize> {
        let mut side = self.image_size;
        for (index, kernel) in KERNELS.into_iter().enumerate() {
            side = (side + 1).checked_sub(kernel).filter(|&side| side > 0)?;
            if index < 3 {
                side = Some(side / 2).filter(|&side| side > 0)?;
            }
        }
        Some(side)
    }

    /// Returns the smallest image side the network accepts: 65 pixels.
    pub fn min_image_size() -> usize {
        let mut side = KERNELS[3];
        for kernel in KERNELS[..3].iter().rev() {
            side = 2 * side + kernel - 1;
        }
        side
    }

    /// Returns the number of inputs of the dense layer: the flattened last feature map.
    fn flattened_size(&self) -> usize {
        let side = self.feature_side().unwrap_or(0);
        self.channels[3] * side * side
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        require_positive("in_channels", self.in_channels, "the number of image channels")?;
        for filters in self.channels {
            require_positive("channels", filters, "every convolution's number of filters")?;
        }
        require_positive("embedding_size", self.embedding_size, "the embedding size")?;
        if self.feature_side().is_none() {
            return Err(Error::InvalidConfig {
                name: "image_size",
                value: self.image_size.to_string(),
                reason: format!(
                    "four valid convolutions (10, 7, 4 and 4 pixels) and three 2x2 poolings need images of at least {0}x{0} pixels",
                    Self::min_image_size()
                ),
            });
        }
        Ok(())
    }
}

/// The KochNet encoder: conv 64@10x10, conv 128@7x7 and conv 128@4x4, each with ReLU and 2x2
/// max pooling, then conv 256@4x4 with ReLU, flatten, and dense 4096 with sigmoid.
///
/// Convolutions are unpadded with stride 1 and have biases. Weights start from PyTorch's default
/// initialisation, not the normal distributions of the paper. The network has no batch norm or
/// dropout, so training and evaluation modes compute the same function. Parameters are named
/// `conv0` to `conv3` and `dense`.
#[derive(Debug, Clone)]
pub struct KochNet {
    config: KochNetConfig,
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    dense: Dense,
}

impl KochNet {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: KochNetConfig, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let mut convs = Vec::with_capacity(4);
        let mut in_channels = config.in_channels;
        for (index, (kernel, filters)) in KERNELS.into_iter().zip(config.channels).enumerate() {
            convs.push(Conv2d::init(
                in_channels,
                filters,
                kernel,
                1,
                0,
                &params.push(&format!("conv{index}")),
            )?);
            in_channels = filters;
        }
        let dense = Dense::new(config.flattened_size(), config.embedding_size, &params.push("dense"))?;
        Ok(Self {
            config,
            convs,
            pool: MaxPool2d::new(2)?,
            dense,
        })
    }
}

impl Encoder for KochNet {
    fn embed(&self, images: &Tensor, _train: bool) -> Result<Tensor> {
        expect_square_images(images, self.config.in_channels, self.config.image_size, "KochNet")?;

        let mut xs = images.clone();
        for (index, conv) in self.convs.iter().enumerate() {
            xs = conv.forward(&xs)?.relu()?;
            if index < 3 {
                xs = self.pool.forward(&xs)?;
            }
        }
        Ok(candle_nn::ops::sigmoid(&self.dense.forward(&xs.flatten_from(1)?)?)?)
    }

    fn embedding_size(&self) -> usize {
        self.config.embedding_size
    }
}
