//! Neural-network operations with CPU kernels and gradients of their own.

mod batch_norm;
mod bias_layout;
mod conv;
mod cpu;
mod im2col;
mod max_pool;
mod normalize;

pub use batch_norm::BatchNorm2d;
pub use conv::Conv2d;
pub use max_pool::MaxPool2d;
