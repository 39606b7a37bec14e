//! A classifier against a labelled support set, for serving a trained encoder.

use std::collections::HashMap;
use std::hash::Hash;

use candle_core::Tensor;

use crate::kernel::Kernel;
use crate::loss::class_consistency_loss;
use crate::one_hot::one_hot;
use crate::{Error, Result};

/// The prediction for one query.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction<L> {
    /// The best class.
    pub label: L,
    /// The best class's score: the mean kernel value between the query and its support items.
    pub score: f64,
    /// The score of every class, in the order of [`SupportSetClassifier::classes`].
    pub scores: Vec<f64>,
}

/// Classifies queries by their mean kernel value to the support items of each class.
///
/// The support set contains embeddings with label names of any type `L` (strings, ids). It can be
/// set, extended with new items or classes, and have some classes' items replaced, without
/// touching the encoder: adding a class at serving time is adding its embeddings. The score of a
/// query for a class is the mean kernel value over that class's support items. The best class has
/// the smallest mean for a distance kernel and the largest for a similarity.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use fsl_layers::{SquaredL2, SupportSetClassifier};
///
/// # fn main() -> fsl_layers::Result<()> {
/// let support = Tensor::new(&[[0f32, 0.], [0., 1.], [5., 5.]], &Device::Cpu)?;
/// let mut classifier = SupportSetClassifier::new(SquaredL2);
/// classifier.set_support(&support, &["cat", "cat", "dog"])?;
///
/// let queries = Tensor::new(&[[0f32, 0.5], [4., 5.]], &Device::Cpu)?;
/// let predictions = classifier.predict(&queries)?;
/// assert_eq!(predictions[0].label, "cat");
/// assert_eq!(predictions[1].label, "dog");
/// assert!((predictions[1].score - 1.0).abs() < 1e-5);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SupportSetClassifier<K, L> {
    kernel: K,
    support: Option<Tensor>,
    codes: Vec<u32>,
    classes: Vec<L>,
}

impl<K: Kernel, L: Clone + Eq + Hash> SupportSetClassifier<K, L> {
    /// Creates a classifier with `kernel` and an empty support set.
    pub fn new(kernel: K) -> Self {
        Self {
            kernel,
            support: None,
            codes: Vec::new(),
            classes: Vec::new(),
        }
    }

    /// Returns the kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Returns the classes of the support set, in order of first appearance.
    pub fn classes(&self) -> &[L] {
        &self.classes
    }

    /// Returns the number of support items.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Returns whether the support set is empty.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Returns the support embeddings (`S x D`) and the class index of each, if any were set.
    pub fn support(&self) -> Option<(&Tensor, &[u32])> {
        self.support.as_ref().map(|support| (support, self.codes.as_slice()))
    }

    /// Replaces the whole support set with `embeddings` (`S x D`) labelled by `labels`.
    pub fn set_support(&mut self, embeddings: &Tensor, labels: &[L]) -> Result<()> {
        check_items(embeddings, labels.len(), None)?;

        self.transaction(|state| {
            state.support = None;
            state.codes.clear();
            state.classes.clear();
            state.append(embeddings, labels)
        })
    }

    /// Adds support items. Their labels may be new classes or existing ones.
    pub fn extend_support(&mut self, embeddings: &Tensor, labels: &[L]) -> Result<()> {
        check_items(embeddings, labels.len(), self.support.as_ref())?;
        self.transaction(|state| state.append(embeddings, labels))
    }

    /// Replaces the support items of every class named in `labels` by the given ones. The other
    /// classes keep theirs. A class not yet in the support set is added.
    pub fn replace_classes(&mut self, embeddings: &Tensor, labels: &[L]) -> Result<()> {
        check_items(embeddings, labels.len(), self.support.as_ref())?;

        self.transaction(|state| {
            state.retain(|label| !labels.contains(label))?;
            state.append(embeddings, labels)
        })
    }

    /// Removes every support item of the classes in `labels` and returns how many were removed.
    pub fn remove_classes(&mut self, labels: &[L]) -> Result<usize> {
        let before = self.len();
        self.transaction(|state| state.retain(|label| !labels.contains(label)))?;
        Ok(before - self.len())
    }

    /// Computes the `Q x C` matrix of class scores of `queries` (`Q x D`): the mean kernel value
    /// between each query and the support items of each class. Differentiable.
    pub fn scores(&self, queries: &Tensor) -> Result<Tensor> {
        let support = self.support.as_ref().ok_or(Error::EmptySupport)?;

        let values = self.kernel.pairwise(queries, support)?;
        let membership = one_hot(&self.codes, self.classes.len(), values.dtype(), values.device())?;
        let counts = membership.sum_keepdim(0)?;
        Ok(values.matmul(&membership.broadcast_div(&counts)?)?)
    }

    /// Predicts the class of every query, with the score of every class.
    ///
    /// A query whose scores are not finite (a NaN or infinite embedding) is an
    /// [`Error::NonFinite`] naming its row rather than an arbitrary label.
    pub fn predict(&self, queries: &Tensor) -> Result<Vec<Prediction<L>>> {
        let scores = self
            .scores(queries)?
            .to_dtype(candle_core::DType::F64)?
            .to_vec2::<f64>()?;
        let distance = self.kernel.is_distance();

        scores
            .into_iter()
            .enumerate()
            .map(|(row, scores)| {
                if scores.iter().any(|score| !score.is_finite()) {
                    return Err(Error::NonFinite { name: "queries", row });
                }
                let better = |a: f64, b: f64| if distance { a < b } else { a > b };
                let best = (1..scores.len()).fold(0, |best, class| {
                    if better(scores[class], scores[best]) {
                        class
                    } else {
                        best
                    }
                });
                Ok(Prediction {
                    label: self.classes[best].clone(),
                    score: scores[best],
                    scores,
                })
            })
            .collect()
    }

    /// Computes the class-consistency loss of the support set against itself: the support
    /// items' Gram matrix averaged per pair of classes, compared with the identity (see
    /// [`crate::loss::class_consistency_loss`]).
    ///
    /// A low value means each class's items are similar to each other and unlike the other
    /// classes' items. The gradient reaches the kernel's own parameters (a learnt kernel can be
    /// tuned on a new support set) but not the encoder, since the support embeddings are stored
    /// without their graph. The loss needs similarities in `[0, 1]`: a distance kernel's values
    /// `d` enter as `exp(-d)`.
    pub fn consistency_loss(&self) -> Result<Tensor> {
        let support = self.support.as_ref().ok_or(Error::EmptySupport)?;

        let gram = self.kernel.pairwise(support, support)?;
        let similarities = if self.kernel.is_distance() {
            gram.neg()?.exp()?
        } else {
            gram
        };
        let labels = one_hot(
            &self.codes,
            self.classes.len(),
            similarities.dtype(),
            similarities.device(),
        )?;
        class_consistency_loss(&labels, &similarities)
    }

    /// Applies `change` to a copy of the support set and keeps the copy only if every step
    /// succeeded, so a failed call leaves the classifier as it was.
    fn transaction(&mut self, change: impl FnOnce(&mut State<L>) -> Result<()>) -> Result<()> {
        let mut state = State {
            support: self.support.clone(),
            codes: self.codes.clone(),
            classes: self.classes.clone(),
        };
        change(&mut state)?;

        self.support = state.support;
        self.codes = state.codes;
        self.classes = state.classes;
        Ok(())
    }
}

/// The support items and labels of a classifier, changed as a whole by
/// [`SupportSetClassifier::transaction`].
struct State<L> {
    support: Option<Tensor>,
    codes: Vec<u32>,
    classes: Vec<L>,
}

impl<L: Clone + Eq + Hash> State<L> {
    fn append(&mut self, embeddings: &Tensor, labels: &[L]) -> Result<()> {
        let mut index: HashMap<L, u32> = self
            .classes
            .iter()
            .enumerate()
            .map(|(code, label)| (label.clone(), code as u32))
            .collect();
        for label in labels {
            let code = *index.entry(label.clone()).or_insert_with(|| {
                self.classes.push(label.clone());
                self.classes.len() as u32 - 1
            });
            self.codes.push(code);
        }

        // The embeddings are stored without their graph: the support set outlives the step that
        // computed it, and serving needs no gradient back into the encoder.
        let embeddings = embeddings.detach();
        self.support = Some(match self.support.take() {
            Some(support) => Tensor::cat(&[&support, &embeddings], 0)?,
            None => embeddings,
        });
        Ok(())
    }

    /// Keeps the support items whose label satisfies `keep`, and the classes that still have one.
    fn retain(&mut self, keep: impl Fn(&L) -> bool) -> Result<()> {
        let Some(support) = self.support.take() else {
            return Ok(());
        };

        let kept_rows: Vec<u32> = (0..self.codes.len() as u32)
            .filter(|&row| keep(&self.classes[self.codes[row as usize] as usize]))
            .collect();
        let kept_classes: Vec<L> = self.classes.iter().filter(|label| keep(label)).cloned().collect();
        let old_to_new: HashMap<u32, u32> = self
            .classes
            .iter()
            .enumerate()
            .filter(|(_, label)| keep(label))
            .enumerate()
            .map(|(new, (old, _))| (old as u32, new as u32))
            .collect();

        self.codes = kept_rows
            .iter()
            .map(|&row| old_to_new[&self.codes[row as usize]])
            .collect();
        self.classes = kept_classes;
        if !kept_rows.is_empty() {
            let rows = Tensor::new(kept_rows.as_slice(), support.device())?;
            self.support = Some(support.index_select(&rows, 0)?);
        }
        Ok(())
    }
}

/// Checks new support items: a non-empty `S x D` matrix with one row per label, finite, and with
/// the embedding size of the current support set.
fn check_items(embeddings: &Tensor, labels: usize, current: Option<&Tensor>) -> Result<()> {
    let dims = embeddings.dims();
    if dims.len() != 2 || dims[0] != labels {
        return Err(Error::ShapeMismatch {
            operation: "support set",
            details: format!(
                "expected an S x D embedding matrix with one row per label ({labels} labels), got {dims:?}"
            ),
        });
    }
    if labels == 0 {
        return Err(Error::InvalidArgument {
            name: "labels",
            value: "[]".into(),
            reason: "give at least one labelled embedding",
        });
    }
    if !embeddings.dtype().is_float() {
        return Err(Error::UnsupportedDType {
            operation: "support set",
            dtype: embeddings.dtype(),
        });
    }
    if let Some(current) = current
        && (current.dtype() != embeddings.dtype() || !current.device().same_device(embeddings.device()))
    {
        return Err(Error::ShapeMismatch {
            operation: "support set",
            details: format!(
                "new embeddings are {:?} on {:?}, the support set is {:?} on {:?}; convert them with `to_dtype` or `to_device`",
                embeddings.dtype(),
                embeddings.device(),
                current.dtype(),
                current.device()
            ),
        });
    }
    if let Some(current) = current
        && current.dims()[1] != dims[1]
    {
        return Err(Error::ShapeMismatch {
            operation: "support set",
            details: format!(
                "new embeddings {dims:?} do not have the embedding size of the support set {:?}",
                current.dims()
            ),
        });
    }

    let first_non_finite = embeddings
        .to_dtype(candle_core::DType::F64)?
        .to_vec2::<f64>()?
        .iter()
        .position(|row| row.iter().any(|value| !value.is_finite()));
    if let Some(row) = first_non_finite {
        return Err(Error::NonFinite {
            name: "support embeddings",
            row,
        });
    }
    Ok(())
}
