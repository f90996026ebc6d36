//! Logging: `tracing` events to standard output, as JSON lines when stdout
//! is not a terminal (a log collector is reading) and as human-readable
//! text when it is.
//!
//! Standard error is kept for the single line that explains a failure, so a
//! failed start is never buried under log output.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::Error;

/// Installs the global subscriber with `filter` (tracing `EnvFilter` syntax).
pub fn init(filter: &str) -> Result<(), Error> {
    let env_filter = EnvFilter::try_new(filter).map_err(|error| Error::LogFilter {
        filter: filter.to_owned(),
        message: error.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stdout);
    let installed = if std::io::stdout().is_terminal() {
        builder.try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
    installed.map_err(|error| Error::Logging(error.to_string()))
}
