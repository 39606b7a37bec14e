//! A learnt coordinate-wise comparison of a pair, and the output activations of learnt kernels.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::dense::{Dense, check_chain};
use super::{LearntKernel, LogitsOf, check_embedding_size, check_positive};
use crate::kernel::{Kernel, PAIRS_PER_CHUNK, check_pairs_shapes, check_pairwise_shapes, pairwise_in_chunks};
use crate::params::ParamBuilder;
use crate::{Error, Result};

const OPERATION: &str = "learnt_norms";

/// The function a learnt kernel applies to its logit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutputActivation {
    /// `σ(z) = 1 / (1 + e^-z)`: a similarity in `(0, 1)`.
    #[default]
    Sigmoid,
    /// The logit itself: an unbounded score.
    Identity,
}

impl OutputActivation {
    /// Applies the activation to `logits`.
    pub fn apply(self, logits: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sigmoid => Ok(candle_nn::ops::sigmoid(logits)?),
            Self::Identity => Ok(logits.clone()),
        }
    }
}

/// Similarity learnt from the coordinates of a pair of embeddings, compared position by position.
///
/// For embeddings `x`, `x'` of size `D`, the pair is stacked as a `2 x D` image. A convolution
/// with `F` filters of size `2 x 1` (ReLU) maps each coordinate pair `(x_d, x'_d)` to `F`
/// channels, and a 1x1 convolution (linear) maps those to one value per coordinate. A dense layer
/// `D -> 1` followed by the activation `f` (sigmoid by default) gives the score:
///
/// ```text
/// h_d   = relu(W₁ (x_d, x'_d) + b₁)
/// p_d   = W₂ h_d + b₂
/// k     = f(w · p + b)
/// ```
///
/// Both convolutions share their weights across the `D` coordinates, so they are computed as
/// matrix products on the `(N·D) x 2` and `(N·D) x F` matrices of all coordinates of all pairs.
/// The kernel is not symmetric unless it learns to be: `k(x, x')` and `k(x', x)` use different
/// columns of `W₁`.
///
/// # Shapes
///
/// - `x`, `x'`: `N x D` embeddings.
/// - `pair_conv.weight`: `F x 2`, `pair_conv.bias`: `F` (`F = 32` from [`LearntNorms::new`]).
/// - `channel_conv.weight`: `1 x F`, `channel_conv.bias`: `1`.
/// - `output.weight`: `1 x D`, `output.bias`: `1`.
/// - `pairs` and `logits`: `N` values.
///
/// [`Kernel::is_distance`] is false whatever the activation: a larger score means more similar.
#[derive(Debug, Clone)]
pub struct LearntNorms {
    pair_conv: Dense,
    channel_conv: Dense,
    output: Dense,
    activation: OutputActivation,
}

impl LearntNorms {
    /// The number of filters of the convolution over the pair.
    pub const FILTERS: usize = 32;

    /// Creates the parameters under `params` for embeddings of size `dim`, each layer uniform in
    /// `±1/√fan_in` (PyTorch's default), drawn from the store's seed: `pair_conv.{weight,bias}`,
    /// `channel_conv.{weight,bias}` and `output.{weight,bias}`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `dim` is 0.
    pub fn new(dim: usize, activation: OutputActivation, params: &ParamBuilder) -> Result<Self> {
        check_positive("dim", dim)?;
        Ok(Self {
            pair_conv: Dense::init(2, Self::FILTERS, &params.push("pair_conv"))?,
            channel_conv: Dense::init(Self::FILTERS, 1, &params.push("channel_conv"))?,
            output: Dense::init(dim, 1, &params.push("output"))?,
            activation,
        })
    }

    /// Wraps given weights: `F x 2` and `F` for the convolution over the pair, `1 x F` and `1` for
    /// the 1x1 convolution, `1 x D` and `1` for the output layer.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`], naming the shapes that disagree, for any other shapes.
    pub fn from_tensors(
        pair_weight: Tensor,
        pair_bias: Tensor,
        channel_weight: Tensor,
        channel_bias: Tensor,
        output_weight: Tensor,
        output_bias: Tensor,
        activation: OutputActivation,
    ) -> Result<Self> {
        let pair_conv = Dense::new(OPERATION, "pair convolution", pair_weight, pair_bias)?;
        let channel_conv = Dense::new(OPERATION, "channel convolution", channel_weight, channel_bias)?;
        let output = Dense::new(OPERATION, "output", output_weight, output_bias)?;

        if pair_conv.inputs() != 2 {
            return Err(Error::ShapeMismatch {
                operation: OPERATION,
                details: format!(
                    "pair convolution weight of shape {:?}; expected F x 2, one column per member of the pair",
                    pair_conv.weight().dims()
                ),
            });
        }
        check_chain(
            OPERATION,
            ("pair convolution", &pair_conv),
            ("channel convolution", &channel_conv),
        )?;
        for (name, layer) in [("channel convolution", &channel_conv), ("output", &output)] {
            if layer.outputs() != 1 {
                return Err(Error::ShapeMismatch {
                    operation: OPERATION,
                    details: format!(
                        "{name} weight of shape {:?}; expected a single output row",
                        layer.weight().dims()
                    ),
                });
            }
        }
        Ok(Self {
            pair_conv,
            channel_conv,
            output,
            activation,
        })
    }

    /// Returns the embedding size `D`.
    pub fn dim(&self) -> usize {
        self.output.inputs()
    }

    /// Returns the activation applied to the logits.
    pub fn activation(&self) -> OutputActivation {
        self.activation
    }
}

impl LearntKernel for LearntNorms {
    fn logits(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        check_pairs_shapes(OPERATION, x, y)?;
        check_embedding_size(OPERATION, x, y, self.dim(), ("output", self.output.weight()))?;

        let (pairs, dim) = x.dims2()?;
        let stacked = Tensor::stack(&[x, y], 2)?.reshape((pairs * dim, 2))?;

        let channels = self.pair_conv.forward(&stacked)?.relu()?;
        let per_coordinate = self.channel_conv.forward(&channels)?.reshape((pairs, dim))?;
        Ok(self.output.forward(&per_coordinate)?.squeeze(1)?)
    }

    fn pairwise_logits(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_pairwise_shapes(OPERATION, a, b)?;
        check_embedding_size(OPERATION, a, b, self.dim(), ("output", self.output.weight()))?;
        pairwise_in_chunks(&LogitsOf(self), a, b, PAIRS_PER_CHUNK)
    }
}

impl Kernel for LearntNorms {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.activation.apply(&self.logits(x, y)?)
    }

    fn is_distance(&self) -> bool {
        false
    }

    fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        self.activation.apply(&self.pairwise_logits(a, b)?)
    }
}
