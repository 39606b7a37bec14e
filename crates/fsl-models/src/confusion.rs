//! A confusion matrix over the classes of many episodes, kept sparse because an evaluation set
//! may have hundreds of classes of which each query meets only a few.

use std::collections::BTreeMap;
use std::fmt::Display;

/// Counts of (true class, predicted class) pairs, with per-class accuracy.
///
/// ```
/// use fsl_models::ConfusionMatrix;
///
/// let mut matrix = ConfusionMatrix::default();
/// for (class, predicted) in [("a", "a"), ("a", "b"), ("b", "b"), ("a", "a")] {
///     matrix.add(class, predicted);
/// }
/// assert_eq!(matrix.count(&"a", &"b"), 1);
///
/// let a = &matrix.per_class()[0];
/// assert_eq!((a.class, a.queries, a.correct), ("a", 3, 2));
/// assert_eq!(matrix.to_csv(), "class,predicted,count\na,a,2\na,b,1\nb,b,1\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix<L: Ord> {
    counts: BTreeMap<(L, L), u64>,
}

impl<L: Ord> Default for ConfusionMatrix<L> {
    fn default() -> Self {
        Self {
            counts: BTreeMap::new(),
        }
    }
}

/// How often the queries of one class were labelled correctly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassAccuracy<L> {
    /// The class.
    pub class: L,
    /// Queries of the class.
    pub queries: u64,
    /// Queries of the class predicted as the class.
    pub correct: u64,
}

impl<L> ClassAccuracy<L> {
    /// Returns `correct / queries`.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.queries as f64
    }
}

impl<L: Ord + Clone + Display> ConfusionMatrix<L> {
    /// Counts one query of class `class` predicted as `predicted`.
    pub fn add(&mut self, class: L, predicted: L) {
        *self.counts.entry((class, predicted)).or_insert(0) += 1;
    }

    /// Returns how many queries of `class` were predicted as `predicted`.
    pub fn count(&self, class: &L, predicted: &L) -> u64 {
        self.counts
            .get(&(class.clone(), predicted.clone()))
            .copied()
            .unwrap_or(0)
    }

    /// Returns the total number of queries counted.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Returns the accuracy of every class that had queries, in class order.
    pub fn per_class(&self) -> Vec<ClassAccuracy<L>> {
        let mut classes: Vec<ClassAccuracy<L>> = Vec::new();
        for ((class, predicted), &count) in &self.counts {
            if classes.last().is_none_or(|last| &last.class != class) {
                classes.push(ClassAccuracy {
                    class: class.clone(),
                    queries: 0,
                    correct: 0,
                });
            }
            let entry = classes.last_mut().expect("an entry was pushed for this class");
            entry.queries += count;
            if class == predicted {
                entry.correct += count;
            }
        }
        classes
    }

    /// Writes the non-zero cells as CSV rows `class,predicted,count`, in class order; a long
    /// table that spreadsheet and dataframe tools pivot into the square matrix.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("class,predicted,count\n");
        for ((class, predicted), count) in &self.counts {
            csv.push_str(&format!(
                "{},{},{count}\n",
                csv_field(&class.to_string()),
                csv_field(&predicted.to_string())
            ));
        }
        csv
    }
}

/// Quotes a CSV field when it contains a comma, a quote or a line break.
pub(crate) fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}
