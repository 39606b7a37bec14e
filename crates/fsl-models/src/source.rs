//! Episode sources: where training and evaluation get their episodes from.

use fsl_layers::EpisodeBatch;

use crate::{Error, Result};

/// Produces the episode with a given index; the same index gives the same episode.
pub trait EpisodeSource {
    /// Returns episode `index`.
    fn episode(&mut self, index: u64) -> Result<EpisodeBatch>;
}

impl<F, E> EpisodeSource for F
where
    F: FnMut(u64) -> std::result::Result<EpisodeBatch, E>,
    E: std::error::Error + Send + Sync + 'static,
{
    fn episode(&mut self, index: u64) -> Result<EpisodeBatch> {
        self(index).map_err(|error| Error::Source(Box::new(error)))
    }
}
