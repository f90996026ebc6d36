//! The `bulkhead` command. Everything but printing the final error lives in
//! the library, so that this file stays a shell around [`bulkhead::run`].

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc rather than glibc's malloc: a request allocates and frees many
/// small buffers across worker threads, and glibc's arenas make that a
/// visible share of a cheap request's CPU (the profile is in
/// `benches/results/design-figures.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Usage errors (unknown flags, `--help`) are clap's to print and exit on.
    let cli = bulkhead::cli::Cli::parse();
    match bulkhead::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, no backtrace: operators read this in a terminal or a
            // unit's journal. Failing to write it leaves only the status.
            let _ = writeln!(std::io::stderr(), "bulkhead: {}", error.one_line());
            ExitCode::FAILURE
        }
    }
}
