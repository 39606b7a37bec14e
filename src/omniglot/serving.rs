//! Serving a trained network: a support set with label names, swappable without reloading the
//! encoder, and predictions with label names and scores from the network's head.

use std::path::Path;

use candle_core::{Device, Tensor};
use fsl_datasets::AnnotationTable;
use fsl_datasets::decode::{decode_luma8_named, gray_to_f32};
use fsl_layers::Prediction;
use fsl_models::{FewShotNetwork, HeadConfig};

use super::run_config::{RunConfig, encoder_image_size};
use crate::{Error, Result};

/// Images embedded per encoder call, so that a large support set needs bounded memory.
const EMBED_BATCH: usize = 256;

/// A saved network ready to label images against a support set.
///
/// A query gets the label its network's head scores best. For a prototypical network the
/// scores are squared Euclidean distances to each label's prototype, the mean embedding of its
/// support images, so lower is closer. A siamese network with a distance kernel gives the mean
/// distance to the label's images. Every other head gives its class scores, where higher is
/// closer. [`score_name`](Self::score_name) names the kind.
pub struct FewShotClassifier {
    network: FewShotNetwork,
    image_size: u32,
    invert: bool,
    support: Option<SupportSet>,
}

/// The embedded support images, the code of each one's label, and the label names by code.
struct SupportSet {
    embeddings: Tensor,
    codes: Vec<u32>,
    labels: Vec<String>,
}

impl FewShotClassifier {
    /// Loads the model of a run folder of `fsl train` or `fsl omniglot` (the model in its
    /// `model/`), or of a model folder with model.safetensors and config.json. `invert` maps
    /// ink to 1 as Omniglot training does.
    ///
    /// # Errors
    ///
    /// [`Error::Models`] when the model cannot be read, and [`Error::InvalidSetting`] for an
    /// encoder that does not take single-channel images or whose image size is unknown.
    pub fn load(path: &Path, invert: bool) -> Result<Self> {
        let (network, image_size) = load_run(path)?;
        Ok(Self {
            network,
            image_size,
            invert,
            support: None,
        })
    }

    /// Returns the network.
    pub fn network(&self) -> &FewShotNetwork {
        &self.network
    }

    /// Returns the side in pixels that images are resized to.
    pub fn image_size(&self) -> u32 {
        self.image_size
    }

    /// Returns the labels of the current support set, in prediction-score order.
    pub fn labels(&self) -> &[String] {
        self.support.as_ref().map_or(&[], |support| support.labels.as_slice())
    }

    /// Returns what the scores of a prediction are, for example `squared distance to prototype`.
    pub fn score_name(&self) -> &'static str {
        match &self.network.config().head {
            HeadConfig::Prototypical => "squared distance to prototype",
            HeadConfig::Matching { .. } => "matching probability",
            HeadConfig::Relation { .. } => "relation score",
            _ if self.lower_is_closer() => "mean kernel distance",
            _ => "mean kernel similarity",
        }
    }

    /// Returns whether scores are distances, so that the best label has the lowest score.
    pub fn lower_is_closer(&self) -> bool {
        let head = self.network.head();
        matches!(self.network.config().head, HeadConfig::Prototypical)
            || head.learnt_kernel().is_none() && head.kernel().is_some_and(|kernel| kernel.is_distance())
    }

    /// Replaces the support set with the images of `table` (a `label` column and the images),
    /// for example an image folder read by `fsl_datasets::image_folder::load`.
    ///
    /// # Errors
    ///
    /// The errors of reading and decoding the images, and of embedding them.
    pub fn set_support_table(&mut self, table: &AnnotationTable) -> Result<()> {
        let labels = table.strings(fsl_datasets::table::LABEL)?;
        let names = table.strings(fsl_datasets::table::PATH).ok();
        let mut images = Vec::with_capacity(table.num_rows());
        for row in 0..table.num_rows() {
            let bytes = table.image_bytes(row)?;
            let name = names
                .as_ref()
                .map_or_else(|| format!("row {row}"), |names| names[row].clone());
            images.push(self.pixels(&bytes, &name)?);
        }
        self.set_support(&images, &labels)
    }

    /// Replaces the support set with encoded images (PNG or JPEG bytes) and their labels.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] when the counts differ or the set is empty, and decoding errors
    /// naming the image.
    pub fn set_support_bytes(&mut self, images: &[(String, Vec<u8>)], labels: &[String]) -> Result<()> {
        let pixels = images
            .iter()
            .map(|(name, bytes)| self.pixels(bytes, name))
            .collect::<Result<Vec<_>>>()?;
        self.set_support(&pixels, labels)
    }

    /// Labels encoded query images (name and PNG or JPEG bytes), one prediction each.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] without a support set, and decoding errors naming the image.
    pub fn predict_bytes(&self, images: &[(String, Vec<u8>)]) -> Result<Vec<Prediction<String>>> {
        let Some(support) = &self.support else {
            return Err(Error::InvalidSetting {
                name: "support",
                value: "empty".to_owned(),
                reason: "set a support set before predicting".to_owned(),
            });
        };
        let pixels = images
            .iter()
            .map(|(name, bytes)| self.pixels(bytes, name))
            .collect::<Result<Vec<_>>>()?;
        let queries = self.embed(&pixels)?;

        // The head's scores are higher for closer labels; distances are reported as such.
        let scores =
            self.network
                .head()
                .class_scores(&queries, &support.embeddings, &support.codes, support.labels.len())?;
        let sign = if self.lower_is_closer() { -1.0 } else { 1.0 };
        let predictions = scores
            .to_dtype(candle_core::DType::F64)?
            .to_vec2::<f64>()?
            .into_iter()
            .map(|row| {
                let best = (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best });
                Prediction {
                    label: support.labels[best].clone(),
                    score: sign * row[best],
                    scores: row.iter().map(|score| sign * score).collect(),
                }
            })
            .collect();
        Ok(predictions)
    }

    fn set_support(&mut self, images: &[Vec<f32>], labels: &[String]) -> Result<()> {
        if images.len() != labels.len() || images.is_empty() {
            return Err(Error::InvalidSetting {
                name: "support",
                value: format!("{} images and {} labels", images.len(), labels.len()),
                reason: "give one label per image and at least one image".to_owned(),
            });
        }
        let embeddings = self.embed(images)?;
        let (codes, labels) = fsl_layers::encode_labels(labels);
        self.support = Some(SupportSet {
            embeddings,
            codes,
            labels,
        });
        Ok(())
    }

    fn pixels(&self, bytes: &[u8], name: &str) -> Result<Vec<f32>> {
        let image = decode_luma8_named(bytes, name)?;
        Ok(gray_to_f32(&image, self.image_size, self.image_size, self.invert))
    }

    /// Embeds images given as `side x side` pixel vectors, in evaluation mode and in batches.
    fn embed(&self, images: &[Vec<f32>]) -> Result<Tensor> {
        let side = self.image_size as usize;
        let mut embeddings = Vec::with_capacity(images.len().div_ceil(EMBED_BATCH));
        for batch in images.chunks(EMBED_BATCH) {
            let pixels: Vec<f32> = batch.iter().flatten().copied().collect();
            let tensor = Tensor::from_vec(pixels, (batch.len(), 1, side, side), &Device::Cpu)?;
            // Detached: a support set's embeddings need no gradient, and their graphs would
            // keep every intermediate activation alive.
            embeddings.push(self.network.embed(&tensor, false)?.detach());
        }
        Ok(Tensor::cat(&embeddings, 0)?)
    }
}

/// Loads the model of a run folder (or model folder) and returns it with the side of the
/// images it takes, read from the run's config.toml for encoders that take any size.
///
/// # Errors
///
/// [`Error::Models`] when the model cannot be read, and [`Error::InvalidSetting`] for a missing
/// folder, a folder without a saved model, or an encoder that does not take single-channel
/// images or whose image size is unknown.
pub fn load_run(path: &Path) -> Result<(FewShotNetwork, u32)> {
    let nested = path.join("model");
    let model_dir = if path.join("config.json").exists() {
        path.to_path_buf()
    } else if nested.join("config.json").exists() {
        nested
    } else {
        let reason = if path.is_dir() {
            "no saved model here: neither the folder nor its model/ subfolder contains config.json; \
             give the output folder of `fsl train` or `fsl omniglot`"
        } else if path.exists() {
            "a file, not a run folder; give the output folder of `fsl train` or `fsl omniglot`"
        } else {
            "folder not found; give the output folder of `fsl train` or `fsl omniglot`"
        };
        return Err(Error::InvalidSetting {
            name: "run",
            value: path.display().to_string(),
            reason: reason.to_owned(),
        });
    };
    let network = FewShotNetwork::load(&model_dir)?;

    let encoder = &network.config().encoder;
    if encoder.in_channels() != 1 {
        return Err(Error::InvalidSetting {
            name: "model",
            value: model_dir.display().to_string(),
            reason: format!(
                "images are fed in grayscale, but the encoder takes {} channels",
                encoder.in_channels()
            ),
        });
    }

    // The run folder's config.toml records the image side, which encoders that end in a
    // global pooling do not fix.
    let run_config = path.join("config.toml");
    let image_size = if model_dir != path && run_config.is_file() {
        RunConfig::read(&run_config)?.image_size()?
    } else {
        encoder_image_size(encoder).ok_or_else(|| Error::InvalidSetting {
            name: "model",
            value: model_dir.display().to_string(),
            reason:
                "the encoder takes images of any size; pass the run folder of `fsl train`, whose config.toml records it"
                    .to_owned(),
        })?
    };
    Ok((network, image_size))
}
