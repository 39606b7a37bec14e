//! Reading criterion's JSON results: `<criterion dir>/**/new/{benchmark,estimates}.json`.
//!
//! Criterion writes one directory per benchmark id. Its `new/benchmark.json` contains the id and
//! the declared throughput, and `new/estimates.json` contains the mean, median and other estimates of
//! the time per iteration, in nanoseconds.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::error::{Error, Result};

/// Work done by one iteration, as declared with `criterion::Throughput`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throughput {
    /// Bytes, reported with binary prefixes (KiB/s).
    Bytes(u64),
    /// Bytes, reported with decimal prefixes (KB/s).
    BytesDecimal(u64),
    /// Bits.
    Bits(u64),
    /// Elements such as images, items or floating-point operations.
    Elements(u64),
}

/// The result of one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Criterion's full id: `group/function/parameter`.
    pub id: String,
    /// Median time per iteration, in nanoseconds.
    pub median_ns: f64,
    /// Work per iteration, if the benchmark declared it.
    pub throughput: Option<Throughput>,
}

/// Parses the contents of a `benchmark.json` and an `estimates.json` of the same benchmark.
pub fn parse_measurement(benchmark_json: &str, estimates_json: &str) -> std::result::Result<Measurement, String> {
    let benchmark: Value =
        serde_json::from_str(benchmark_json).map_err(|error| format!("benchmark.json is not JSON: {error}"))?;
    let estimates: Value =
        serde_json::from_str(estimates_json).map_err(|error| format!("estimates.json is not JSON: {error}"))?;

    let id = benchmark
        .get("full_id")
        .and_then(Value::as_str)
        .ok_or("benchmark.json has no string field `full_id`")?
        .to_owned();
    let median_ns = estimates
        .pointer("/median/point_estimate")
        .and_then(Value::as_f64)
        .ok_or("estimates.json has no number at `median.point_estimate`")?;
    if !(median_ns.is_finite() && median_ns >= 0.0) {
        return Err(format!(
            "the median of `{id}` is {median_ns} ns, expected a finite time"
        ));
    }
    let throughput = parse_throughput(benchmark.get("throughput").unwrap_or(&Value::Null))?;

    Ok(Measurement {
        id,
        median_ns,
        throughput,
    })
}

/// Parses criterion's serialised `Throughput`: `null` or an externally tagged enum such as
/// `{"Elements": 80}`.
fn parse_throughput(value: &Value) -> std::result::Result<Option<Throughput>, String> {
    if value.is_null() {
        return Ok(None);
    }

    let invalid = || format!("unsupported throughput {value}");
    let object = value
        .as_object()
        .filter(|object| object.len() == 1)
        .ok_or_else(invalid)?;
    let (kind, amount) = object.iter().next().ok_or_else(invalid)?;
    let throughput = match kind.as_str() {
        "Bytes" => Throughput::Bytes(amount.as_u64().ok_or_else(invalid)?),
        "BytesDecimal" => Throughput::BytesDecimal(amount.as_u64().ok_or_else(invalid)?),
        "Bits" => Throughput::Bits(amount.as_u64().ok_or_else(invalid)?),
        "Elements" => Throughput::Elements(amount.as_u64().ok_or_else(invalid)?),
        // Criterion reports elements as the primary throughput of this variant.
        "ElementsAndBytes" => Throughput::Elements(amount.get("elements").and_then(Value::as_u64).ok_or_else(invalid)?),
        _ => return Err(invalid()),
    };
    Ok(Some(throughput))
}

/// Collects every benchmark whose `new/estimates.json` under `criterion_dir` was written at or
/// after `since`, in the order they were written.
///
/// Older results stay in criterion's directory across runs, and the modification time is what
/// separates them from the results of this run.
pub fn collect(criterion_dir: &Path, since: SystemTime) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    if criterion_dir.is_dir() {
        find_new_dirs(criterion_dir, &mut found)?;
    }

    let mut measurements = Vec::new();
    for new_dir in found {
        let estimates_path = new_dir.join("estimates.json");
        let benchmark_path = new_dir.join("benchmark.json");
        if !estimates_path.is_file() || !benchmark_path.is_file() {
            continue;
        }

        let modified = fs::metadata(&estimates_path)
            .and_then(|metadata| metadata.modified())
            .map_err(|source| Error::Io {
                action: "read",
                path: estimates_path.clone(),
                source,
            })?;
        if modified < since {
            continue;
        }

        let estimates = read(&estimates_path)?;
        let benchmark = read(&benchmark_path)?;
        let measurement = parse_measurement(&benchmark, &estimates).map_err(|reason| Error::InvalidResults {
            path: new_dir.clone(),
            reason,
        })?;
        measurements.push((modified, measurement));
    }

    measurements.sort_by(|(a_time, a), (b_time, b)| a_time.cmp(b_time).then_with(|| a.id.cmp(&b.id)));
    Ok(measurements.into_iter().map(|(_, measurement)| measurement).collect())
}

/// Appends every directory named `new` below `dir`.
fn find_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            action: "list",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }

        if entry.file_name() == "new" {
            found.push(path);
        } else {
            find_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::Duration;

    use super::*;

    /// A `benchmark.json` as criterion 0.8.2 writes it.
    const BENCHMARK_JSON: &str = r#"{"group_id":"kernel","function_id":"squared_l2","value_str":"1024x1024_d1600","throughput":{"Elements":3355443200},"full_id":"kernel/squared_l2/1024x1024_d1600","directory_name":"kernel/squared_l2/1024x1024_d1600","title":"kernel/squared_l2/1024x1024_d1600"}"#;

    /// An `estimates.json` as criterion 0.8.2 writes it, times in nanoseconds.
    const ESTIMATES_JSON: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":41000000.0,"upper_bound":43000000.0},"point_estimate":42000000.0,"standard_error":500000.0},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":40500000.0,"upper_bound":41500000.0},"point_estimate":41000000.5,"standard_error":250000.0},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":100.0,"upper_bound":300.0},"point_estimate":200.0,"standard_error":50.0},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1000.0,"upper_bound":3000.0},"point_estimate":2000.0,"standard_error":500.0}}"#;

    fn benchmark_json(full_id: &str, throughput: &str) -> String {
        format!(
            r#"{{"group_id":"g","function_id":null,"value_str":null,"throughput":{throughput},"full_id":"{full_id}","directory_name":"g","title":"g"}}"#
        )
    }

    #[test]
    fn parses_id_median_and_elements() {
        let measurement = parse_measurement(BENCHMARK_JSON, ESTIMATES_JSON).unwrap();

        assert_eq!(measurement.id, "kernel/squared_l2/1024x1024_d1600");
        assert_eq!(measurement.median_ns, 41000000.5);
        assert_eq!(measurement.throughput, Some(Throughput::Elements(3355443200)));
    }

    #[test]
    fn parses_every_throughput_kind() {
        let cases = [
            ("null", None),
            (r#"{"Bytes":10}"#, Some(Throughput::Bytes(10))),
            (r#"{"BytesDecimal":11}"#, Some(Throughput::BytesDecimal(11))),
            (r#"{"Bits":12}"#, Some(Throughput::Bits(12))),
            (r#"{"Elements":13}"#, Some(Throughput::Elements(13))),
            (
                r#"{"ElementsAndBytes":{"elements":14,"bytes":900}}"#,
                Some(Throughput::Elements(14)),
            ),
        ];
        for (json, expected) in cases {
            let measurement = parse_measurement(&benchmark_json("g", json), ESTIMATES_JSON).unwrap();
            assert_eq!(measurement.throughput, expected, "throughput {json}");
        }
    }

    #[test]
    fn rejects_malformed_results() {
        let no_median = r#"{"mean":{"point_estimate":1.0}}"#;
        let error = parse_measurement(BENCHMARK_JSON, no_median).unwrap_err();
        assert!(error.contains("median.point_estimate"), "{error}");

        let no_id = r#"{"group_id":"g"}"#;
        let error = parse_measurement(no_id, ESTIMATES_JSON).unwrap_err();
        assert!(error.contains("full_id"), "{error}");

        let error = parse_measurement(&benchmark_json("g", r#"{"Furlongs":3}"#), ESTIMATES_JSON).unwrap_err();
        assert!(error.contains("Furlongs"), "{error}");

        let error = parse_measurement("{", ESTIMATES_JSON).unwrap_err();
        assert!(error.contains("not JSON"), "{error}");
    }

    fn write_result(root: &Path, dir: &str, full_id: &str, modified: SystemTime) {
        let new_dir = root.join(dir).join("new");
        fs::create_dir_all(&new_dir).unwrap();
        fs::write(new_dir.join("benchmark.json"), benchmark_json(full_id, "null")).unwrap();
        let estimates = new_dir.join("estimates.json");
        fs::write(&estimates, ESTIMATES_JSON).unwrap();
        File::options()
            .write(true)
            .open(&estimates)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }

    #[test]
    fn collect_skips_older_results() {
        let root = tempfile::tempdir().unwrap();
        let start = SystemTime::now();
        write_result(root.path(), "old/run", "old/run", start - Duration::from_secs(3600));
        write_result(root.path(), "b/second", "b/second", start + Duration::from_secs(2));
        write_result(root.path(), "a/first/p1", "a/first/p1", start + Duration::from_secs(1));

        // Criterion's `base` copies and HTML reports must not be read as results.
        let base = root.path().join("a/first/p1/base");
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("estimates.json"), "not json").unwrap();

        let ids: Vec<String> = collect(root.path(), start).unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["a/first/p1", "b/second"]);
    }

    #[test]
    fn collect_of_missing_dir_is_empty() {
        let root = tempfile::tempdir().unwrap();

        let measurements = collect(&root.path().join("criterion"), SystemTime::UNIX_EPOCH).unwrap();
        assert!(measurements.is_empty());
    }
}
