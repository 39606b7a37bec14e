//! The encoders beside Conv-4: KochNet, BasicCNN, SingleConv2D, Darknet-7, Darknet-53 and
//! ResNet-12, and [`EncoderConfig::build`], which builds any encoder from its configuration.
//!
//! Every encoder implements [`Encoder`], takes `N x C x H x W` images and creates its weights
//! through a [`ParamBuilder`]. Batch-norm running statistics are buffers, so they are saved in
//! checkpoints but never handed to the optimiser. `train` in [`Encoder::embed`] selects batch
//! statistics (and updates the running ones) and activates dropout; evaluation mode is
//! deterministic and changes no state.

mod basic_cnn;
mod blocks;
mod darknet53;
mod darknet7;
mod koch_net;
mod resnet12;
mod single_conv2d;

pub use basic_cnn::{BasicCnn, BasicCnnConfig};
pub use darknet7::{Darknet7, Darknet7Config};
pub use darknet53::{Darknet53, Darknet53Config};
pub use koch_net::{KochNet, KochNetConfig};
pub use resnet12::{ResNet12, ResNet12Config};
pub use single_conv2d::{SingleConv2d, SingleConv2dConfig};

use fsl_layers::params::ParamBuilder;

use crate::Result;
use crate::config::EncoderConfig;
use crate::conv4::Conv4;
use crate::encoder::Encoder;

impl EncoderConfig {
    /// Builds the encoder this configuration describes, creating its parameters under `params`.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming the first invalid
    /// value, such as an image size too small for the encoder's poolings.
    pub fn build(&self, params: &ParamBuilder) -> Result<Box<dyn Encoder>> {
        Ok(match self {
            Self::Conv4(config) => Box::new(Conv4::new(config.clone(), params)?),
            Self::KochNet(config) => Box::new(KochNet::new(config.clone(), params)?),
            Self::BasicCnn(config) => Box::new(BasicCnn::new(config.clone(), params)?),
            Self::SingleConv2d(config) => Box::new(SingleConv2d::new(config.clone(), params)?),
            Self::Darknet7(config) => Box::new(Darknet7::new(config.clone(), params)?),
            Self::Darknet53(config) => Box::new(Darknet53::new(config.clone(), params)?),
            Self::ResNet12(config) => Box::new(ResNet12::new(config.clone(), params)?),
        })
    }

    /// Returns the side of the square images the encoder requires, or `None` for the encoders
    /// that end in a global pooling and so take any size their poolings allow.
    pub fn image_size(&self) -> Option<usize> {
        match self {
            Self::Conv4(config) => Some(config.image_size),
            Self::KochNet(config) => Some(config.image_size),
            Self::BasicCnn(config) => Some(config.image_size),
            Self::SingleConv2d(_) | Self::Darknet7(_) | Self::Darknet53(_) | Self::ResNet12(_) => None,
        }
    }

    /// Returns the number of channels of the images the encoder takes.
    pub fn in_channels(&self) -> usize {
        match self {
            Self::Conv4(config) => config.in_channels,
            Self::KochNet(config) => config.in_channels,
            Self::BasicCnn(config) => config.in_channels,
            Self::SingleConv2d(config) => config.in_channels,
            Self::Darknet7(config) => config.in_channels,
            Self::Darknet53(config) => config.in_channels,
            Self::ResNet12(config) => config.in_channels,
        }
    }
}
