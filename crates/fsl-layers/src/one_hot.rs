//! One-hot label matrices.

use candle_core::{DType, Device, Tensor};

use crate::{Error, Result};

/// Builds the `B x n_classes` one-hot matrix of `labels`, each in `0..n_classes`.
pub fn one_hot(labels: &[u32], n_classes: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let mut values = vec![0f32; labels.len() * n_classes];
    for (position, &label) in labels.iter().enumerate() {
        if label as usize >= n_classes {
            return Err(Error::LabelOutOfRange {
                label,
                position,
                n_classes,
            });
        }
        values[position * n_classes + label as usize] = 1.0;
    }

    let matrix = Tensor::from_vec(values, (labels.len(), n_classes), device)?;
    Ok(matrix.to_dtype(dtype)?)
}

/// Encodes arbitrary labels as class codes in order of first appearance.
///
/// Returns the code of every label and the distinct labels, so that code `i` maps back to
/// `classes[i]`.
pub fn encode_labels<L: Clone + Eq + std::hash::Hash>(labels: &[L]) -> (Vec<u32>, Vec<L>) {
    let mut codes = Vec::with_capacity(labels.len());
    let mut classes: Vec<L> = Vec::new();
    let mut index = std::collections::HashMap::new();

    for label in labels {
        let code = *index.entry(label.clone()).or_insert_with(|| {
            classes.push(label.clone());
            classes.len() as u32 - 1
        });
        codes.push(code);
    }
    (codes, classes)
}
