//! The PyTorch side of `cargo xtask bench --compare`: running `benches/pytorch_compare.py` and
//! setting its timings against the fsl ones.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::criterion_results::Measurement;
use crate::error::{Error, Result};
use crate::table::{self, Align};

/// Exit code with which `pytorch_compare.py` reports that `torch` cannot be imported.
pub const TORCH_MISSING_EXIT_CODE: i32 = 3;

/// One PyTorch timing and the fsl benchmark that runs the same workload.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTiming {
    /// The PyTorch variant, such as `torch.cdist` or `matmul`.
    pub workload: String,
    /// The criterion id of the matching fsl benchmark.
    pub fsl_id: String,
    /// Median time per iteration, in seconds.
    pub median_s: f64,
}

/// The timings of the script and the PyTorch setup that produced them.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchReport {
    /// `torch.__version__`.
    pub torch_version: String,
    /// Intra-op threads PyTorch used.
    pub threads: u64,
    /// The timings.
    pub timings: Vec<TorchTiming>,
}

/// The outcome of running the comparison script.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The script ran and wrote its results.
    Measured(TorchReport),
    /// The script could not run, for the reason given, which names what to install.
    Skipped(String),
}

/// Runs `python3 <script> --json <output>` and reads the results it writes.
pub fn run(script: &Path, output: &Path) -> Result<Outcome> {
    let mut command = Command::new("python3");
    command.arg(script).arg("--json").arg(output);
    let command_line = format!("python3 {} --json {}", script.display(), output.display());

    let status = match command.status() {
        Ok(status) => status,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Ok(Outcome::Skipped("python3 was not found on PATH".into()));
        }
        Err(source) => {
            return Err(Error::Spawn {
                command: command_line,
                source,
            });
        }
    };
    if status.code() == Some(TORCH_MISSING_EXIT_CODE) {
        return Ok(Outcome::Skipped("torch is not installed (pip install torch)".into()));
    }
    if !status.success() {
        return Err(Error::CommandFailed {
            command: command_line,
            status,
        });
    }

    let json = std::fs::read_to_string(output).map_err(|source| Error::Io {
        action: "read",
        path: output.to_path_buf(),
        source,
    })?;
    let report = parse_report(&json).map_err(|reason| Error::InvalidResults {
        path: output.to_path_buf(),
        reason,
    })?;
    Ok(Outcome::Measured(report))
}

/// Parses the JSON written by `pytorch_compare.py --json`.
pub fn parse_report(json: &str) -> std::result::Result<TorchReport, String> {
    let value: Value = serde_json::from_str(json).map_err(|error| format!("not JSON: {error}"))?;

    let torch_version = value
        .get("torch_version")
        .and_then(Value::as_str)
        .ok_or("missing string field `torch_version`")?
        .to_owned();
    let threads = value
        .get("threads")
        .and_then(Value::as_u64)
        .ok_or("missing integer field `threads`")?;
    let results = value
        .get("results")
        .and_then(Value::as_array)
        .ok_or("missing array field `results`")?;

    let mut timings = Vec::with_capacity(results.len());
    for (index, result) in results.iter().enumerate() {
        let field = |name: &str| {
            result
                .get(name)
                .ok_or_else(|| format!("results[{index}] has no field `{name}`"))
        };
        let text = |name: &str| {
            field(name)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("results[{index}].{name} is not a string"))
        };

        let median_s = field("median_s")?
            .as_f64()
            .ok_or_else(|| format!("results[{index}].median_s is not a number"))?;
        if !(median_s.is_finite() && median_s > 0.0) {
            return Err(format!(
                "results[{index}].median_s is {median_s}, expected a positive time in seconds"
            ));
        }
        timings.push(TorchTiming {
            workload: text("workload")?,
            fsl_id: text("fsl_id")?,
            median_s,
        });
    }
    Ok(TorchReport {
        torch_version,
        threads,
        timings,
    })
}

/// Renders the comparison table: one row per PyTorch timing with the matching fsl median and
/// the ratio fsl / PyTorch (below 1 means fsl is faster).
pub fn comparison_table(report: &TorchReport, measurements: &[Measurement]) -> String {
    let rows: Vec<Vec<String>> = report
        .timings
        .iter()
        .map(|timing| {
            let torch_ns = timing.median_s * 1e9;
            let fsl = measurements.iter().find(|measurement| measurement.id == timing.fsl_id);
            let (fsl_median, ratio) = match fsl {
                Some(measurement) => (
                    table::format_duration(measurement.median_ns),
                    format!("{:.2}", measurement.median_ns / torch_ns),
                ),
                None => ("not run".to_owned(), String::new()),
            };
            vec![
                timing.fsl_id.clone(),
                timing.workload.clone(),
                fsl_median,
                table::format_duration(torch_ns),
                ratio,
            ]
        })
        .collect();

    table::render(
        &[
            ("benchmark", Align::Left),
            ("PyTorch workload", Align::Left),
            ("fsl median", Align::Right),
            ("PyTorch median", Align::Right),
            ("fsl / PyTorch", Align::Right),
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT_JSON: &str = r#"{
        "torch_version": "2.5.1",
        "threads": 2,
        "results": [
            {"workload": "conv4 + Adam", "fsl_id": "training_step/conv4_adam/5w1s15q", "median_s": 0.05},
            {"workload": "torch.cdist squared", "fsl_id": "kernel/squared_l2/1024x1024_d1600", "median_s": 0.04}
        ]
    }"#;

    #[test]
    fn parses_report() {
        let report = parse_report(REPORT_JSON).unwrap();

        assert_eq!(report.torch_version, "2.5.1");
        assert_eq!(report.threads, 2);
        assert_eq!(report.timings.len(), 2);
        assert_eq!(
            report.timings[1],
            TorchTiming {
                workload: "torch.cdist squared".into(),
                fsl_id: "kernel/squared_l2/1024x1024_d1600".into(),
                median_s: 0.04,
            }
        );
    }

    #[test]
    fn rejects_report_without_positive_time() {
        let json =
            r#"{"torch_version": "2", "threads": 2, "results": [{"workload": "w", "fsl_id": "a", "median_s": 0}]}"#;
        let error = parse_report(json).unwrap_err();
        assert!(error.contains("results[0].median_s"), "{error}");

        let json = r#"{"torch_version": "2", "threads": 2, "results": [{"workload": "w", "median_s": 1}]}"#;
        let error = parse_report(json).unwrap_err();
        assert!(error.contains("fsl_id"), "{error}");
    }

    #[test]
    fn comparison_divides_fsl_by_pytorch() {
        let report = parse_report(REPORT_JSON).unwrap();
        let measurements = [Measurement {
            id: "training_step/conv4_adam/5w1s15q".into(),
            median_ns: 75e6,
            throughput: None,
        }];

        let table = comparison_table(&report, &measurements);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|line| line.split('|').map(str::trim).filter(|cell| !cell.is_empty()).collect())
            .collect();
        assert_eq!(rows.len(), 4, "{table}");
        assert_eq!(
            rows[2],
            [
                "training_step/conv4_adam/5w1s15q",
                "conv4 + Adam",
                "75.0 ms",
                "50.0 ms",
                "1.50"
            ]
        );
        assert_eq!(
            rows[3],
            [
                "kernel/squared_l2/1024x1024_d1600",
                "torch.cdist squared",
                "not run",
                "40.0 ms"
            ]
        );
    }

    #[test]
    fn missing_script_interpreter_or_torch_is_skipped() {
        // A script that exits with the code of the real one's missing-torch check replaces it,
        // so this test runs whether or not torch is installed.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake_compare.py");
        std::fs::write(&script, format!("import sys\nsys.exit({TORCH_MISSING_EXIT_CODE})\n")).unwrap();

        match run(&script, &dir.path().join("out.json")) {
            Ok(Outcome::Skipped(reason)) => assert!(
                reason.contains("pip install torch") || reason.contains("python3"),
                "{reason}"
            ),
            other => panic!("expected a skipped comparison, got {other:?}"),
        }
    }
}
