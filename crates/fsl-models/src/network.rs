//! Few-shot networks: an encoder shared by support and query images, and a head that scores each
//! query against the support set (see [`crate::head`] for the families).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use fsl_layers::params::ParamStore;
use fsl_layers::{EpisodeBatch, metrics};

use crate::config::ModelConfig;
use crate::encoder::Encoder;
use crate::head::Head;
use crate::{Error, Result};

const WEIGHTS_FILE: &str = "model.safetensors";
const CONFIG_FILE: &str = "config.json";

/// An encoder followed by a head: a prototypical, matching, relation or siamese network,
/// depending on [`ModelConfig::head`].
///
/// Encoder parameters are named `encoder.*` and head parameters `head.*`, in one store that the
/// optimiser trains and [`save`](Self::save) writes.
pub struct FewShotNetwork {
    config: ModelConfig,
    params: ParamStore,
    encoder: Box<dyn Encoder>,
    head: Head,
}

/// The loss and accuracy of one episode.
#[derive(Debug, Clone)]
pub struct EpisodeOutput {
    /// The head's training loss, a scalar tensor that can be back-propagated.
    pub loss: Tensor,
    /// Fraction of queries whose best-scoring class is their class.
    pub accuracy: f64,
}

impl FewShotNetwork {
    /// Builds a freshly initialised network on the CPU.
    pub fn new(config: ModelConfig) -> Result<Self> {
        let params = ParamStore::new(config.seed, DType::F32, &Device::Cpu);
        let encoder: Box<dyn Encoder> = config.encoder.build(&params.builder().push("encoder"))?;
        let head = Head::new(&config.head, encoder.embedding_size(), &params.builder().push("head"))?;
        Ok(Self {
            config,
            params,
            encoder,
            head,
        })
    }

    /// Returns the configuration the network was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Returns the parameters, for optimisers and checkpoints.
    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// Returns the encoder.
    pub fn encoder(&self) -> &dyn Encoder {
        self.encoder.as_ref()
    }

    /// Returns the head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Embeds a batch of images.
    pub fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        self.undo_buffers_on_error(train, || self.encoder.embed(images, train))
    }

    /// Computes the `Q x n_way` class scores of the queries of an episode (the largest score is
    /// the prediction).
    ///
    /// Support and query images go through the encoder as one batch, so that in training mode
    /// batch normalisation sees the statistics of the whole episode.
    pub fn class_scores(&self, episode: &EpisodeBatch, train: bool) -> Result<Tensor> {
        self.undo_buffers_on_error(train, || {
            let (query, support) = self.embed_episode(episode, train)?;
            self.head
                .class_scores(&query, &support, &episode.support_labels, episode.n_way)
        })
    }

    /// Computes the loss and accuracy of an episode.
    pub fn episode(&self, episode: &EpisodeBatch, train: bool) -> Result<EpisodeOutput> {
        // Checked before the encoder runs, because in training mode it updates batch-norm
        // statistics that a rejected episode must leave alone.
        if episode.query_labels.is_empty() {
            return Err(Error::InvalidConfig {
                name: "query",
                value: "0 images".into(),
                reason: "an episode needs at least one query image to compute a loss and an accuracy".into(),
            });
        }

        self.undo_buffers_on_error(train, || {
            let (query, support) = self.embed_episode(episode, train)?;
            let output = self.head.output(
                &query,
                &support,
                &episode.support_labels,
                &episode.query_labels,
                episode.n_way,
            )?;
            let accuracy = metrics::accuracy(&output.scores, &episode.query_labels, false)?;
            Ok(EpisodeOutput {
                loss: output.loss,
                accuracy,
            })
        })
    }

    /// Runs `forward` and, in training mode, puts the buffers back as they were when it fails.
    ///
    /// In training mode every batch norm updates its running statistics as the batch passes it,
    /// so a batch rejected deeper in the network, or by the loss (NaN scores), would otherwise
    /// leave the earlier ones changed.
    fn undo_buffers_on_error<T>(&self, train: bool, forward: impl FnOnce() -> Result<T>) -> Result<T> {
        if !train {
            return forward();
        }
        let snapshot = self.params.snapshot_buffers()?;
        let result = forward();
        if result.is_err() {
            self.params.restore_buffers(&snapshot)?;
        }
        result
    }

    /// Returns the query and support embeddings of an episode.
    fn embed_episode(&self, episode: &EpisodeBatch, train: bool) -> Result<(Tensor, Tensor)> {
        episode.validate()?;

        let support_count = episode.support_labels.len();
        let images = Tensor::cat(&[&episode.support, &episode.query], 0)?;
        let embeddings = self.encoder.embed(&images, train)?;
        let support = embeddings.narrow(0, 0, support_count)?;
        let query = embeddings.narrow(0, support_count, episode.query_labels.len())?;
        Ok((query, support))
    }

    /// Writes `model.safetensors` and `config.json` into `dir`, creating it if needed.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;

        let config_path = dir.join(CONFIG_FILE);
        let json = serde_json::to_string_pretty(&self.config).map_err(|source| Error::Config {
            path: config_path.clone(),
            source,
        })?;
        std::fs::write(&config_path, json).map_err(|e| Error::io("write", &config_path, e))?;
        Ok(self.params.save(&dir.join(WEIGHTS_FILE))?)
    }

    /// Loads a network written by [`save`](Self::save).
    pub fn load(dir: &Path) -> Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        let json = std::fs::read_to_string(&config_path).map_err(|e| Error::io("read", &config_path, e))?;
        let config: ModelConfig = serde_json::from_str(&json).map_err(|source| Error::Config {
            path: config_path,
            source,
        })?;

        let network = Self::new(config)?;
        network.params.load(&dir.join(WEIGHTS_FILE))?;
        Ok(network)
    }
}
