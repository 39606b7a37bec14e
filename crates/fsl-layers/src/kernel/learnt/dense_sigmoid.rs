//! The weighted L1 similarity of the siamese networks of Koch et al. (2015).

use candle_core::Tensor;

use super::dense::Dense;
use super::{LearntKernel, LogitsOf, check_embedding_size, check_positive};
use crate::kernel::{PAIRS_PER_CHUNK, check_pairs_shapes, check_pairwise_shapes, pairwise_in_chunks};
use crate::params::ParamBuilder;
use crate::{Error, Result};

const OPERATION: &str = "dense_sigmoid";

/// Similarity `σ(w · |x - x'| + b)`: a learnt weighting of the coordinate-wise L1 distance.
///
/// # Shapes
///
/// - `x`, `x'`: `N x D` embeddings.
/// - `weight`: `1 x D` (a dense layer from `D` inputs to one output), `bias`: `1`.
/// - `pairs` and `logits`: `N` values; `pairs` are in `(0, 1)`.
///
/// At `x = x'` the gradient of `|x - x'|` is taken as `+1` for `x`, as candle's `abs` does.
#[derive(Debug, Clone)]
pub struct DenseSigmoid {
    output: Dense,
}

impl DenseSigmoid {
    /// Creates the parameters `weight` and `bias` under `params` for embeddings of size `dim`,
    /// uniform in `±1/√dim` (PyTorch's default for a dense layer), drawn from the store's seed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `dim` is 0.
    pub fn new(dim: usize, params: &ParamBuilder) -> Result<Self> {
        check_positive("dim", dim)?;
        Ok(Self {
            output: Dense::init(dim, 1, params)?,
        })
    }

    /// Wraps a `1 x D` weight and a bias of shape `[1]`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`], naming both shapes, for any other
    /// shapes.
    pub fn from_tensors(weight: Tensor, bias: Tensor) -> Result<Self> {
        let output = Dense::new(OPERATION, "output", weight, bias)?;
        if output.outputs() != 1 {
            return Err(Error::ShapeMismatch {
                operation: OPERATION,
                details: format!(
                    "weight of shape {:?}; expected 1 x D, a single output",
                    output.weight().dims()
                ),
            });
        }
        Ok(Self { output })
    }

    /// Returns the embedding size `D`.
    pub fn dim(&self) -> usize {
        self.output.inputs()
    }
}

impl LearntKernel for DenseSigmoid {
    fn logits(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes(OPERATION, x, y)?;
        check_embedding_size(OPERATION, x, y, self.dim(), ("output", self.output.weight()))?;

        let distances = (x - y)?.abs()?;
        Ok(self.output.forward(&distances)?.squeeze(1)?)
    }

    fn pairwise_logits(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes(OPERATION, a, b)?;
        check_embedding_size(OPERATION, a, b, self.dim(), ("output", self.output.weight()))?;
        pairwise_in_chunks(&LogitsOf(self), a, b, PAIRS_PER_CHUNK)
    }
}

sigmoid_kernel!(DenseSigmoid);
