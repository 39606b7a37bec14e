//! The official 20-way one-shot classification runs of Lake et al. (2015).
//!
//! The archive (zip or folder, optionally under one top-level folder) contains `run01` … `run20`.
//! Each run has `training/class01.png` … (the support set, one image per character),
//! `test/item01.png` … (the queries) and `class_labels.txt` with one line per query:
//! `runNN/test/itemXX.png runNN/training/classYY.png`, paths relative to the archive root.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::source::{Entry, read_entries};

const CLASS_LABELS: &str = "class_labels.txt";
const SUPPORT_FOLDER: &str = "training";
const QUERY_FOLDER: &str = "test";

/// One run: a support set, queries, and the correct support image of each query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneShotRun {
    /// The run folder name, e.g. `run01`.
    pub name: String,
    /// Support images as (file name, encoded bytes), sorted by file name.
    pub support: Vec<(String, Vec<u8>)>,
    /// Query images as (file name, encoded bytes), sorted by file name.
    pub queries: Vec<(String, Vec<u8>)>,
    /// For `queries[i]`, the index into `support` of its correct class.
    pub answers: Vec<usize>,
}

/// Reads all runs of an archive or folder, sorted by run name.
///
/// The lines are matched to queries and support images by file name, so the lines of `class_labels.txt` may come in any order.
///
/// # Errors
///
/// [`Error::NotFound`] or [`Error::Zip`] when the archive cannot be read,
/// [`Error::NoImages`] when it has no `runNN` folder, and [`Error::InvalidRun`] naming the run
/// and line for a missing `class_labels.txt`, a malformed or duplicate line, a line naming a
/// file that does not exist, or a query without a line.
pub fn read_runs(path: &Path) -> Result<Vec<OneShotRun>> {
    let entries = read_entries(path, |_| true)?;

    let mut runs: BTreeMap<String, RunFiles> = BTreeMap::new();
    for Entry { path: entry, bytes } in entries {
        let parts: Vec<&str> = entry.split('/').collect();
        let Some(position) = parts.iter().position(|part| is_run_name(part)) else {
            continue;
        };
        let run = runs.entry(parts[position].to_owned()).or_default();
        match &parts[position + 1..] {
            [file] if *file == CLASS_LABELS => run.class_labels = Some(bytes),
            [folder, file] if *folder == SUPPORT_FOLDER => {
                run.support.insert((*file).to_owned(), bytes);
            }
            [folder, file] if *folder == QUERY_FOLDER => {
                run.queries.insert((*file).to_owned(), bytes);
            }
            _ => {}
        }
    }

    if runs.is_empty() {
        return Err(Error::NoImages {
            path: path.to_owned(),
            expected: "folders run01, run02, … with training/, test/ and class_labels.txt".to_owned(),
        });
    }

    let runs: Vec<OneShotRun> = runs
        .into_iter()
        .map(|(name, files)| files.into_run(name))
        .collect::<Result<_>>()?;
    tracing::info!(path = %path.display(), runs = runs.len(), "read one-shot runs");

    Ok(runs)
}

#[derive(Default)]
struct RunFiles {
    class_labels: Option<Vec<u8>>,
    support: BTreeMap<String, Vec<u8>>,
    queries: BTreeMap<String, Vec<u8>>,
}

impl RunFiles {
    fn into_run(self, name: String) -> Result<OneShotRun> {
        let invalid = |line: Option<usize>, reason: String| Error::InvalidRun {
            run: name.clone(),
            line,
            reason,
        };
        let Some(class_labels) = self.class_labels else {
            return Err(invalid(None, format!("{name}/{CLASS_LABELS} is missing")));
        };
        let class_labels = String::from_utf8(class_labels)
            .map_err(|_| invalid(None, format!("{name}/{CLASS_LABELS} is not UTF-8 text")))?;

        let support: Vec<(String, Vec<u8>)> = self.support.into_iter().collect();
        let queries: Vec<(String, Vec<u8>)> = self.queries.into_iter().collect();
        if support.is_empty() || queries.is_empty() {
            return Err(invalid(
                None,
                format!(
                    "expected images in {name}/{SUPPORT_FOLDER} and {name}/{QUERY_FOLDER}, \
                     found {} support and {} query images",
                    support.len(),
                    queries.len()
                ),
            ));
        }

        let mut answers: Vec<Option<usize>> = vec![None; queries.len()];
        for (index, line) in class_labels.lines().enumerate() {
            let number = Some(index + 1);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }

            let fields: Vec<&str> = line.split_whitespace().collect();
            let [query_path, support_path] = fields[..] else {
                return Err(invalid(
                    number,
                    format!("expected \"<query path> <support path>\", found {line:?}"),
                ));
            };
            let query = find(&queries, query_path, &name, QUERY_FOLDER).map_err(|reason| invalid(number, reason))?;
            let class =
                find(&support, support_path, &name, SUPPORT_FOLDER).map_err(|reason| invalid(number, reason))?;

            if answers[query].replace(class).is_some() {
                return Err(invalid(number, format!("query {query_path} is listed more than once")));
            }
        }

        let answers = answers
            .into_iter()
            .zip(&queries)
            .map(|(answer, (file, _))| {
                answer.ok_or_else(|| {
                    invalid(
                        None,
                        format!("query {name}/{QUERY_FOLDER}/{file} has no line in {CLASS_LABELS}"),
                    )
                })
            })
            .collect::<Result<_>>()?;

        Ok(OneShotRun {
            name,
            support,
            queries,
            answers,
        })
    }
}

/// Returns the index of the file a `class_labels.txt` path names, checking that the path points
/// into `<run>/<folder>/`.
fn find(files: &[(String, Vec<u8>)], path: &str, run: &str, folder: &str) -> std::result::Result<usize, String> {
    let parts: Vec<&str> = path.split('/').collect();
    let expected = format!("{run}/{folder}/<file>");
    let [.., parent_run, parent, file] = parts[..] else {
        return Err(format!("path {path} is not of the form {expected}"));
    };
    if parent_run != run || parent != folder {
        return Err(format!("path {path} is not of the form {expected}"));
    }

    files
        .binary_search_by(|(name, _)| name.as_str().cmp(file))
        .map_err(|_| format!("{path} does not exist in the archive"))
}

/// Returns true for `run` followed by digits, e.g. `run01`.
fn is_run_name(name: &str) -> bool {
    name.strip_prefix("run")
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}
