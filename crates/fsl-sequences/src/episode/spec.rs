//! The shape of an episode: how many classes, support items and query items.

use crate::error::{Error, Result};

/// Validated episode shape: `n_way` classes with `k_shot` support and `q_query` query items each.
///
/// `q_query = 0` is accepted because evaluation protocols such as the Omniglot one-shot runs
/// bring their own queries and only need a support set. Episodic training computes its loss on
/// the query set, so a training loop must ask for `q_query >= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpisodeSpec {
    n_way: usize,
    k_shot: usize,
    q_query: usize,
}

impl EpisodeSpec {
    /// Checks and stores an episode shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming `n_way` or `k_shot` when it is zero, or naming
    /// `k_shot + q_query` when the sum overflows `usize`.
    pub fn new(n_way: usize, k_shot: usize, q_query: usize) -> Result<Self> {
        if n_way == 0 {
            return Err(Error::InvalidArgument {
                name: "n_way",
                value: n_way,
                reason: "an episode needs at least one class",
            });
        }

        if k_shot == 0 {
            return Err(Error::InvalidArgument {
                name: "k_shot",
                value: k_shot,
                reason: "each class needs at least one support item",
            });
        }

        if k_shot.checked_add(q_query).is_none() {
            return Err(Error::InvalidArgument {
                name: "k_shot + q_query",
                value: q_query,
                reason: "the number of items per class overflows usize",
            });
        }

        Ok(Self { n_way, k_shot, q_query })
    }

    /// Classes per episode.
    pub fn n_way(&self) -> usize {
        self.n_way
    }

    /// Support items per class.
    pub fn k_shot(&self) -> usize {
        self.k_shot
    }

    /// Query items per class.
    pub fn q_query(&self) -> usize {
        self.q_query
    }

    /// Items an episode takes from each of its classes (`k_shot + q_query`).
    pub fn items_per_class(&self) -> usize {
        self.k_shot + self.q_query
    }
}
