//! Darknet-53, the backbone of YOLOv3 (Redmon and Farhadi, 2018, "YOLOv3: An Incremental
//! Improvement").

use candle_core::Tensor;
use fsl_layers::params::ParamBuilder;
use serde::{Deserialize, Serialize};

use super::blocks::{ConvNorm, expect_min_images, global_average_pool, require_positive};
use crate::encoder::Encoder;
use crate::{Error, Result};

/// Number of down-sampling stages.
const STAGES: usize = 5;

/// Hyper-parameters of [`Darknet53`].
///
/// The defaults are the published network on 3-channel images: 40,584,928 trainable parameters
/// (40,549,216 convolution weights, 35,712 batch-norm scales and shifts) and 35,712 running
/// statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Darknet53Config {
    /// Channels of the input images.
    pub in_channels: usize,
    /// Filters of the first convolution. Stage `s` has `base_channels · 2^(s+1)` (published: 32,
    /// so the last stage has 1024).
    pub base_channels: usize,
    /// Residual blocks of each of the five stages (published: 1, 2, 8, 8, 4).
    pub residual_blocks: [usize; STAGES],
}

impl Default for Darknet53Config {
    fn default() -> Self {
        Self {
            in_channels: 3,
            base_channels: 32,
            residual_blocks: [1, 2, 8, 8, 4],
        }
    }
}

impl Darknet53Config {
    /// Returns the filters of stage `stage`.
    fn channels(&self, stage: usize) -> usize {
        self.base_channels << (stage + 1)
    }

    /// Returns the embedding size: the filters of the last stage.
    pub fn embedding_size(&self) -> usize {
        self.channels(STAGES - 1)
    }

    /// Returns the side of the last feature map for an input side: `ceil(side / 32)`.
    pub fn feature_side(&self, image_side: usize) -> usize {
        image_side.div_ceil(32)
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        require_positive("in_channels", self.in_channels, "the number of image channels")?;
        require_positive("base_channels", self.base_channels, "the number of filters")?;
        if self.base_channels.checked_mul(1 << STAGES).is_none() {
            return Err(Error::InvalidConfig {
                name: "base_channels",
                value: self.base_channels.to_string(),
                reason: "the last stage's 32 · base_channels filters overflow".into(),
            });
        }
        Ok(())
    }
}

/// A residual block: 1x1 convolution to half the channels, 3x3 convolution back, both with
/// batch norm and leaky ReLU, added to the block's input.
#[derive(Debug, Clone)]
struct Residual {
    reduce: ConvNorm,
    expand: ConvNorm,
}

impl Residual {
    fn new(channels: usize, params: &ParamBuilder) -> Result<Self> {
        Ok(Self {
            reduce: ConvNorm::new(channels, channels / 2, 1, 1, &params.push("reduce"))?,
            expand: ConvNorm::new(channels / 2, channels, 3, 1, &params.push("expand"))?,
        })
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let ys = self.reduce.forward_leaky(xs, train)?;
        let ys = self.expand.forward_leaky(&ys, train)?;
        Ok((xs + ys)?)
    }
}

/// A stage: a 3x3 convolution with stride 2 that doubles the channels, then residual blocks.
#[derive(Debug, Clone)]
struct Stage {
    downsample: ConvNorm,
    residuals: Vec<Residual>,
}

/// The Darknet-53 encoder: a 3x3 convolution with 32 filters, then five stages of a stride-2
/// 3x3 convolution (64, 128, 256, 512 and 1024 filters) followed by 1, 2, 8, 8 and 4 residual
/// blocks. Every convolution has no bias and is followed by batch norm and leaky ReLU 0.1. The
/// last feature map is averaged over its positions into the embedding.
///
/// Convolutions pad by half their kernel on every side, as the Darknet configuration files do
/// (`pad=1`), so each stage outputs `ceil(side / 2)` rows and columns and the network takes any
/// image size: a 224x224 image gives a 7x7x1024 feature map. keras-fsl pads stride-2
/// convolutions only at the top and left, which gives the same result for even sides but one
/// row fewer for odd ones. The global average pooling is this crate's choice, which keras-fsl
/// leaves out. Parameters are named `stem`, then `stage{s}.downsample` and
/// `stage{s}.residual{r}.reduce` / `.expand`, each holding `conv` and `bn`.
#[derive(Debug, Clone)]
pub struct Darknet53 {
    config: Darknet53Config,
    stem: ConvNorm,
    stages: Vec<Stage>,
}

impl Darknet53 {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: Darknet53Config, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let stem = ConvNorm::new(config.in_channels, config.base_channels, 3, 1, &params.push("stem"))?;
        let mut stages = Vec::with_capacity(STAGES);
        let mut in_channels = config.base_channels;
        for (index, &blocks) in config.residual_blocks.iter().enumerate() {
            let channels = config.channels(index);
            let stage_params = params.push(&format!("stage{index}"));
            let residuals = (0..blocks)
                .map(|block| Residual::new(channels, &stage_params.push(&format!("residual{block}"))))
                .collect::<Result<Vec<_>>>()?;
            stages.push(Stage {
                downsample: ConvNorm::new(in_channels, channels, 3, 2, &stage_params.push("downsample"))?,
                residuals,
            });
            in_channels = channels;
        }
        Ok(Self { config, stem, stages })
    }

    /// Computes the last feature map, `N x 1024 x ceil(H / 32) x ceil(W / 32)` with the default
    /// widths, before the global average pooling.
    pub fn features(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        expect_min_images(images, self.config.in_channels, 1, "Darknet-53")?;

        let mut xs = self.stem.forward_leaky(images, train)?;
        for stage in &self.stages {
            xs = stage.downsample.forward_leaky(&xs, train)?;
            for residual in &stage.residuals {
                xs = residual.forward(&xs, train)?;
            }
        }
        Ok(xs)
    }
}

impl Encoder for Darknet53 {
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        global_average_pool(&self.features(images, train)?)
    }

    fn embedding_size(&self) -> usize {
        self.config.embedding_size()
    }
}
