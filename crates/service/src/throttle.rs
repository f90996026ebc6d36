//! Login throttling: a strict limit per account, and a soft one per client
//! address that slows an address down but never shuts it out.
//!
//! A pure state machine over an injected clock, so tests move time instead
//! of sleeping. Each key follows the [`Policy`] of its kind:
//!
//! - An **account** (RELIABILITY A3): the first [`FREE_FAILURES`]
//!   consecutive failures cost nothing; each one after doubles the wait from
//!   one second up to fifteen minutes; and after
//!   [`MAX_FAILURES_PER_WINDOW`] failures within an hour the account refuses
//!   every attempt, right password or not, until that hour has passed. A
//!   success clears the consecutive count (not the hourly one), so a
//!   legitimate user is never locked out for more than the window.
//! - A client **address** (one for logins, another for sign-ups): the same
//!   free failures, then a delay that doubles up to [`ADDRESS_MAX_DELAY`]
//!   (a few seconds) and stays there while failures go on within the hour.
//!   There is no hourly cap: many people can share an address (an office
//!   NAT, or every client when a proxy is missing from
//!   `BULKHEAD_TRUSTED_PROXIES`), and a cap on the address would let one of
//!   them lock out all the others for an hour. A success does not clear an
//!   address either: whoever owns one account could otherwise reset the
//!   address between guesses at others.
//!
//! A login waits for its account's delay and, unless [`known_logins`] says
//! its account succeeded from its address recently, for its address's delay
//! too, before any password is checked (`Identity::login`).
//!
//! State is per server process ([`LoginThrottle`]), or with Redis shared
//! by every process of the deployment ([`Throttle`]), so that the caps
//! hold however many processes serve. While Redis cannot be reached, each
//! process applies the policy alone with what it saw itself.

pub mod known_logins;
mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bulkhead_domain::Clock;
use time::{Duration, OffsetDateTime};

use crate::rate_limits::redis::RedisLink;

pub const FREE_FAILURES: u32 = 5;
pub const MAX_FAILURES_PER_WINDOW: u32 = 100;
pub const WINDOW: Duration = Duration::hours(1);
pub const FIRST_DELAY: Duration = Duration::seconds(1);
pub const ACCOUNT_MAX_DELAY: Duration = Duration::minutes(15);
/// Long enough to make guessing from one address slow for clients that
/// honour `Retry-After`, short enough that a person behind a shared address
/// who mistyped never waits more than a moment.
pub const ADDRESS_MAX_DELAY: Duration = Duration::seconds(4);
/// Above this many tracked keys, entries whose window has passed are dropped.
const PRUNE_ABOVE: usize = 100_000;

/// How failures of one kind of key turn into waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub free_failures: u32,
    pub max_delay: Duration,
    /// Failures within [`WINDOW`] after which every attempt is refused
    /// until the window ends; `None` for no such cap.
    pub max_failures_per_window: Option<u32>,
}

pub const ACCOUNT_POLICY: Policy = Policy {
    free_failures: FREE_FAILURES,
    max_delay: ACCOUNT_MAX_DELAY,
    max_failures_per_window: Some(MAX_FAILURES_PER_WINDOW),
};

pub const ADDRESS_POLICY: Policy = Policy {
    free_failures: FREE_FAILURES,
    max_delay: ADDRESS_MAX_DELAY,
    max_failures_per_window: None,
};

/// What is throttled. Each kind has its own budget: failed logins from an
/// address never slow down sign-ups from it, and the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A login's account, by normalised email.
    Account(String),
    /// The client address of a login.
    LoginAddress(String),
    /// The client address of a sign-up.
    SignupAddress(String),
}

impl ThrottleKey {
    /// The account's normalised email, or the address.
    pub fn name(&self) -> &str {
        match self {
            ThrottleKey::Account(name)
            | ThrottleKey::LoginAddress(name)
            | ThrottleKey::SignupAddress(name) => name,
        }
    }

    pub fn policy(&self) -> Policy {
        match self {
            ThrottleKey::Account(_) => ACCOUNT_POLICY,
            ThrottleKey::LoginAddress(_) | ThrottleKey::SignupAddress(_) => ADDRESS_POLICY,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    window_start: OffsetDateTime,
    in_window: u32,
    consecutive: u32,
    last: OffsetDateTime,
}

/// The throttle of one server process, over typed keys.
#[derive(Debug)]
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<ThrottleKey, Failures>>,
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` if any key must wait before another attempt.
    pub fn check(&self, keys: &[&ThrottleKey]) -> Result<(), u64> {
        let now = self.clock.now();
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(entry) = failures.get(*key) {
                wait = wait.max(wait_for(entry, key.policy(), now));
            }
        }
        if wait > Duration::ZERO {
            Err(whole_seconds_up(wait))
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, keys: &[&ThrottleKey]) {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, entry| now - entry.window_start < WINDOW);
        }
        for key in keys {
            let entry = failures.entry((*key).clone()).or_insert(Failures {
                window_start: now,
                in_window: 0,
                consecutive: 0,
                last: now,
            });
            if now - entry.window_start >= WINDOW {
                entry.window_start = now;
                entry.in_window = 0;
                if key.policy().max_failures_per_window.is_none() {
                    // An address that went quiet for a window starts over;
                    // it has no success to clear its count.
                    entry.consecutive = 0;
                }
            }
            entry.in_window += 1;
            entry.consecutive += 1;
            entry.last = now;
        }
    }

    /// A successful login for the account `key`: its growing delay starts
    /// over. Address keys are left alone (see the module docs).
    pub fn record_success(&self, key: &ThrottleKey) {
        if !matches!(key, ThrottleKey::Account(_)) {
            return;
        }
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = failures.get_mut(key) {
            entry.consecutive = 0;
        }
    }
}

/// The login throttle of a deployment: in Redis when one is configured
/// and answers, else this process's [`LoginThrottle`].
#[derive(Debug)]
pub struct Throttle {
    local: LoginThrottle,
    redis: Option<Arc<RedisLink>>,
}

impl Throttle {
    pub fn new(clock: Arc<dyn Clock>, redis: Option<Arc<RedisLink>>) -> Self {
        Self {
            local: LoginThrottle::new(clock),
            redis,
        }
    }

    /// `Err(seconds to wait)` if any key must wait before another attempt.
    pub async fn check(&self, keys: &[&ThrottleKey]) -> Result<(), u64> {
        if let Some(link) = &self.redis
            && let Ok(wait) = redis::wait(link, keys).await
        {
            return match wait > Duration::ZERO {
                true => Err(whole_seconds_up(wait)),
                false => Ok(()),
            };
        }
        self.local.check(keys)
    }

    pub async fn record_failure(&self, keys: &[&ThrottleKey]) {
        if let Some(link) = &self.redis
            && redis::record_failure(link, keys).await.is_ok()
        {
            return;
        }
        self.local.record_failure(keys);
    }

    pub async fn record_success(&self, key: &ThrottleKey) {
        if let Some(link) = &self.redis
            && redis::record_success(link, key).await.is_ok()
        {
            return;
        }
        self.local.record_success(key);
    }
}

/// Round up: "retry after 0 seconds" would invite a refused retry.
fn whole_seconds_up(wait: Duration) -> u64 {
    let seconds = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
    seconds.unsigned_abs().max(1)
}

fn wait_for(entry: &Failures, policy: Policy, now: OffsetDateTime) -> Duration {
    let window_end = entry.window_start + WINDOW;
    if let Some(cap) = policy.max_failures_per_window
        && entry.in_window >= cap
        && now < window_end
    {
        return window_end - now;
    }
    if entry.consecutive < policy.free_failures {
        return Duration::ZERO;
    }
    let doublings = (entry.consecutive - policy.free_failures).min(20);
    let delay = (FIRST_DELAY * 2_i32.pow(doublings)).min(policy.max_delay);
    (entry.last + delay - now).max(Duration::ZERO)
}

#[cfg(test)]
mod tests;
