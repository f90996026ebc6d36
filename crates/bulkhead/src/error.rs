//! Every way a command can fail, each with a message that fits on one line
//! and says what to fix.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use bulkhead_service::ServiceError;
use bulkhead_store_sqlite::OpenError;

use crate::settings::SettingsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("invalid log filter {filter:?}: {message}")]
    LogFilter { filter: String, message: String },
    #[error("cannot set up logging: {0}")]
    Logging(String),
    #[error("cannot start the async runtime: {}", describe_io(.0))]
    Runtime(io::Error),
    #[error("cannot install signal handlers: {}", describe_io(.0))]
    Signals(io::Error),
    #[error("cannot listen on {addr}: {}", describe_io(source))]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("cannot create the data directory {}: {}", path.display(), describe_io(source))]
    DataDir { path: PathBuf, source: io::Error },
    #[error(transparent)]
    OpenSqlite(#[from] OpenError),
    /// The database refused or could not be reached. `url` is redacted.
    #[error("database {url}: {message}")]
    Database { url: String, message: String },
    #[error("cannot read the {what} {}: {}", path.display(), describe_io(source))]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The input (a flag, stdin, a file's content) is unusable; the message
    /// says which and why.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("cannot write to standard output: {}", describe_io(.0))]
    Output(io::Error),
}

impl Error {
    /// The message with any line breaks a source smuggled in flattened, so
    /// it is exactly one line.
    pub fn one_line(&self) -> String {
        self.to_string()
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An IO error as a short lower-case phrase ("address already in use"),
/// without the "(os error 98)" suffix that helps no operator.
pub(crate) fn describe_io(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_short_phrases() {
        let error = io::Error::from(io::ErrorKind::AddrInUse);
        let raw = io::Error::from_raw_os_error(98);
        assert_eq!(describe_io(&raw), "address already in use", "{raw}");
        assert!(!describe_io(&error).is_empty());
    }

    #[test]
    fn a_listen_error_names_the_address() {
        let error = Error::Listen {
            addr: "127.0.0.1:8080".parse().unwrap(),
            source: io::Error::from_raw_os_error(98),
        };
        assert_eq!(
            error.one_line(),
            "cannot listen on 127.0.0.1:8080: address already in use"
        );
    }

    #[test]
    fn multi_line_messages_are_flattened() {
        let error = Error::Invalid("first\n  second\r\nthird".into());
        assert_eq!(error.one_line(), "first second third");
    }
}
