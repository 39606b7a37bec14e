//! Random assignment of whole groups of rows to splits such as train, validation and test.

use std::sync::Arc;

use arrow::array::StringArray;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};
use crate::table::AnnotationTable;

/// Tolerance on the sum of split probabilities, which are often written as decimals.
const PROBABILITY_SUM_TOLERANCE: f64 = 1e-6;

impl AnnotationTable {
    /// Adds (or replaces) the Utf8 column `column` with a split drawn once per distinct value
    /// of `by`, so all rows of one group, e.g. one alphabet, land in the same split.
    ///
    /// Split `choices[i]` is drawn with probability `probabilities[i]`. Groups are visited in
    /// byte-wise sorted order, so the same seed gives the same assignment.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `choices` is empty, the two slices differ in length, or
    /// the probabilities are negative, not finite or do not sum to 1, and the errors of
    /// [`AnnotationTable::group_indices`] for `by`.
    pub fn with_group_split(
        &self,
        by: &str,
        choices: &[&str],
        probabilities: &[f64],
        seed: u64,
        column: &str,
    ) -> Result<Self> {
        check_probabilities(choices, probabilities)?;

        let groups = self.group_indices(by)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut splits = vec![""; self.num_rows()];
        for rows in groups.values() {
            let split = draw(choices, probabilities, rng.random::<f64>());
            for &row in rows {
                splits[row] = split;
            }
        }

        self.with_column(column, Arc::new(StringArray::from(splits)))
    }
}

fn check_probabilities(choices: &[&str], probabilities: &[f64]) -> Result<()> {
    if choices.is_empty() {
        return Err(Error::InvalidArgument("no split choices given".to_owned()));
    }
    if choices.len() != probabilities.len() {
        return Err(Error::InvalidArgument(format!(
            "{} split choices {choices:?} but {} probabilities {probabilities:?}",
            choices.len(),
            probabilities.len()
        )));
    }
    if probabilities.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(Error::InvalidArgument(format!(
            "split probabilities {probabilities:?} must be finite and non-negative"
        )));
    }

    let sum: f64 = probabilities.iter().sum();
    if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
        return Err(Error::InvalidArgument(format!(
            "split probabilities {probabilities:?} sum to {sum}, expected 1"
        )));
    }

    Ok(())
}

/// Returns the choice whose cumulative probability interval contains `uniform` in [0, 1).
fn draw<'a>(choices: &[&'a str], probabilities: &[f64], uniform: f64) -> &'a str {
    let mut cumulative = 0.0;
    for (choice, probability) in choices.iter().zip(probabilities) {
        cumulative += probability;
        if uniform < cumulative {
            return choice;
        }
    }

    // Rounding can leave the sum just below `uniform`, so the last choice with a non-zero
    // probability takes the remainder.
    let last = probabilities
        .iter()
        .rposition(|&probability| probability > 0.0)
        .unwrap_or(choices.len() - 1);
    choices[last]
}
