//! What to do after `accept` fails.

use std::io;
use std::time::Duration;

/// The wait after the first failure of a run.
const FIRST_DELAY: Duration = Duration::from_millis(10);
/// The longest wait: a descriptor freed by a closing connection is used
/// within a second.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Waits between failed accepts.
///
/// An error about one connection (its client gave up before it was
/// accepted) is retried at once: the next connection is unaffected. Any
/// other error is about the process or the system (no descriptor, buffer
/// or memory left) and would come back at once, so the loop waits, twice
/// as long after each failure up to [`MAX_DELAY`], until an accept works.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    next: Option<Duration>,
}

impl AcceptBackoff {
    /// How long to wait after `error`; `None` to retry at once.
    pub fn failed(&mut self, error: &io::Error) -> Option<Duration> {
        if is_about_one_connection(error) {
            return None;
        }
        let delay = self.next.unwrap_or(FIRST_DELAY);
        self.next = Some(delay.saturating_mul(2).min(MAX_DELAY));
        Some(delay)
    }

    /// An accept worked: the next failure starts a new run.
    pub fn succeeded(&mut self) {
        self.next = None;
    }
}

fn is_about_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EMFILE on Linux and the BSDs.
    fn too_many_open_files() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    #[test]
    fn running_out_of_descriptors_waits_longer_each_time_up_to_a_second() {
        let mut backoff = AcceptBackoff::default();
        let delays: Vec<Duration> = (0..10)
            .map(|_| backoff.failed(&too_many_open_files()).unwrap())
            .collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(delays[9], MAX_DELAY);
    }

    #[test]
    fn an_accepted_connection_starts_over() {
        let mut backoff = AcceptBackoff::default();
        backoff.failed(&too_many_open_files());
        backoff.failed(&too_many_open_files());
        backoff.succeeded();
        assert_eq!(backoff.failed(&too_many_open_files()), Some(FIRST_DELAY));
    }

    #[test]
    fn a_client_that_gave_up_is_no_reason_to_wait() {
        let mut backoff = AcceptBackoff::default();
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(backoff.failed(&aborted), None);
        assert_eq!(backoff.failed(&too_many_open_files()), Some(FIRST_DELAY));
    }
}
