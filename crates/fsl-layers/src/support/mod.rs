//! Support layers: kernel values between embeddings and a support set.
//!
//! - [`GramMatrix`]: the support set is the batch itself, `B x B`.
//! - [`CentroidsMatrix`]: the support set is the prototypes of its classes, `Q x C`.
//! - [`SupportSetClassifier`]: a stored, labelled support set that predicts label names.

mod centroids;
mod centroids_matrix;
mod classifier;
mod gram;

pub use centroids::{Prototypes, centroids, prototypes};
pub use centroids_matrix::{Activation, CentroidsMatrix};
pub use classifier::{Prediction, SupportSetClassifier};
pub use gram::GramMatrix;
