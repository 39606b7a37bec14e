//! The history of a training run: a CSV table and a training-curve picture.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::evaluate::EvaluationReport;
use crate::{Error, Result};

/// Training metrics at one point of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    /// Episodes trained so far.
    pub episode: usize,
    /// Mean training loss since the previous record.
    pub train_loss: f64,
    /// Mean training accuracy since the previous record.
    pub train_accuracy: f64,
    /// Validation accuracy at this point, if validation ran.
    pub validation: Option<EvaluationReport>,
}

/// The records of a training run, in episode order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One record per validation (or per training end).
    pub records: Vec<HistoryRecord>,
}

impl History {
    /// Formats the history as CSV with a header row; missing validation values are empty cells.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("episode,train_loss,train_accuracy,validation_accuracy,validation_ci95\n");
        for record in &self.records {
            let (accuracy, ci) = match &record.validation {
                Some(report) => (report.mean_accuracy.to_string(), report.confidence_95.to_string()),
                None => (String::new(), String::new()),
            };
            // Writing to a String cannot fail.
            let _ = writeln!(
                csv,
                "{},{},{},{accuracy},{ci}",
                record.episode, record.train_loss, record.train_accuracy
            );
        }
        csv
    }

    /// Writes [`to_csv`](Self::to_csv) to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_csv()).map_err(|e| Error::io("write", path, e))
    }

    /// Draws training loss, training accuracy and validation accuracy against episodes as a PNG.
    ///
    /// Axis labels need a TrueType font; the first of a few common system fonts found is used,
    /// and without one the curves are drawn unlabelled.
    pub fn plot(&self, path: &Path) -> Result<()> {
        let plot_error = |reason: String| Error::Plot {
            path: path.to_path_buf(),
            reason,
        };
        if self.records.is_empty() {
            return Err(plot_error("the history has no records".into()));
        }
        let labelled = crate::font::register_system_font();

        let root = BitMapBackend::new(path, (960, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(e.to_string()))?;
        let (left, right) = root.split_horizontally(480);

        // A margin after the last episode keeps its marker inside the plot.
        let last = self.records.last().map_or(1, |r| r.episode).max(1) as f64 * 1.03;
        let max_loss = self
            .records
            .iter()
            .map(|r| r.train_loss)
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.05;

        let losses: Vec<(f64, f64)> = self.records.iter().map(|r| (r.episode as f64, r.train_loss)).collect();
        draw_panel(
            &left,
            "training loss",
            (0.0, last),
            (0.0, max_loss),
            &[("train loss", &losses, RED)],
            labelled,
        )
        .map_err(plot_error)?;

        let train_accuracy: Vec<(f64, f64)> = self
            .records
            .iter()
            .map(|r| (r.episode as f64, r.train_accuracy))
            .collect();
        let validation_accuracy: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter_map(|r| r.validation.map(|v| (r.episode as f64, v.mean_accuracy)))
            .collect();
        let series = [
            ("train accuracy", &train_accuracy, BLUE),
            ("validation accuracy", &validation_accuracy, GREEN),
        ];
        draw_panel(&right, "accuracy", (0.0, last), (0.0, 1.0), &series, labelled).map_err(plot_error)?;

        root.present().map_err(|e| plot_error(e.to_string()))
    }
}

type Panel<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A named line of `(episode, value)` points and its colour.
type Series<'a> = (&'a str, &'a Vec<(f64, f64)>, RGBColor);

fn draw_panel(
    area: &Panel<'_>,
    title: &str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    series: &[Series<'_>],
    labelled: bool,
) -> std::result::Result<(), String> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(15);
    if labelled {
        builder
            .caption(title, ("sans-serif", 20))
            .x_label_area_size(35)
            .y_label_area_size(50);
    }
    let mut chart = builder
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(|e| e.to_string())?;

    let mut mesh = chart.configure_mesh();
    if labelled {
        // Episodes are whole numbers.
        mesh.x_desc("episode")
            .x_label_formatter(&|episode| format!("{episode:.0}"));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| e.to_string())?;

    for (name, points, color) in series {
        if points.is_empty() {
            continue;
        }
        // Markers keep a history of a single record visible, where a line has no length.
        let drawn = chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)).point_size(3))
            .map_err(|e| e.to_string())?;
        if labelled {
            let color = *color;
            drawn
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
