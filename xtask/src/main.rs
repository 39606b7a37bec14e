//! Developer tasks for the fsl workspace, run as `cargo xtask <task>`.
//!
//! `cargo xtask bench [--compare] [--filter REGEX] [--quick]` runs the criterion benchmarks of the
//! `fsl` package and prints one summary table; `--compare` adds PyTorch timings of the same
//! workloads from `benches/pytorch_compare.py`. `cargo xtask peak` measures the CPU's f32
//! multiply-add peak, the reference for the kernels' GFLOP/s.

mod bench;
mod criterion_results;
mod error;
mod peak;
mod pytorch;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Developer tasks for the fsl workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run the criterion benchmarks of the `fsl` package and print a summary table.
    Bench(bench::BenchArgs),
    /// Measure the CPU's f32 multiply-add peak in GFLOP/s.
    Peak(peak::PeakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();

    let outcome = match &cli.task {
        Task::Bench(args) => bench::run(args),
        Task::Peak(args) => peak::run(args),
    };

    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
