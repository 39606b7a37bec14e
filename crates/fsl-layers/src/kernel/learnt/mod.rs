//! Learnt kernels: small networks that score a pair of embeddings, trained with the encoder.

/// Implements [`Kernel`] for a learnt kernel whose value is the sigmoid of its logits, on pairs
/// and on every pair of two sets alike.
macro_rules! sigmoid_kernel {
    ($kernel:ty) => {
        impl $crate::kernel::Kernel for $kernel {
            fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
                Ok(candle_nn::ops::sigmoid(&self.logits(x, y)?)?)
            }

            fn is_distance(&self) -> bool {
                false
            }

            fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
                Ok(candle_nn::ops::sigmoid(&self.pairwise_logits(a, b)?)?)
            }
        }
    };
}

mod dense;
mod dense_sigmoid;
mod learnt_norms;
mod mixed_norms;
mod relation;

use candle_core::Tensor;

pub use dense_sigmoid::DenseSigmoid;
pub use learnt_norms::{LearntNorms, OutputActivation};
pub use mixed_norms::MixedNorms;
pub use relation::RelationModule;

use super::{Kernel, PAIRS_PER_CHUNK, pairwise_in_chunks};
use crate::{Error, Result};

/// A kernel whose value is an activation of a learnt logit: `pairs(x, y) = f(logits(x, y))`.
///
/// Learnt kernels are the heads of siamese networks. Each one computes a logit from the pair and returns
/// its activation, by default a sigmoid, so the value is a similarity in `(0, 1)`.
/// [`LearntKernel::logits`] exposes the logit itself for losses such as binary cross-entropy with
/// logits, which stay finite where a saturated sigmoid would not.
///
/// - [`DenseSigmoid`]: `σ(w · |x - x'| + b)`.
/// - [`MixedNorms`]: a network applied to `[x⊙x', x+x', |x-x'|, (x-x')²]` at each coordinate, then a
///   dense output.
/// - [`LearntNorms`]: a network applied to `[x, x']` at each coordinate, then a dense output.
/// - [`RelationModule`]: a two-layer perceptron on the concatenation `[x, x']`.
///
/// Each of these kernels has a `new` constructor, which creates its parameters through a
/// [`ParamBuilder`](crate::params::ParamBuilder) so that they are named, seeded, saved and trained
/// with the rest of the model. Its `from_tensors` constructor wraps given weights instead.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use fsl_layers::kernel::{DenseSigmoid, Kernel, LearntKernel};
/// use fsl_layers::params::ParamStore;
///
/// # fn main() -> fsl_layers::Result<()> {
/// let store = ParamStore::new(7, DType::F32, &Device::Cpu);
/// let head = DenseSigmoid::new(3, &store.builder().push("head"))?;
///
/// let queries = Tensor::new(&[[0f32, 1., 2.], [1., 1., 1.]], &Device::Cpu)?;
/// let support = Tensor::new(&[[0f32, 1., 2.], [5., 0., 0.], [1., 2., 3.]], &Device::Cpu)?;
/// let similarities = head.pairwise(&queries, &support)?;
/// assert_eq!(similarities.dims(), [2, 3]);
///
/// let logits = head.pairwise_logits(&queries, &support)?;
/// let expected = candle_nn::ops::sigmoid(&logits)?;
/// let difference = (similarities - expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
/// assert!(difference < 1e-6);
/// # Ok(())
/// # }
/// ```
///
/// Training one is training its store's variables, for example with candle-nn's AdamW on the
/// binary cross-entropy of the Gram matrix of a labelled batch:
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{AdamW, Optimizer, ParamsAdamW};
/// use fsl_layers::kernel::{LearntKernel, RelationModule};
/// use fsl_layers::loss::binary_crossentropy_with_logits;
/// use fsl_layers::{one_hot, params::ParamStore};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = ParamStore::new(0, DType::F32, &Device::Cpu);
/// let head = RelationModule::new(2, 8, &store.builder())?;
/// let mut optimizer = AdamW::new(store.trainable(), ParamsAdamW { lr: 0.05, ..Default::default() })?;
///
/// let batch = Tensor::new(&[[0f32, 0.], [0.1, 0.], [3., 3.], [3., 2.9]], &Device::Cpu)?;
/// let labels = one_hot(&[0, 0, 1, 1], 2, DType::F32, &Device::Cpu)?;
/// let same_class = labels.matmul(&labels.t()?)?;
///
/// let loss = |head: &RelationModule| -> fsl_layers::Result<f32> {
///     binary_crossentropy_with_logits(&head.pairwise_logits(&batch, &batch)?, &same_class)?
///         .to_scalar::<f32>()
///         .map_err(Into::into)
/// };
/// let before = loss(&head)?;
/// for _ in 0..50 {
///     let logits = head.pairwise_logits(&batch, &batch)?;
///     optimizer.backward_step(&binary_crossentropy_with_logits(&logits, &same_class)?)?;
/// }
/// assert!(loss(&head)? < before / 2.0);
/// # Ok(())
/// # }
/// ```
pub trait LearntKernel: Kernel {
    /// Computes the logits on aligned pairs: row `i` of `x` (`N x D`) against row `i` of `y`,
    /// giving `N` values before the output activation.
    fn logits(&self, x: &Tensor, y: &Tensor) -> Result<Tensor>;

    /// Computes the `A x B` matrix of logits between the rows of `a` (`A x D`) and of `b`
    /// (`B x D`), in chunks of at most [`PAIRS_PER_CHUNK`] pairs like [`Kernel::pairwise`].
    fn pairwise_logits(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        pairwise_in_chunks(&LogitsOf(self), a, b, PAIRS_PER_CHUNK)
    }
}

/// Views the logits of a learnt kernel as a kernel, to reuse the chunked pairwise evaluation.
struct LogitsOf<'a, K: ?Sized>(&'a K);

impl<K: LearntKernel + ?Sized> Kernel for LogitsOf<'_, K> {
    fn pairs(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.0.logits(x, y)
    }

    fn is_distance(&self) -> bool {
        false
    }
}

/// Rejects a size of 0, for which no layer can be initialised.
fn check_positive(name: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::InvalidArgument {
            name,
            value: "0".into(),
            reason: "a learnt kernel needs at least one embedding coordinate and one hidden unit",
        });
    }
    Ok(())
}

/// Checks that two inputs have embeddings of size `dim` along their second axis, which contains the
/// columns of a matrix and the channels of feature maps. `weight` is the parameter that fixes `dim`.
fn check_embedding_size(
    operation: &'static str,
    x: &Tensor,
    y: &Tensor,
    dim: usize,
    weight: (&str, &Tensor),
) -> Result<()> {
    let columns = |t: &Tensor| t.dims().get(1).copied();
    if columns(x) != Some(dim) || columns(y) != Some(dim) {
        let (weight_name, weight) = weight;
        return Err(Error::ShapeMismatch {
            operation,
            details: format!(
                "inputs of shapes {:?} and {:?}; the kernel compares embeddings of size {dim} (its {weight_name} \
                 weight has shape {:?})",
                x.dims(),
                y.dims(),
                weight.dims()
            ),
        });
    }
    Ok(())
}
