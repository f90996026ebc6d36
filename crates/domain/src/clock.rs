//! Time as a parameter.
//!
//! Anything that expires (sessions, lockouts, invitations, tokens) takes a
//! [`Clock`], so tests move time forward instead of sleeping.

use std::fmt;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Tells the current UTC time, to the microsecond: both storage backends keep
/// exactly that precision, so a time read back equals the time written.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// Drops the sub-microsecond part of a time.
pub fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let nanos = at.nanosecond();
    at.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(at)
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one place that reads the wall clock"
    )]
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(truncate_to_micros(start)),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
        *now = truncate_to_micros(*now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(datetime!(2026-01-01 0:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 0:00 UTC));
        clock.advance(Duration::minutes(30));
        assert_eq!(clock.now(), datetime!(2026-01-01 0:30 UTC));
    }
}
