//! Results for people and scripts, on standard output.
//!
//! Commands print their outcome here; logs go through `tracing`. Writing
//! through a handle rather than `println!` turns a closed stdout into an
//! error instead of a panic.

use std::io::Write as _;

use crate::Error;

pub fn line(text: impl std::fmt::Display) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)
}
