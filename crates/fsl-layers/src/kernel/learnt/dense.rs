//! A fully connected layer, the building block of the learnt kernels.

use candle_core::Tensor;

use crate::params::ParamBuilder;
use crate::{Error, Result};

/// An affine map `x Wᵀ + b` from `M x inputs` to `M x outputs`, with the weight `outputs x inputs`
/// and the bias `outputs` (PyTorch's `Linear` layout).
///
/// A convolution whose kernel spans all its input rows at one position, as in the learnt kernels,
/// is this layer applied to every position: the positions are stacked as rows of `x`.
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    /// Creates the layer with PyTorch's default initialisation: weight and bias uniform in
    /// `±1/√inputs`. `inputs` must be positive.
    pub(crate) fn init(inputs: usize, outputs: usize, params: &ParamBuilder) -> Result<Self> {
        let bound = 1.0 / (inputs as f64).sqrt();
        let weight = params.uniform("weight", (outputs, inputs), bound)?;
        let bias = params.uniform("bias", outputs, bound)?;
        Ok(Self { weight, bias })
    }

    /// Wraps an `outputs x inputs` weight and an `outputs` bias; `layer` names the layer in errors.
    pub(crate) fn new(operation: &'static str, layer: &str, weight: Tensor, bias: Tensor) -> Result<Self> {
        let valid = match weight.dims() {
            &[outputs, inputs] => outputs > 0 && inputs > 0 && bias.dims() == [outputs],
            _ => false,
        };
        if !valid {
            return Err(Error::ShapeMismatch {
                operation,
                details: format!(
                    "{layer} weight of shape {:?} and bias of shape {:?}; expected a non-empty outputs x inputs \
                     weight and a bias of size outputs",
                    weight.dims(),
                    bias.dims()
                ),
            });
        }
        Ok(Self { weight, bias })
    }

    /// Returns the number of input features.
    pub(crate) fn inputs(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Returns the number of output features.
    pub(crate) fn outputs(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Returns the weight, `outputs x inputs`.
    pub(crate) fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Applies the layer to the rows of `x` (`M x inputs`), giving `M x outputs`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?)
    }
}

/// Checks that layer `next` reads the outputs of layer `previous`, naming both weight shapes.
pub(crate) fn check_chain(operation: &'static str, previous: (&str, &Dense), next: (&str, &Dense)) -> Result<()> {
    let ((previous_name, previous), (next_name, next)) = (previous, next);
    if previous.outputs() != next.inputs() {
        return Err(Error::ShapeMismatch {
            operation,
            details: format!(
                "{next_name} weight of shape {:?} does not read the {} outputs of the {previous_name} weight of \
                 shape {:?}",
                next.weight.dims(),
                previous.outputs(),
                previous.weight.dims()
            ),
        });
    }
    Ok(())
}
