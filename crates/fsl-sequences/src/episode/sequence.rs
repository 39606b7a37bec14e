//! Episodes as a [`Sequence`]: a fixed number of episodes per epoch, new ones every epoch.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use super::sampler::{Episode, EpisodeSampler};
use super::variable::VariableEpisodeSampler;
use crate::error::{Error, Result};
use crate::seed;
use crate::sequence::{Sequence, check_index};

/// Anything that draws episode `index` of the stream `seed`.
pub trait EpisodeSource {
    /// Class id type of the episodes.
    type Label;

    /// Draws episode `index` of the stream identified by `seed`; equal inputs give equal
    /// episodes.
    fn episode(&self, seed: u64, index: u64) -> Episode<Self::Label>;
}

impl<L> EpisodeSource for EpisodeSampler<L>
where
    L: Clone + Eq + Hash + Debug + Display,
{
    type Label = L;

    fn episode(&self, seed: u64, index: u64) -> Episode<L> {
        EpisodeSampler::episode(self, seed, index)
    }
}

impl<L> EpisodeSource for VariableEpisodeSampler<L>
where
    L: Clone + Eq + Hash + Debug + Display,
{
    type Label = L;

    fn episode(&self, seed: u64, index: u64) -> Episode<L> {
        VariableEpisodeSampler::episode(self, seed, index)
    }
}

/// `episodes_per_epoch` episodes per epoch from a sampler; episode `index` of epoch `epoch` is
/// the sampler's episode `index` of the stream mixed from `(seed, epoch)`.
#[derive(Debug, Clone)]
pub struct EpisodeSequence<S> {
    source: S,
    episodes_per_epoch: usize,
    seed: u64,
}

impl<S: EpisodeSource> EpisodeSequence<S> {
    /// Wraps a sampler.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `episodes_per_epoch = 0`.
    pub fn new(source: S, episodes_per_epoch: usize, seed: u64) -> Result<Self> {
        if episodes_per_epoch == 0 {
            return Err(Error::InvalidArgument {
                name: "episodes_per_epoch",
                value: episodes_per_epoch,
                reason: "an epoch needs at least one episode",
            });
        }

        Ok(Self {
            source,
            episodes_per_epoch,
            seed,
        })
    }

    /// Returns the sampler.
    pub fn source(&self) -> &S {
        &self.source
    }
}

impl<S: EpisodeSource> Sequence for EpisodeSequence<S> {
    type Batch = Episode<S::Label>;

    fn len(&self) -> usize {
        self.episodes_per_epoch
    }

    fn batch(&self, epoch: u64, index: usize) -> Result<Self::Batch> {
        check_index(index, self.len())?;

        Ok(self.source.episode(seed::mix(&[self.seed, epoch]), index as u64))
    }
}
