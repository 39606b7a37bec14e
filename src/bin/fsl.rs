//! The `fsl` command line: train and evaluate few-shot models.

mod cli;

use std::process::ExitCode;

use clap::Parser;

// mimalloc reuses freed pages instead of returning them to the OS, so the multi-megabyte tensors
// allocated at every training step do not page-fault again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let arguments = cli::Cli::parse();
    cli::init_logging(arguments.verbose);

    match cli::run(arguments) {
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
