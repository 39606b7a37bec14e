//! Episodes for metric-based few-shot learning, sampled as item indices.
//!
//! An episode takes `n_way` distinct classes, then `k_shot + q_query` distinct items from each:
//! the first `k_shot` form the support set, the rest the query set. Nothing here touches
//! tensors; a loader turns the indices into batches.

mod options;
mod pool;
mod sampler;
mod spec;

pub use options::SamplerOptions;
pub use sampler::{Episode, EpisodeSampler};
pub use spec::EpisodeSpec;
