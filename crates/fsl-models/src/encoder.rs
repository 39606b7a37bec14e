//! Encoders: networks that map a batch of images to a batch of embeddings.

use candle_core::Tensor;

use crate::Result;

/// A network that maps `N x C x H x W` images to `N x D` embeddings.
pub trait Encoder: Send + Sync {
    /// Embeds a batch of images; `train` selects training behaviour such as batch statistics.
    fn embed(&self, images: &Tensor, train: bool) -> Result<Tensor>;

    /// Returns the embedding size `D`.
    fn embedding_size(&self) -> usize;

    /// Reseeds the random state of training mode, such as dropout masks, from the index of the
    /// training episode about to run.
    ///
    /// Training calls this before each episode, so the masks of an episode do not depend on the
    /// passes made before it, and a run resumed from a checkpoint draws the same masks as an
    /// uninterrupted one. The default does nothing, for encoders without randomness.
    fn seed_episode(&self, episode: u64) {
        let _ = episode;
    }
}
