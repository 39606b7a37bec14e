//! Kernel values between queries and class prototypes.

use candle_core::{D, Tensor};

use super::centroids::centroids;
use crate::Result;
use crate::kernel::Kernel;

/// The function [`CentroidsMatrix`] applies to its `Q x C` kernel values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Activation {
    /// The kernel values themselves.
    #[default]
    Identity,
    /// A softmax over the classes of each query. For a distance kernel it is taken of the negated
    /// values, so that the nearest prototype gets the largest probability: with
    /// [`crate::SquaredL2`] this is the output of prototypical networks. See
    /// [`CentroidsMatrix::with_temperature`] to sharpen or soften it.
    Softmax,
}

/// Kernel values between queries and the centroid of every class of a support set.
///
/// The support set `S x D` with its labels gives `C` prototypes, the mean embedding of each
/// class (see [`centroids`]). The layer returns the `Q x C` kernel values of the queries against
/// them, with an optional [`Activation`]. Every class must have a support item: an absent class is
/// an [`crate::Error::EmptyClass`], never a zero prototype.
#[derive(Debug, Clone, Copy, Default)]
pub struct CentroidsMatrix<K> {
    kernel: K,
    activation: Activation,
    temperature: Option<f64>,
}

impl<K: Kernel> CentroidsMatrix<K> {
    /// Creates the layer around `kernel`, with no activation.
    pub fn new(kernel: K) -> Self {
        Self {
            kernel,
            activation: Activation::Identity,
            temperature: None,
        }
    }

    /// Returns the layer with `activation` applied to its output.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Returns the layer with the softmax taken of the scores divided by `temperature`.
    ///
    /// Similarities in `[0, 1]` (cosine, learnt kernels) differ by less than 1 between classes,
    /// so their plain softmax is nearly uniform. A temperature below 1 sharpens it.
    pub fn with_temperature(mut self, temperature: f64) -> Result<Self> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(crate::Error::InvalidArgument {
                name: "temperature",
                value: temperature.to_string(),
                reason: "the softmax temperature must be a finite number above 0",
            });
        }
        self.temperature = Some(temperature);
        Ok(self)
    }

    /// Returns the kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Computes the `Q x n_classes` output for `queries` (`Q x D`) against the prototypes of
    /// `support` (`S x D`), whose row `i` belongs to class `support_labels[i]`.
    pub fn forward(
        &self,
        queries: &Tensor,
        support: &Tensor,
        support_labels: &[u32],
        n_classes: usize,
    ) -> Result<Tensor> {
        let prototypes = centroids(support, support_labels, n_classes)?;
        let values = self.kernel.pairwise(queries, &prototypes)?;

        match self.activation {
            Activation::Identity => Ok(values),
            Activation::Softmax => {
                let scores = if self.kernel.is_distance() {
                    values.neg()?
                } else {
                    values
                };
                let scores = match self.temperature {
                    Some(temperature) => (scores / temperature)?,
                    None => scores,
                };
                Ok(candle_nn::ops::softmax(&scores, D::Minus1)?)
            }
        }
    }
}
