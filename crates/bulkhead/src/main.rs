//! The `bulkhead` command. Everything but printing the final error lives in
//! the library, so that this file stays a shell around [`bulkhead::run`].

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc rather than glibc's malloc: a request allocates and frees many
/// small buffers across worker threads, where glibc's arenas cost about a
/// tenth of the CPU of a record read (measured with `perf`).
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
