//! Encoders, prototypical networks, episodic training, evaluation and checkpoints.
//!
//! - [`Conv4`]: the four-block convolutional encoder used throughout the few-shot literature.
//! - [`encoders`]: KochNet, BasicCNN, SingleConv2D, Darknet-7, Darknet-53 and ResNet-12, each
//!   selected by a variant of [`EncoderConfig`] and built by [`EncoderConfig::build`].
//! - [`FewShotNetwork`]: an encoder plus squared-l2 distances to class prototypes.
//! - [`train()`]: episodes from any [`EpisodeSource`], with validation and a [`History`] that
//!   writes CSV and a training-curve PNG.
//! - [`callbacks`]: early stopping, saving the best model, and a [`callbacks::Callback`]
//!   trait for custom ones, run by [`train_with_callbacks`].
//! - [`resume`]: [`train_with_checkpoints`] writes a checkpoint folder at every history record
//!   and [`resume_training`] continues from it bit-identically to an uninterrupted run;
//!   [`callbacks::HistoryCsv`] keeps the history on disk as CSV.
//! - [`optim`]: SGD with momentum, Adam and AdamW, step and cosine learning-rate schedules and
//!   gradient clipping, with PyTorch's update rules and defaults.
//! - [`ConfusionMatrix`]: per-class accuracy and confusions from
//!   [`evaluate_embedded_predictions`], which also returns every query's prediction.
//! - [`evaluate()`]: mean accuracy and 95% confidence interval over many episodes, and
//!   [`evaluate_one_shot_runs`] for the official Omniglot one-shot benchmark.
//! - [`FewShotNetwork::save`] / [`FewShotNetwork::load`]: safetensors weights plus a
//!   JSON configuration.
//!
//! # Example
//!
//! Train a small network on synthetic 2-way episodes where class 1 images are bright:
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use fsl_layers::EpisodeBatch;
//! use fsl_models::{Conv4Config, EncoderConfig, FewShotNetwork, HeadConfig, ModelConfig, TrainConfig, train};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ModelConfig {
//!     encoder: EncoderConfig::Conv4(Conv4Config { in_channels: 1, hidden_channels: 8, image_size: 16, ..Default::default() }),
//!     seed: 7,
//!     head: HeadConfig::Prototypical,
//! };
//! let network = FewShotNetwork::new(config)?;
//!
//! let mut source = |index: u64| -> candle_core::Result<EpisodeBatch> {
//!     let images = |count: usize, offset: f64| Tensor::rand(0f32, 1f32, (count, 1, 16, 16), &Device::Cpu)?.affine(0.5, offset);
//!     let support = Tensor::cat(&[images(2, 0.0)?, images(2, 0.5)?], 0)?;
//!     let query = Tensor::cat(&[images(3, 0.0)?, images(3, 0.5)?], 0)?;
//!     Ok(EpisodeBatch { support, support_labels: vec![0, 0, 1, 1], query, query_labels: vec![0, 0, 0, 1, 1, 1], n_way: 2 })
//! };
//!
//! let history = train(&network, &TrainConfig { episodes: 5, ..Default::default() }, &mut source, None)?;
//! assert_eq!(history.records.len(), 1);
//! assert!(history.records[0].train_loss.is_finite());
//! # Ok(())
//! # }
//! ```

mod atomic;
pub mod callbacks;
mod config;
mod confusion;
mod conv4;
mod encoder;
pub mod encoders;
mod error;
pub mod evaluate;
mod font;
pub mod head;
mod history;
mod network;
pub mod optim;
mod progress;
pub mod resume;
mod source;
pub mod train;

pub use config::{EncoderConfig, ModelConfig};
pub use confusion::{ClassAccuracy, ConfusionMatrix};
pub use conv4::{Backend, Conv4, Conv4Config};
pub use encoder::Encoder;
pub use encoders::{
    BasicCnn, BasicCnnConfig, Darknet7, Darknet7Config, Darknet53, Darknet53Config, KochNet, KochNetConfig, ResNet12,
    ResNet12Config, SingleConv2d, SingleConv2dConfig,
};
pub use error::{Error, Result};
pub use evaluate::{
    EvaluationReport, IndexEpisode, OneShotReport, OneShotRunImages, QueryPrediction, embed_all, evaluate,
    evaluate_embedded, evaluate_embedded_predictions, evaluate_one_shot_runs,
};
pub use head::{Head, HeadConfig, HeadOutput, KernelConfig, RelationLoss};
pub use history::{History, HistoryRecord};
pub use network::{EpisodeOutput, FewShotNetwork};
pub use resume::{TrainingCheckpoint, resume_training, train_with_checkpoints};
pub use source::EpisodeSource;
pub use train::{TrainConfig, train, train_with_callbacks};
