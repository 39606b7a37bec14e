//! Serialisable model configurations, so that an experiment is a file rather than code.

use serde::{Deserialize, Serialize};

use crate::conv4::Conv4Config;

/// The encoder of a model and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EncoderConfig {
    /// Four blocks of convolution, batch norm, ReLU and max pooling.
    Conv4(Conv4Config),
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self::Conv4(Conv4Config::default())
    }
}

/// Everything needed to rebuild a model: its architecture and the seed of its initial weights.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The encoder.
    pub encoder: EncoderConfig,
    /// Seed of the initial weights.
    pub seed: u64,
}
