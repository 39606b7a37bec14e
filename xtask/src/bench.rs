//! `cargo xtask bench`: runs every criterion benchmark of the `fsl` package and summarises them.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use clap::Args;

use crate::criterion_results;
use crate::error::{Error, Result};
use crate::pytorch::{self, Outcome};
use crate::table;

/// The bench targets of the `fsl` package, `benches/<name>.rs`, in the order they run.
pub const BENCHES: [&str; 5] = ["kernels", "training_step", "data", "augment", "sequences"];

/// Options of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Also time the same workloads in PyTorch (benches/pytorch_compare.py, needs torch) and
    /// print the ratio fsl / PyTorch for each.
    #[arg(long)]
    pub compare: bool,

    /// Run only the benchmarks whose id (such as `kernel/squared_l2/1024x1024_d1600`) matches
    /// this regular expression; passed to criterion as its filter.
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// Shorten every benchmark to 1 s of warm-up and 2 s of measurement.
    #[arg(long)]
    pub quick: bool,
}

/// Runs the benchmarks, prints the summary table and, with `--compare`, the PyTorch ratios.
pub fn run(args: &BenchArgs) -> Result<()> {
    let root = workspace_root();
    let current_dir = env::current_dir().map_err(|source| Error::Io {
        action: "read",
        path: PathBuf::from("."),
        source,
    })?;
    let target_dir = absolute(env::var_os("CARGO_TARGET_DIR"), &current_dir).unwrap_or_else(|| root.join("target"));
    let criterion_dir =
        absolute(env::var_os("CRITERION_HOME"), &current_dir).unwrap_or_else(|| target_dir.join("criterion"));

    // Criterion keeps the results of earlier runs; only files written from here on are this
    // run's.
    let started = SystemTime::now();
    for bench in BENCHES {
        run_criterion(bench, args, &target_dir, &criterion_dir)?;
    }

    let measurements = criterion_results::collect(&criterion_dir, started)?;
    if measurements.is_empty() {
        return Err(Error::NoResults {
            dir: criterion_dir,
            filter: args.filter.clone(),
        });
    }
    println!();
    println!("fsl benchmarks: median time per iteration. Throughput in elem/s counts what each benchmark declares,");
    println!("images for most of them and the FLOPs of the matrix product for kernel/squared_l2.");
    println!();
    print!("{}", table::measurements(&measurements));

    if args.compare {
        let script = root.join("benches").join("pytorch_compare.py");
        let output = criterion_dir.join("pytorch_compare.json");
        std::fs::create_dir_all(&criterion_dir).map_err(|source| Error::Io {
            action: "create",
            path: criterion_dir.clone(),
            source,
        })?;

        println!();
        match pytorch::run(&script, &output)? {
            Outcome::Measured(report) => {
                println!(
                    "PyTorch {} with {} threads; ratio below 1 means fsl is faster:",
                    report.torch_version, report.threads
                );
                println!();
                print!("{}", pytorch::comparison_table(&report, &measurements));
            }
            Outcome::Skipped(reason) => println!("PyTorch comparison skipped: {reason}"),
        }
    }
    Ok(())
}

/// Runs `cargo bench --package fsl --bench <bench> -- <criterion options>`.
fn run_criterion(bench: &str, args: &BenchArgs, target_dir: &Path, criterion_dir: &Path) -> Result<()> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.args(["bench", "--package", "fsl", "--bench", bench, "--"]);
    command.args(criterion_args(args));

    // Absolute paths, because cargo runs bench binaries from the package directory, where a
    // relative path from the caller's directory would point elsewhere.
    command
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CRITERION_HOME", criterion_dir);

    let command_line = format!(
        "cargo bench --package fsl --bench {bench} -- {}",
        criterion_args(args).join(" ")
    );
    eprintln!("running {command_line}");
    let status = command.status().map_err(|source| Error::Spawn {
        command: command_line.clone(),
        source,
    })?;
    if !status.success() {
        return Err(Error::CommandFailed {
            command: command_line,
            status,
        });
    }
    Ok(())
}

/// Returns the options passed to every criterion bench binary.
fn criterion_args(args: &BenchArgs) -> Vec<String> {
    let mut criterion = Vec::new();
    if args.quick {
        criterion.extend(["--warm-up-time", "1", "--measurement-time", "2"].map(String::from));
    }
    if let Some(filter) = &args.filter {
        criterion.push(filter.clone());
    }
    criterion
}

/// Returns the workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Resolves a path from an environment variable against `base`; `None` when unset or empty.
fn absolute(value: Option<OsString>, base: &Path) -> Option<PathBuf> {
    let path = PathBuf::from(value.filter(|value| !value.is_empty())?);
    Some(if path.is_absolute() { path } else { base.join(path) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_list_matches_bench_files() {
        let dir = workspace_root().join("benches");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "rs"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();

        let mut listed = BENCHES.map(String::from).to_vec();
        listed.sort();
        assert_eq!(listed, files, "BENCHES must name every file in {}", dir.display());
    }

    #[test]
    fn bench_targets_are_declared_in_root_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();

        for bench in BENCHES {
            assert!(
                manifest.contains(&format!("[[bench]]\nname = \"{bench}\"\nharness = false")),
                "no [[bench]] `{bench}` with harness = false"
            );
        }
    }

    #[test]
    fn criterion_args_combine_quick_and_filter() {
        let args = BenchArgs {
            compare: false,
            filter: Some("training_step/.*5w".into()),
            quick: true,
        };
        assert_eq!(
            criterion_args(&args),
            ["--warm-up-time", "1", "--measurement-time", "2", "training_step/.*5w"]
        );

        let args = BenchArgs {
            compare: true,
            filter: None,
            quick: false,
        };
        assert!(criterion_args(&args).is_empty());
    }

    #[test]
    fn relative_env_paths_resolve_against_base() {
        let base = Path::new("/work/here");

        assert_eq!(
            absolute(Some("out".into()), base),
            Some(PathBuf::from("/work/here/out"))
        );
        assert_eq!(absolute(Some("/abs".into()), base), Some(PathBuf::from("/abs")));
        assert_eq!(absolute(Some("".into()), base), None);
        assert_eq!(absolute(None, base), None);
    }
}
