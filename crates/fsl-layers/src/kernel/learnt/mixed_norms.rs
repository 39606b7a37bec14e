//! A learnt combination of four coordinate-wise norms of a pair.

use candle_core::Tensor;

use super::dense::{Dense, check_chain};
use super::{LearntKernel, LogitsOf, check_embedding_size, check_positive};
use crate::kernel::{PAIRS_PER_CHUNK, pairwise_in_chunks};
use crate::params::ParamBuilder;
use crate::{Error, Result};

const OPERATION: &str = "mixed_norms";

/// The number of coordinate-wise norms stacked for each pair.
const NORMS: usize = 4;

/// Similarity learnt from four coordinate-wise norms of a pair of embeddings.
///
/// For embeddings `x`, `x'` of size `D`, the norms `[x⊙x', x+x', |x-x'|, (x-x')²]` are stacked as
/// a `4 x D` image. A convolution with `F` filters of size `4 x 1` (ReLU) maps each coordinate's
/// four norms to `F` channels, and a `1 x F` convolution (linear) maps those back to one value per
/// coordinate. A dense layer `D -> 1` with a sigmoid gives the similarity:
///
/// ```text
/// h_d   = relu(W₁ n_d + b₁)        n_d = (x_d x'_d, x_d + x'_d, |x_d - x'_d|, (x_d - x'_d)²)
/// p_d   = W₂ h_d + b₂
/// k     = σ(w · p + b)
/// ```
///
/// Both convolutions share their weights across the `D` coordinates, so they are computed as
/// matrix products on the `(N·D) x 4` and `(N·D) x F` matrices of all coordinates of all pairs.
///
/// # Shapes
///
/// - `x`, `x'`: `N x D` embeddings, or `N x D x H x W` feature maps, which are first averaged over
///   `H x W` (global average pooling); [`Kernel::pairwise`](crate::Kernel::pairwise) accepts both forms too.
/// - `norm_conv.weight`: `F x 4`, `norm_conv.bias`: `F` (`F = 32` from [`MixedNorms::new`]).
/// - `channel_conv.weight`: `1 x F`, `channel_conv.bias`: `1`.
/// - `output.weight`: `1 x D`, `output.bias`: `1`.
/// - `pairs` and `logits`: `N` values; `pairs` are in `(0, 1)`.
///
/// At `x = x'` the gradient of `|x - x'|` is taken as `+1` for `x`, as candle's `abs` does.
#[derive(Debug, Clone)]
pub struct MixedNorms {
    norm_conv: Dense,
    channel_conv: Dense,
    output: Dense,
}

impl MixedNorms {
    /// The number of filters of the convolution over the norms.
    pub const FILTERS: usize = 32;

    /// Creates the parameters under `params` for embeddings of size `dim`, each layer uniform in
    /// `±1/√fan_in` (PyTorch's default), drawn from the store's seed: `norm_conv.{weight,bias}`,
    /// `channel_conv.{weight,bias}` and `output.{weight,bias}`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `dim` is 0.
    pub fn new(dim: usize, params: &ParamBuilder) -> Result<Self> {
        check_positive("dim", dim)?;
        Ok(Self {
            norm_conv: Dense::init(NORMS, Self::FILTERS, &params.push("norm_conv"))?,
            channel_conv: Dense::init(Self::FILTERS, 1, &params.push("channel_conv"))?,
            output: Dense::init(dim, 1, &params.push("output"))?,
        })
    }

    /// Wraps given weights: `F x 4` and `F` for the convolution over the norms, `1 x F` and `1`
    /// for the convolution over the channels, `1 x D` and `1` for the output layer.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`], naming the shapes that disagree, for any other shapes.
    pub fn from_tensors(
        norm_weight: Tensor,
        norm_bias: Tensor,
        channel_weight: Tensor,
        channel_bias: Tensor,
        output_weight: Tensor,
        output_bias: Tensor,
    ) -> Result<Self> {
        let norm_conv = Dense::new(OPERATION, "norm convolution", norm_weight, norm_bias)?;
        let channel_conv = Dense::new(OPERATION, "channel convolution", channel_weight, channel_bias)?;
        let output = Dense::new(OPERATION, "output", output_weight, output_bias)?;

        if norm_conv.inputs() != NORMS {
            return Err(Error::ShapeMismatch {
                operation: OPERATION,
                details: format!(
                    "norm convolution weight of shape {:?}; expected F x {NORMS}, one column per norm",
                    norm_conv.weight().dims()
                ),
            });
        }
        check_chain(
            OPERATION,
            ("norm convolution", &norm_conv),
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
            norm_conv,
            channel_conv,
            output,
        })
    }

    /// Returns the embedding size `D`, the number of channels of feature-map inputs.
    pub fn dim(&self) -> usize {
        self.output.inputs()
    }

    fn check_size(&self, x: &Tensor, y: &Tensor) -> Result<()> {
        check_embedding_size(OPERATION, x, y, self.dim(), ("output", self.output.weight()))
    }
}

impl LearntKernel for MixedNorms {
    fn logits(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        if x.dims() != y.dims() || !matches!(x.rank(), 2 | 4) {
            return Err(Error::ShapeMismatch {
                operation: OPERATION,
                details: format!(
                    "a pair must be two N x D embeddings or two N x D x H x W feature maps of the same shape, \
                     got {:?} and {:?}",
                    x.dims(),
                    y.dims()
                ),
            });
        }
        self.check_size(x, y)?;

        let (x, y) = (global_average_pool(x)?, global_average_pool(y)?);

        let (pairs, dim) = x.dims2()?;
        let difference = (&x - &y)?;
        let norms = Tensor::stack(&[(&x * &y)?, (&x + &y)?, difference.abs()?, difference.sqr()?], 2)?;

        let channels = self.norm_conv.forward(&norms.reshape((pairs * dim, NORMS))?)?.relu()?;
        let per_coordinate = self.channel_conv.forward(&channels)?.reshape((pairs, dim))?;
        Ok(self.output.forward(&per_coordinate)?.squeeze(1)?)
    }

    fn pairwise_logits(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        for input in [a, b] {
            if !matches!(input.rank(), 2 | 4) {
                return Err(Error::ShapeMismatch {
                    operation: OPERATION,
                    details: format!(
                        "pairwise evaluation takes A x D and B x D embeddings or feature maps with D channels, got \
                         {:?} and {:?}",
                        a.dims(),
                        b.dims()
                    ),
                });
            }
        }
        self.check_size(a, b)?;

        let (a, b) = (global_average_pool(a)?, global_average_pool(b)?);
        pairwise_in_chunks(&LogitsOf(self), &a, &b, PAIRS_PER_CHUNK)
    }
}

sigmoid_kernel!(MixedNorms);

/// Averages `N x C x H x W` feature maps over their spatial positions to `N x C`. Matrices pass
/// through unchanged.
fn global_average_pool(x: &Tensor) -> Result<Tensor> {
    if x.rank() == 4 {
        Ok(x.mean((2, 3))?)
    } else {
        Ok(x.clone())
    }
}
