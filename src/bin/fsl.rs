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
            // Most messages already quote their cause, so a cause is printed only when it adds text.
            let mut shown = error.to_string();
            eprintln!("error: {shown}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                    shown = text;
                }
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
