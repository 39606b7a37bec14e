//! BasicCNN, the small convolutional encoder of keras-fsl: two convolutions, one pooling and a
//! dense layer, with dropout.

use std::sync::Mutex;

use candle_core::Tensor;
use fsl_layers::ops::{Conv2d, MaxPool2d};
use fsl_layers::params::ParamBuilder;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::blocks::{Dense, dropout, expect_square_images, require_positive, validate_dropout};
use crate::encoder::Encoder;
use crate::{Error, Result};

/// Hyper-parameters of [`BasicCnn`].
///
/// The defaults take 28x28 grey images and have 3,221,344 trainable parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicCnnConfig {
    /// Channels of the input images (1 for Omniglot).
    pub in_channels: usize,
    /// Side of the square input images in pixels, at least 2.
    pub image_size: usize,
    /// Filters of both convolutions (published: 32).
    pub conv_channels: usize,
    /// Units of the dense layer, the embedding size (published: 512).
    pub embedding_size: usize,
    /// Dropout rate after the first convolution, in `[0, 1)` (published: 0.2).
    pub conv_dropout: f64,
    /// Dropout rate after the dense layer, in `[0, 1)` (published: 0.5).
    pub dense_dropout: f64,
    /// Seed of the dropout masks drawn in training mode.
    #[serde(default)]
    pub dropout_seed: u64,
}

impl Default for BasicCnnConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            image_size: 28,
            conv_channels: 32,
            embedding_size: 512,
            conv_dropout: 0.2,
            dense_dropout: 0.5,
            dropout_seed: 0,
        }
    }
}

impl BasicCnnConfig {
    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        require_positive("in_channels", self.in_channels, "the number of image channels")?;
        require_positive("conv_channels", self.conv_channels, "the number of filters")?;
        require_positive("embedding_size", self.embedding_size, "the embedding size")?;
        validate_dropout("conv_dropout", self.conv_dropout)?;
        validate_dropout("dense_dropout", self.dense_dropout)?;
        if self.image_size < 2 {
            return Err(Error::InvalidConfig {
                name: "image_size",
                value: self.image_size.to_string(),
                reason: "the 2x2 pooling needs images of at least 2x2 pixels".into(),
            });
        }
        Ok(())
    }
}

/// The BasicCNN encoder: conv 32@3x3 with same padding, ReLU and dropout 0.2, then conv 32@3x3
/// with same padding and ReLU, max-pool 2, flatten, and dense 512 with ReLU and dropout 0.5.
///
/// Dropout is active only when [`Encoder::embed`] is called with `train = true`. Its masks come
/// from a generator seeded with [`BasicCnnConfig::dropout_seed`], so a run repeats exactly when
/// the same passes are made in the same order. [`Encoder::seed_episode`], which training calls
/// before each episode, reseeds the generator from the dropout seed and the episode index, so
/// the masks of a training episode depend on nothing else. Parameters are named `conv0`,
/// `conv1` and `dense`.
#[derive(Debug)]
pub struct BasicCnn {
    config: BasicCnnConfig,
    convs: [Conv2d; 2],
    pool: MaxPool2d,
    dense: Dense,
    rng: Mutex<StdRng>,
}

impl BasicCnn {
    /// Creates the encoder's parameters under `params`.
    pub fn new(config: BasicCnnConfig, params: &ParamBuilder) -> Result<Self> {
        config.validate()?;

        let filters = config.conv_channels;
        let side = config.image_size / 2;
        let convs = [
            Conv2d::init(config.in_channels, filters, 3, 1, 1, &params.push("conv0"))?,
            Conv2d::init(filters, filters, 3, 1, 1, &params.push("conv1"))?,
        ];
        let dense = Dense::new(filters * side * side, config.embedding_size, &params.push("dense"))?;
        Ok(Self {
            rng: Mutex::new(StdRng::seed_from_u64(config.dropout_seed)),
            config,
            convs,
            pool: MaxPool2d::new(2)?,
            dense,
        })
    }
}

impl Encoder for BasicCnn {
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        expect_square_images(images, self.config.in_channels, self.config.image_size, "BasicCNN")?;

        // A poisoned lock only means that another pass panicked, and the generator is still usable.
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut xs = self.convs[0].forward(images)?.relu()?;
        if train {
            xs = dropout(&xs, self.config.conv_dropout, &mut rng)?;
        }

        xs = self.pool.forward(&self.convs[1].forward(&xs)?.relu()?)?;

        let mut embeddings = self.dense.forward(&xs.flatten_from(1)?)?.relu()?;
        if train {
            embeddings = dropout(&embeddings, self.config.dense_dropout, &mut rng)?;
        }
        Ok(embeddings)
    }

    fn embedding_size(&self) -> usize {
        self.config.embedding_size
    }

    fn seed_episode(&self, episode: u64) {
        // The seed and the index fill separate bytes of the key, so no two (seed, episode)
        // pairs share a generator.
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.config.dropout_seed.to_le_bytes());
        key[8..16].copy_from_slice(&episode.to_le_bytes());
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *rng = StdRng::from_seed(key);
    }
}
