//! Serialisable model configurations, so that an experiment is a file rather than code.

use serde::{Deserialize, Serialize};

use crate::conv4::Conv4Config;
use crate::encoders::{
    BasicCnnConfig, Darknet7Config, Darknet53Config, KochNetConfig, ResNet12Config, SingleConv2dConfig,
};

/// The encoder of a model and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EncoderConfig {
    /// Four blocks of convolution, batch norm, ReLU and max pooling.
    Conv4(Conv4Config),
    /// The siamese one-shot encoder of Koch et al. (2015), ending in a dense sigmoid layer.
    KochNet(KochNetConfig),
    /// Two convolutions, a pooling and a dense layer, with dropout.
    BasicCnn(BasicCnnConfig),
    /// One convolution and a global average pooling, for tests.
    SingleConv2d(SingleConv2dConfig),
    /// The tiny-YOLO backbone: seven convolution, batch norm and leaky ReLU blocks.
    Darknet7(Darknet7Config),
    /// The YOLOv3 backbone: five stages of residual convolution blocks.
    Darknet53(Darknet53Config),
    /// Four residual blocks with 64, 160, 320 and 640 filters.
    #[serde(rename = "resnet12")]
    ResNet12(ResNet12Config),
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self::Conv4(Conv4Config::default())
    }
}

/// Everything needed to rebuild a model: its architecture and the seed of its initial weights.
///
/// Both fields may be left out when deserialising: the encoder defaults to Conv-4 on 28x28
/// grayscale images and the seed to 0.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The encoder.
    pub encoder: EncoderConfig,
    /// Seed of the initial weights.
    pub seed: u64,
}
