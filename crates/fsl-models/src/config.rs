//! Serialisable model configurations, so that an experiment is a file rather than code.

use serde::{Deserialize, Serialize};

use crate::conv4::Conv4Config;
use crate::encoders::{
    BasicCnnConfig, Darknet7Config, Darknet53Config, KochNetConfig, ResNet12Config, SingleConv2dConfig,
};
use crate::head::HeadConfig;

/// The encoder of a model and its hyper-parameters.
///
/// Fields left out of a configuration file take the values of the encoder's `Default`, the
/// published architecture on the images it was published for.
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

/// Everything needed to rebuild a model: its encoder, its head and the seed of its initial
/// weights.
///
/// Every field may be left out when deserialising: the encoder defaults to Conv-4 on 28x28
/// grayscale images, the head to prototypical and the seed to 0. A siamese network of Koch et
/// al. in JSON:
///
/// ```
/// use fsl_models::{EncoderConfig, HeadConfig, KernelConfig, ModelConfig};
///
/// let json = r#"{
///     "encoder": { "kind": "koch_net" },
///     "head": { "kind": "siamese", "kernel": { "kind": "dense_sigmoid" } },
///     "seed": 3
/// }"#;
/// let config: ModelConfig = serde_json::from_str(json).unwrap();
/// assert!(matches!(config.encoder, EncoderConfig::KochNet(_)));
/// assert_eq!(config.head, HeadConfig::Siamese { kernel: KernelConfig::DenseSigmoid });
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The encoder.
    pub encoder: EncoderConfig,
    /// The head that scores queries against the support set.
    pub head: HeadConfig,
    /// Seed of the initial weights.
    pub seed: u64,
}
