//! The Gram matrix: a kernel evaluated on every pair of items of one batch.

use candle_core::Tensor;

use crate::Result;
use crate::kernel::Kernel;

/// Kernel values between every pair of items of a batch, `B x D` to `B x B`.
///
/// The support set is the batch itself; losses and metrics on Gram matrices (in [`crate::loss`]
/// and [`crate::metrics`]) compare it with the batch's label matrix.
#[derive(Debug, Clone, Copy, Default)]
pub struct GramMatrix<K> {
    kernel: K,
}

impl<K: Kernel> GramMatrix<K> {
    /// Creates the layer around `kernel`.
    pub fn new(kernel: K) -> Self {
        Self { kernel }
    }

    /// Returns the kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Computes the `B x B` matrix of kernel values between the rows of `embeddings`.
    pub fn forward(&self, embeddings: &Tensor) -> Result<Tensor> {
        self.kernel.pairwise(embeddings, embeddings)
    }
}
