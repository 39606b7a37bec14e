//! Heads: how a network turns the embeddings of a support set and of queries into class scores
//! and a training loss.
//!
//! Every few-shot family here shares the encoder and differs in its head:
//!
//! - prototypical networks (Snell et al., 2017): softmax of the negative squared Euclidean
//!   distance to each class's mean embedding;
//! - matching networks (Vinyals et al., 2016): a softmax attention over the support items by
//!   cosine similarity, summed per class (without the full-context embeddings of the paper);
//! - relation networks (Sung et al., 2018): a learnt relation module scores each query against
//!   each class's mean embedding, trained by cross-entropy over the classes' relation logits or,
//!   as in the paper, by mean squared error against the one-hot labels;
//! - siamese networks (Koch et al., 2015): any kernel of fsl-layers, fixed or learnt, compares
//!   the query with every support item and a class scores the mean over its items.

use candle_core::{D, DType, Tensor};
use fsl_layers::kernel::{
    CosineDistance, CosineSimilarity, DenseSigmoid, Dot, Kernel, L1, LearntKernel, LearntNorms, Linf, MixedNorms,
    OutputActivation, RelationModule, SquaredL2,
};
use fsl_layers::params::ParamBuilder;
use fsl_layers::{binary_crossentropy_with_logits, centroids, one_hot, prototypical_loss};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Probabilities are clamped to at least this before their logarithm, so that a support set that
/// gives a class no attention at all costs a large finite loss instead of an infinite one.
const MIN_PROBABILITY: f64 = 1e-12;

/// The head of a network and its hyper-parameters, as written in a model configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum HeadConfig {
    /// Squared Euclidean distance to each class prototype (the mean support embedding).
    #[default]
    Prototypical,
    /// Softmax attention over the support items by cosine similarity.
    Matching {
        /// Factor applied to the cosine similarities before the softmax; 1 is the original
        /// formulation, larger values make the attention sharper.
        #[serde(default = "default_matching_scale")]
        scale: f64,
    },
    /// A relation module (a two-layer perceptron on `[query, prototype]`) with a sigmoid output.
    Relation {
        /// Hidden units of the relation module.
        #[serde(default = "default_relation_hidden")]
        hidden: usize,
        /// The training loss; cross-entropy unless set.
        #[serde(default)]
        loss: RelationLoss,
    },
    /// A kernel comparing the query with every support item; a class scores the mean kernel value
    /// over its support items.
    Siamese {
        /// The kernel.
        kernel: KernelConfig,
    },
}

/// The training loss of a relation head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RelationLoss {
    /// Cross-entropy of the softmax of the relation logits over the classes of the episode.
    ///
    /// The default: with the paper's loss, 20-way training episodes on Omniglot drove every
    /// relation score of a Conv-4 encoder to the same value within 120 episodes (chance accuracy),
    /// because 19 of every 20 targets are 0.
    #[default]
    CrossEntropy,
    /// Mean squared error between the relation scores and the one-hot labels (Sung et al.).
    MeanSquaredError,
}

fn default_matching_scale() -> f64 {
    1.0
}

fn default_relation_hidden() -> usize {
    8
}

/// A kernel of fsl-layers, as written in a model configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum KernelConfig {
    /// `Σ|x - x'|`.
    L1,
    /// `Σ(x - x')²`.
    SquaredL2,
    /// `max|x - x'|`.
    Linf,
    /// `1 - cos(x, x')`.
    CosineDistance,
    /// `cos(x, x')`.
    CosineSimilarity,
    /// `x · x'`.
    Dot,
    /// Koch et al.'s head, `σ(w · |x - x'| + b)`.
    DenseSigmoid,
    /// A network over `[x⊙x', x+x', |x-x'|, (x-x')²]` with a sigmoid output.
    MixedNorms,
    /// A network over `[x, x']` coordinate by coordinate.
    LearntNorms {
        /// The output activation; sigmoid unless set.
        #[serde(default)]
        activation: OutputActivation,
    },
    /// A two-layer perceptron on `[x, x']` with a sigmoid output.
    Relation {
        /// Hidden units.
        hidden: usize,
    },
}

impl KernelConfig {
    /// Returns whether the kernel has parameters that train with the encoder.
    pub fn is_learnt(&self) -> bool {
        matches!(
            self,
            Self::DenseSigmoid | Self::MixedNorms | Self::LearntNorms { .. } | Self::Relation { .. }
        )
    }
}

/// The kernel of a siamese head: fixed kernels have no parameters; learnt ones also expose their
/// logits, which the loss uses.
enum SiameseKernel {
    Fixed(Box<dyn Kernel>),
    Learnt(Box<dyn LearntKernel>),
}

impl SiameseKernel {
    fn build(config: KernelConfig, dim: usize, params: &ParamBuilder) -> Result<Self> {
        Ok(match config {
            KernelConfig::L1 => Self::Fixed(Box::new(L1)),
            KernelConfig::SquaredL2 => Self::Fixed(Box::new(SquaredL2)),
            KernelConfig::Linf => Self::Fixed(Box::new(Linf)),
            KernelConfig::CosineDistance => Self::Fixed(Box::new(CosineDistance)),
            KernelConfig::CosineSimilarity => Self::Fixed(Box::new(CosineSimilarity)),
            KernelConfig::Dot => Self::Fixed(Box::new(Dot)),
            KernelConfig::DenseSigmoid => Self::Learnt(Box::new(DenseSigmoid::new(dim, params)?)),
            KernelConfig::MixedNorms => Self::Learnt(Box::new(MixedNorms::new(dim, params)?)),
            KernelConfig::LearntNorms { activation } => {
                Self::Learnt(Box::new(LearntNorms::new(dim, activation, params)?))
            }
            KernelConfig::Relation { hidden } => Self::Learnt(Box::new(RelationModule::new(dim, hidden, params)?)),
        })
    }

    fn kernel(&self) -> &dyn Kernel {
        match self {
            Self::Fixed(kernel) => kernel.as_ref(),
            Self::Learnt(kernel) => kernel.as_ref(),
        }
    }
}

/// The built head of a network: turns embeddings into class scores and a loss.
pub struct Head {
    kind: HeadKind,
}

enum HeadKind {
    Prototypical,
    Matching { scale: f64 },
    Relation(RelationModule, RelationLoss),
    Siamese(SiameseKernel),
}

/// Class scores of the queries of an episode and the loss that trains them.
#[derive(Debug, Clone)]
pub struct HeadOutput {
    /// `Q x n_way` scores; the predicted class of a query is the column of its largest score.
    pub scores: Tensor,
    /// The scalar training loss.
    pub loss: Tensor,
}

impl Head {
    /// Builds the head for embeddings of size `embedding_size`, creating any parameters under
    /// `params`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a non-positive or non-finite matching scale, and the layer
    /// errors of a learnt kernel with zero hidden units.
    pub fn new(config: &HeadConfig, embedding_size: usize, params: &ParamBuilder) -> Result<Self> {
        let kind = match *config {
            HeadConfig::Prototypical => HeadKind::Prototypical,
            HeadConfig::Matching { scale } => {
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(Error::InvalidConfig {
                        name: "head.scale",
                        value: scale.to_string(),
                        reason: "the matching scale must be a positive number; 1 is the original formulation".into(),
                    });
                }
                HeadKind::Matching { scale }
            }
            HeadConfig::Relation { hidden, loss } => {
                HeadKind::Relation(RelationModule::new(embedding_size, hidden, params)?, loss)
            }
            HeadConfig::Siamese { kernel } => HeadKind::Siamese(SiameseKernel::build(kernel, embedding_size, params)?),
        };
        Ok(Self { kind })
    }

    /// Returns the kernel of a siamese head, to compare pairs or build a Gram matrix; `None` for
    /// the other heads.
    pub fn kernel(&self) -> Option<&dyn Kernel> {
        match &self.kind {
            HeadKind::Siamese(kernel) => Some(kernel.kernel()),
            _ => None,
        }
    }

    /// Returns the learnt kernel of a siamese head, whose logits suit binary cross-entropy;
    /// `None` for fixed kernels and the other heads.
    pub fn learnt_kernel(&self) -> Option<&dyn LearntKernel> {
        match &self.kind {
            HeadKind::Siamese(SiameseKernel::Learnt(kernel)) => Some(kernel.as_ref()),
            _ => None,
        }
    }

    /// Computes the `Q x n_way` class scores of `query` (`Q x D`) against a support set
    /// (`S x D`) whose item `i` has class `support_labels[i]` below `n_way`.
    ///
    /// # Errors
    ///
    /// The layer errors for mismatched shapes or labels.
    pub fn class_scores(
        &self,
        query: &Tensor,
        support: &Tensor,
        support_labels: &[u32],
        n_way: usize,
    ) -> Result<Tensor> {
        Ok(self.scores_and_pairs(query, support, support_labels, n_way)?.0)
    }

    /// Computes the class scores and the training loss of queries with classes `query_labels`.
    ///
    /// # Errors
    ///
    /// The layer errors for mismatched shapes or labels.
    pub fn output(
        &self,
        query: &Tensor,
        support: &Tensor,
        support_labels: &[u32],
        query_labels: &[u32],
        n_way: usize,
    ) -> Result<HeadOutput> {
        let (scores, pair_logits) = self.scores_and_pairs(query, support, support_labels, n_way)?;

        let loss = match (&self.kind, pair_logits) {
            // Koch et al. train on pairs: each query against each support item, same class or not.
            (HeadKind::Siamese(SiameseKernel::Learnt(_)), Some(logits)) => {
                let query_one_hot = one_hot(query_labels, n_way, logits.dtype(), logits.device())?;
                let support_one_hot = one_hot(support_labels, n_way, logits.dtype(), logits.device())?;
                let same_class = query_one_hot.matmul(&support_one_hot.t()?)?;
                binary_crossentropy_with_logits(&logits, &same_class)?
            }
            (HeadKind::Matching { .. }, _) => {
                let log_probabilities = scores.clamp(MIN_PROBABILITY, 1.0)?.log()?;
                prototypical_loss(&log_probabilities.neg()?, query_labels)?
            }
            (HeadKind::Relation(_, RelationLoss::MeanSquaredError), _) => {
                let targets = one_hot(query_labels, n_way, scores.dtype(), scores.device())?;
                (&scores - &targets)?.sqr()?.mean_all()?
            }
            (HeadKind::Relation(_, RelationLoss::CrossEntropy), Some(logits)) => {
                prototypical_loss(&logits.neg()?, query_labels)?
            }
            // Prototypical and fixed siamese heads: cross-entropy of softmax(scores), which is
            // the prototypical loss of the negated scores.
            _ => prototypical_loss(&scores.neg()?, query_labels)?,
        };
        Ok(HeadOutput { scores, loss })
    }

    /// Returns the class scores, and the logits the loss needs: the `Q x S` pair logits of a
    /// learnt siamese kernel, or the `Q x n_way` relation logits, so that pairs are evaluated
    /// once.
    fn scores_and_pairs(
        &self,
        query: &Tensor,
        support: &Tensor,
        support_labels: &[u32],
        n_way: usize,
    ) -> Result<(Tensor, Option<Tensor>)> {
        match &self.kind {
            HeadKind::Prototypical => {
                let prototypes = centroids(support, support_labels, n_way)?;
                Ok((SquaredL2.pairwise(query, &prototypes)?.neg()?, None))
            }
            HeadKind::Matching { scale } => {
                let similarities = CosineSimilarity.pairwise(query, support)?.affine(*scale, 0.0)?;
                let attention = candle_nn::ops::softmax(&similarities, D::Minus1)?;
                let membership = one_hot(support_labels, n_way, attention.dtype(), attention.device())?;
                Ok((attention.matmul(&membership)?, None))
            }
            HeadKind::Relation(module, _) => {
                let prototypes = centroids(support, support_labels, n_way)?;
                let logits = module.pairwise_logits(query, &prototypes)?;
                Ok((candle_nn::ops::sigmoid(&logits)?, Some(logits)))
            }
            HeadKind::Siamese(kernel) => {
                let (pairs, logits) = match kernel {
                    SiameseKernel::Fixed(kernel) => {
                        let values = kernel.pairwise(query, support)?;
                        let values = if kernel.is_distance() { values.neg()? } else { values };
                        (values, None)
                    }
                    SiameseKernel::Learnt(kernel) => {
                        let logits = kernel.pairwise_logits(query, support)?;
                        (candle_nn::ops::sigmoid(&logits)?, Some(logits))
                    }
                };
                Ok((class_means(&pairs, support_labels, n_way)?, logits))
            }
        }
    }
}

/// Averages the `Q x S` pair values over the support items of each class, giving `Q x n_way`.
///
/// A class without support items scores 0, the neutral value of a similarity; episodes give
/// every class at least one item.
fn class_means(pairs: &Tensor, support_labels: &[u32], n_way: usize) -> Result<Tensor> {
    let membership = one_hot(support_labels, n_way, DType::F32, pairs.device())?.to_dtype(pairs.dtype())?;
    let counts = membership.sum_keepdim(0)?.clamp(1.0, f64::INFINITY)?;
    Ok(pairs.matmul(&membership.broadcast_div(&counts)?)?)
}
