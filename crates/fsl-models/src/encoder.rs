//! Encoders: networks that map a batch of images to a batch of embeddings.

use candle_core::Tensor;

use crate::Result;

/// A network that maps `N x C x H x W` images to `N x D` embeddings.
pub trait Encoder: Send + Sync {
    /// Embeds a batch of images; `train` selects training behaviour such as batch statistics.
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor>;

    /// Returns the embedding size `D`.
    fn embedding_size(&self) -> usize;
}
