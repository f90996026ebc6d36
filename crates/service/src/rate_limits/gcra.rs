//! The generic cell rate algorithm (GCRA), as pure arithmetic on one number
//! per key: its theoretical arrival time (TAT).
//!
//! A [`Quota`] of `count` requests per `period` lets a key send one request
//! every `interval = period / count`, and save up to `count` of them: a
//! fresh key may send `count` at once, then one more each interval. A
//! request at `now` is allowed when `max(tat, now) + interval - window <=
//! now` (`window = interval * count`); allowed, the key's TAT becomes
//! `max(tat, now) + interval`. Nothing else is stored, so a key whose TAT
//! has passed is the same as an absent one and can be forgotten.
//!
//! Times are whole microseconds. Both backends run this decision: the
//! in-process one here, and Redis in its script, which repeats only the
//! test and the write ([`Decision::allowed`], [`Decision::new_tat`]); the
//! numbers for the headers are computed here from the TAT the script saw.

use std::num::NonZeroU32;

const MICROS_PER_SECOND: i64 = 1_000_000;

/// `count` requests per `period_micros`, `count` of them at once at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Zero refuses every request (a plan may allow none).
    pub count: u32,
    pub period_micros: i64,
}

impl Quota {
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            period_micros: 60 * MICROS_PER_SECOND,
        }
    }

    /// A limit set as `Option<NonZeroU32>` per minute: `None` is no limit.
    pub fn per_minute_if(count: Option<NonZeroU32>) -> Option<Self> {
        count.map(|count| Self::per_minute(count.get()))
    }

    /// The time one request costs. Never zero, so that a huge count is
    /// still a limit.
    pub fn interval(&self) -> i64 {
        (self.period_micros / i64::from(self.count.max(1))).max(1)
    }

    /// How far ahead of now a key's TAT may be and still let a request in.
    pub fn window(&self) -> i64 {
        self.interval() * i64::from(self.count)
    }
}

/// What one key says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The key's TAT if the request is taken (unchanged if refused).
    pub new_tat: i64,
    /// Requests the key could still send now, after this one if allowed.
    pub remaining: u32,
    /// Microseconds until the key is back to its full quota.
    pub reset: i64,
    /// Microseconds until a refused request would be allowed; 0 if allowed.
    pub retry_after: i64,
}

/// The decision for one request at `now` against a key last at `tat`
/// (`None` for a key never seen or forgotten).
pub fn decide(tat: Option<i64>, now: i64, quota: Quota) -> Decision {
    let tat = tat.map_or(now, |tat| tat.max(now));
    if quota.count == 0 {
        return Decision {
            allowed: false,
            new_tat: tat,
            remaining: 0,
            reset: quota.period_micros,
            retry_after: quota.period_micros,
        };
    }
    let interval = quota.interval();
    let new_tat = tat + interval;
    let allow_at = new_tat - quota.window();
    if now < allow_at {
        return Decision {
            allowed: false,
            new_tat: tat,
            remaining: 0,
            reset: tat - now,
            retry_after: allow_at - now,
        };
    }
    let remaining = u32::try_from((now - allow_at) / interval).unwrap_or(u32::MAX);
    Decision {
        allowed: true,
        new_tat,
        remaining: remaining.min(quota.count),
        reset: new_tat - now,
        retry_after: 0,
    }
}

/// Whole seconds, rounded up: "retry after 0 seconds" would invite a
/// refused retry.
pub fn seconds_up(micros: i64) -> u64 {
    u64::try_from(micros)
        .unwrap_or(0)
        .div_ceil(MICROS_PER_SECOND.unsigned_abs())
}

#[cfg(test)]
mod tests;
