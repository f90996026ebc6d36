//! Login throttling: a growing delay per account and per client address,
//! and a hard cap per account per hour.
//!
//! A pure state machine over an injected clock, so tests move time instead
//! of sleeping. Policy (RELIABILITY A3): the first [`FREE_FAILURES`]
//! consecutive failures cost nothing; each one after doubles the wait from
//! one second up to fifteen minutes; and after [`MAX_FAILURES_PER_WINDOW`]
//! failures within an hour, the account refuses every attempt, right
//! password or not, until that hour has passed. A success clears the
//! consecutive count (not the hourly one), so a legitimate user is never
//! locked out for more than the window.
//!
//! State is per server process. Several processes each apply the policy,
//! so the effective cap is the per-process cap times the number of
//! processes; a shared limiter (Redis) is the follow-up for that case.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bulkhead_domain::Clock;
use time::{Duration, OffsetDateTime};

pub const FREE_FAILURES: u32 = 5;
pub const MAX_FAILURES_PER_WINDOW: u32 = 100;
pub const WINDOW: Duration = Duration::hours(1);
pub const FIRST_DELAY: Duration = Duration::seconds(1);
pub const MAX_DELAY: Duration = Duration::minutes(15);
/// Above this many tracked keys, entries whose window has passed are dropped.
const PRUNE_ABOVE: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    window_start: OffsetDateTime,
    in_window: u32,
    consecutive: u32,
    last: OffsetDateTime,
}

/// A throttle over named keys (e.g. `account:ada@example.com`, `ip:192.0.2.1`).
#[derive(Debug)]
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` if any key must wait before another attempt.
    pub fn check(&self, keys: &[&str]) -> Result<(), u64> {
        let now = self.clock.now();
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(entry) = failures.get(*key) {
                wait = wait.max(wait_for(entry, now));
            }
        }
        if wait > Duration::ZERO {
            // Round up: "retry after 0 seconds" would invite a refused retry.
            let seconds = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
            Err(seconds.unsigned_abs().max(1))
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, keys: &[&str]) {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, entry| now - entry.window_start < WINDOW);
        }
        for key in keys {
            let entry = failures.entry((*key).to_owned()).or_insert(Failures {
                window_start: now,
                in_window: 0,
                consecutive: 0,
                last: now,
            });
            if now - entry.window_start >= WINDOW {
                entry.window_start = now;
                entry.in_window = 0;
            }
            entry.in_window += 1;
            entry.consecutive += 1;
            entry.last = now;
        }
    }

    /// A successful login for `key`: its growing delay starts over.
    pub fn record_success(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = failures.get_mut(key) {
            entry.consecutive = 0;
        }
    }
}

fn wait_for(entry: &Failures, now: OffsetDateTime) -> Duration {
    let window_end = entry.window_start + WINDOW;
    if entry.in_window >= MAX_FAILURES_PER_WINDOW && now < window_end {
        return window_end - now;
    }
    if entry.consecutive < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (entry.consecutive - FREE_FAILURES).min(20);
    let delay = (FIRST_DELAY * 2_i32.pow(doublings)).min(MAX_DELAY);
    (entry.last + delay - now).max(Duration::ZERO)
}

#[cfg(test)]
mod tests;
