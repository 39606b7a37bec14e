//! Neural-network operations with CPU kernels and gradients of their own.

mod batch_norm;
mod block_op;
mod conv;
mod conv_block;
mod conv_block_eval;
mod conv_kernel;
mod cosine_similarities;
mod cpu;
#[cfg(target_arch = "x86_64")]
mod distance_tiles;
mod gemm;
mod im2col;
mod max_pool;
mod moments;
mod normalize;
mod normalize_pool;
#[cfg(target_arch = "x86_64")]
mod pool_2x2_avx512;
mod row_pairs;
mod squared_distances;

pub use batch_norm::BatchNorm2d;
pub use conv::Conv2d;
pub use conv_block::{conv_norm_pool, conv_norm_relu_pool};
pub(crate) use cosine_similarities::{CosineSimilarities, unit_rows};
pub use max_pool::MaxPool2d;
pub(crate) use squared_distances::{SquaredDistances, sampled_centre};
