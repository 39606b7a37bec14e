//! Episodes for metric-based few-shot learning, sampled as item indices.
//!
//! An episode takes `n_way` distinct classes, then `k_shot + q_query` distinct items from each:
//! the first `k_shot` form the support set, the rest the query set. Nothing here touches
//! tensors; a loader turns the indices into batches. [`VariableEpisodeSampler`] draws the
//! shape itself per episode, and [`EpisodeSequence`] serves either sampler epoch by epoch.

mod options;
mod pool;
mod sampler;
mod sequence;
mod spec;
mod variable;

pub use options::SamplerOptions;
pub use sampler::{Episode, EpisodeSampler};
pub use sequence::{EpisodeSequence, EpisodeSource};
pub use spec::EpisodeSpec;
pub use variable::{EpisodeRanges, VariableEpisodeSampler};
