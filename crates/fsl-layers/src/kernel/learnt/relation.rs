//! A relation module: a perceptron that scores the concatenation of a pair.

use candle_core::Tensor;

use super::dense::{Dense, check_chain};
use super::{LearntKernel, LogitsOf, check_embedding_size, check_positive};
use crate::kernel::{PAIRS_PER_CHUNK, check_pairs_shapes, check_pairwise_shapes, pairwise_in_chunks};
use crate::params::ParamBuilder;
use crate::{Error, Result};

const OPERATION: &str = "relation_module";

/// Similarity `σ(w₂ · relu(W₁ [x, x'] + b₁) + b₂)`: a relation module in the sense of relation
/// networks, a learnt score of the concatenated pair, here a two-layer perceptron on embeddings.
///
/// The kernel is not symmetric unless it learns to be: `[x, x']` and `[x', x]` meet different
/// columns of `W₁`.
///
/// # Shapes
///
/// - `x`, `x'`: `N x D` embeddings; the concatenation `[x, x']` is `N x 2D`.
/// - `hidden.weight`: `H x 2D`, `hidden.bias`: `H`.
/// - `output.weight`: `1 x H`, `output.bias`: `1`.
/// - `pairs` and `logits`: `N` values; `pairs` are in `(0, 1)`.
#[derive(Debug, Clone)]
pub struct RelationModule {
    hidden: Dense,
    output: Dense,
}

impl RelationModule {
    /// Creates the parameters under `params` for embeddings of size `dim` and `hidden` hidden
    /// units, each layer uniform in `±1/√fan_in` (PyTorch's default), drawn from the store's seed:
    /// `hidden.{weight,bias}` and `output.{weight,bias}`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `dim` or `hidden` is 0.
    pub fn new(dim: usize, hidden: usize, params: &ParamBuilder) -> Result<Self> {
        check_positive("dim", dim)?;
        check_positive("hidden", hidden)?;
        Ok(Self {
            hidden: Dense::init(2 * dim, hidden, &params.push("hidden"))?,
            output: Dense::init(hidden, 1, &params.push("output"))?,
        })
    }

    /// Wraps given weights: `H x 2D` and `H` for the hidden layer, `1 x H` and `1` for the output.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`], naming the shapes that disagree, for any other shapes.
    pub fn from_tensors(
        hidden_weight: Tensor,
        hidden_bias: Tensor,
        output_weight: Tensor,
        output_bias: Tensor,
    ) -> Result<Self> {
        let hidden = Dense::new(OPERATION, "hidden", hidden_weight, hidden_bias)?;
        let output = Dense::new(OPERATION, "output", output_weight, output_bias)?;

        if hidden.inputs() % 2 != 0 {
            return Err(Error::ShapeMismatch {
                operation: OPERATION,
                details: format!(
                    "hidden weight of shape {:?}; expected H x 2D, with D inputs for each member of the pair",
                    hidden.weight().dims()
                ),
            });
        }
        check_chain(OPERATION, ("hidden", &hidden), ("output", &output))?;
        if output.outputs() != 1 {
            return Err(Error::ShapeMismatch {
                operation: OPERATION,
                details: format!(
                    "output weight of shape {:?}; expected 1 x H, a single output",
                    output.weight().dims()
                ),
            });
        }
        Ok(Self { hidden, output })
    }

    /// Returns the embedding size `D`.
    pub fn dim(&self) -> usize {
        self.hidden.inputs() / 2
    }

    /// Returns the number of hidden units `H`.
    pub fn hidden(&self) -> usize {
        self.hidden.outputs()
    }
}

impl LearntKernel for RelationModule {
    fn logits(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes(OPERATION, x, y)?;
        check_embedding_size(OPERATION, x, y, self.dim(), ("hidden", self.hidden.weight()))?;

        let concatenated = Tensor::cat(&[x, y], 1)?;
        let hidden = self.hidden.forward(&concatenated)?.relu()?;
        Ok(self.output.forward(&hidden)?.squeeze(1)?)
    }

    fn pairwise_logits(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes(OPERATION, a, b)?;
        check_embedding_size(OPERATION, a, b, self.dim(), ("hidden", self.hidden.weight()))?;
        pairwise_in_chunks(&LogitsOf(self), a, b, PAIRS_PER_CHUNK)
    }
}

sigmoid_kernel!(RelationModule);
