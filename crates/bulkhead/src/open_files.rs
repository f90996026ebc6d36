//! The process's limit on open files, and the connection cap it allows.
//!
//! Every connection holds a file descriptor, and so does everything else
//! the server opens: SQLite's database, journal and shared-memory files for
//! each of its connections (two readers per core and a writer), PostgreSQL
//! pool connections, the listener, logs and the runtime's own. A server
//! whose clients hold every descriptor can accept nothing more, health
//! probes included, so by default connections get half of the limit and
//! the rest stays free.

/// The default cap when the limit is unknown or very high: each connection
/// also costs memory (buffers and a task), and more than this many at once
/// is more than one process should hold.
pub const MAX_DEFAULT_CONNECTIONS: usize = 10_000;

/// The soft limit on open files (`ulimit -n`), `None` when unlimited or
/// unknown.
#[cfg(unix)]
pub fn soft_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
pub fn soft_limit() -> Option<u64> {
    None
}

/// The connection cap under `limit` open files: half of them, at least
/// one, at most [`MAX_DEFAULT_CONNECTIONS`].
pub fn default_max_connections(limit: Option<u64>) -> usize {
    match limit {
        Some(limit) => usize::try_from(limit / 2)
            .unwrap_or(usize::MAX)
            .clamp(1, MAX_DEFAULT_CONNECTIONS),
        None => MAX_DEFAULT_CONNECTIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_get_half_of_the_open_file_limit() {
        assert_eq!(default_max_connections(Some(256)), 128);
        assert_eq!(default_max_connections(Some(1024)), 512);
        assert_eq!(default_max_connections(Some(1)), 1);
    }

    #[test]
    fn a_high_or_unknown_limit_gives_the_fixed_maximum() {
        assert_eq!(
            default_max_connections(Some(1_048_576)),
            MAX_DEFAULT_CONNECTIONS
        );
        assert_eq!(default_max_connections(None), MAX_DEFAULT_CONNECTIONS);
    }

    #[cfg(unix)]
    #[test]
    fn the_limit_of_this_process_can_be_read() {
        assert_ne!(soft_limit(), Some(0));
    }
}
