//! The tensors of one few-shot episode, shared by the samplers that build them and the models that
//! consume them.

use candle_core::Tensor;

use crate::{Error, Result};

/// One episode: an `n_way` support set and queries, with episode labels in `0..n_way`.
#[derive(Debug, Clone)]
pub struct EpisodeBatch {
    /// Support images, `S x C x H x W`.
    pub support: Tensor,
    /// The episode label of every support image.
    pub support_labels: Vec<u32>,
    /// Query images, `Q x C x H x W`.
    pub query: Tensor,
    /// The episode label of every query image.
    pub query_labels: Vec<u32>,
    /// The number of classes of the episode.
    pub n_way: usize,
}

impl EpisodeBatch {
    /// Checks that images and labels agree in count, that every label is below `n_way` and that
    /// every class has a support image, so no prototype is left undefined.
    pub fn validate(&self) -> Result<()> {
        for (name, images, labels) in [
            ("support", &self.support, &self.support_labels),
            ("query", &self.query, &self.query_labels),
        ] {
            let rows = images.dims().first().copied().unwrap_or(0);
            if rows != labels.len() {
                return Err(Error::ShapeMismatch {
                    operation: "episode",
                    details: format!("{rows} {name} images but {} {name} labels", labels.len()),
                });
            }
            if let Some((position, &label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= self.n_way) {
                return Err(Error::LabelOutOfRange {
                    label,
                    position,
                    n_classes: self.n_way,
                });
            }
        }

        let mut has_support = vec![false; self.n_way];
        for &label in &self.support_labels {
            has_support[label as usize] = true;
        }
        if let Some(class) = has_support.iter().position(|&present| !present) {
            return Err(Error::InvalidArgument {
                name: "support_labels",
                value: format!("no image of class {class}"),
                reason: "every class of an episode needs at least one support image",
            });
        }
        Ok(())
    }
}
