//! Prototypical networks (Snell et al., 2017): queries are classified by the squared Euclidean
//! distance of their embedding to the mean embedding of each class of the support set.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use fsl_layers::params::ParamStore;
use fsl_layers::{EpisodeBatch, Kernel, SquaredL2, centroids, metrics, prototypical_loss};

use crate::config::ModelConfig;
use crate::encoder::Encoder;
use crate::{Error, Result};

const WEIGHTS_FILE: &str = "model.safetensors";
const CONFIG_FILE: &str = "config.json";

/// An encoder followed by the squared-l2 distance to class prototypes.
pub struct PrototypicalNetwork {
    config: ModelConfig,
    params: ParamStore,
    encoder: Box<dyn Encoder>,
}

/// The loss and accuracy of one episode.
#[derive(Debug, Clone)]
pub struct EpisodeOutput {
    /// Mean cross-entropy of the queries, a scalar tensor that can be back-propagated.
    pub loss: Tensor,
    /// Fraction of queries whose nearest prototype is their class.
    pub accuracy: f64,
}

impl PrototypicalNetwork {
    /// Builds a freshly initialised network on the CPU.
    pub fn new(config: ModelConfig) -> Result<Self> {
        let params = ParamStore::new(config.seed, DType::F32, &Device::Cpu);
        let encoder: Box<dyn Encoder> = config.encoder.build(&params.builder().push("encoder"))?;
        Ok(Self {
            config,
            params,
            encoder,
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

    /// Embeds a batch of images.
    pub fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        self.encoder.embed(images, train)
    }

    /// Computes the `Q x n_way` squared distances from each query to each class prototype.
    ///
    /// Support and query images go through the encoder as one batch, so that in training mode
    /// batch normalisation sees the statistics of the whole episode.
    pub fn distances(&self, episode: &EpisodeBatch, train: bool) -> Result<Tensor> {
        episode.validate()?;

        let support_count = episode.support_labels.len();
        let images = Tensor::cat(&[&episode.support, &episode.query], 0)?;
        let embeddings = self.encoder.embed(&images, train)?;
        let support = embeddings.narrow(0, 0, support_count)?;
        let query = embeddings.narrow(0, support_count, episode.query_labels.len())?;

        let prototypes = centroids(&support, &episode.support_labels, episode.n_way)?;
        Ok(SquaredL2.pairwise(&query, &prototypes)?)
    }

    /// Computes the loss and accuracy of an episode.
    pub fn episode(&self, episode: &EpisodeBatch, train: bool) -> Result<EpisodeOutput> {
        let distances = self.distances(episode, train)?;
        let loss = prototypical_loss(&distances, &episode.query_labels)?;
        let accuracy = metrics::accuracy(&distances, &episode.query_labels, true)?;
        Ok(EpisodeOutput { loss, accuracy })
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
