//! Progress bars for long loops.

use indicatif::{ProgressBar, ProgressStyle};

/// Creates a progress bar on standard error; it draws nothing when standard error is not a
/// terminal, so logs and CI output stay clean.
pub(crate) fn progress_bar(length: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let style = ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {prefix}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}
