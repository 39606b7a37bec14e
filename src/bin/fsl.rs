//! The `fsl` command line: train and evaluate few-shot models.

mod cli;

use std::process::ExitCode;

use clap::Parser;

// mimalloc reuses freed pages instead of returning them to the OS (with purging turned off in
// `main`), so the multi-megabyte tensors allocated at every training step do not page-fault again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // SAFETY: first statement of `main`, so no other thread exists yet.
    #[allow(unsafe_code)]
    unsafe {
        fsl::threads::candle_ops_on_calling_thread()
    };
    fsl::allocator::keep_freed_pages();
    let arguments = cli::Cli::parse();
    let log = cli::init_logging(arguments.verbose);

    match cli::run(arguments, &log) {
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
            // Exit code 2, as for a usage error that clap reports, when the input is at fault.
            if error.is_input_error() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
