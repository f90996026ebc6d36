//! Tokens taken from the shared (Redis) budget ahead of need, so that most
//! requests are decided in this process without a round trip.
//!
//! When a request finds no token here for one of its keys, it asks Redis
//! for a **batch** of that key's budget at once ([`batch`]) and keeps the
//! rest as this process's lease; the next requests spend it locally. The
//! shared budget is never overspent: every token was taken from Redis
//! before it is used. What batching costs instead:
//!
//! - a process holding a lease may serve a key's requests after another
//!   process has been refused, up to one batch per process;
//! - a lease unused for [`LEASE_TTL_MICROS`] is dropped, and its tokens come
//!   back to the key only at the limit's own rate, so an idle process may
//!   cost a key up to one batch of its budget.
//!
//! A batch is a small share of a limit ([`BATCH_SHARE`]), and one request
//! for limits below that share's inverse: the tight limits that guard
//! sign-in and small plans stay exact across processes, and only the large
//! ones, whose requests would each wait on Redis, are batched.
//!
//! A request's keys are still taken from all or none: a request first
//! takes a token from each key that has one here, asks Redis for the
//! others, and gives the local ones back if Redis refuses.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::LimitKey;
use super::gcra::{Decision, Quota};
use super::local::shard;

/// A batch is at most this share of a limit: `count / BATCH_SHARE`.
pub(crate) const BATCH_SHARE: u32 = 64;
/// The largest batch, whatever the limit.
pub(crate) const MAX_BATCH: u32 = 1_024;
/// How long a lease's unused tokens are kept. Short, so that a process
/// that stops serving a key soon stops holding its budget.
pub(crate) const LEASE_TTL_MICROS: i64 = 1_000_000;
const SHARDS: usize = 16;

/// How many tokens to ask Redis for when `quota`'s key has none here.
pub(crate) fn batch(quota: Quota) -> u32 {
    (quota.count / BATCH_SHARE).clamp(1, MAX_BATCH)
}

/// What this process holds of one key's shared budget.
#[derive(Debug, Clone, Copy)]
struct Lease {
    tokens: u32,
    /// Local microseconds after which the tokens are dropped.
    expires: i64,
    /// What the shared budget had left once the batch was taken.
    shared_remaining: u32,
    /// Local microseconds when the shared budget is full again, as of the
    /// batch.
    full_at: i64,
}

/// A batch granted by Redis for one key, in local time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant {
    pub tokens: u32,
    pub shared_remaining: u32,
    pub full_at: i64,
}

/// The leases of this process, sharded like [`super::local`].
#[derive(Debug)]
pub(crate) struct Leases {
    shards: [Mutex<HashMap<LimitKey, Lease>>; SHARDS],
}

impl Default for Leases {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl Leases {
    /// Takes one token for each key that has one here at `now`: the
    /// decision for those keys, `None` for the keys Redis must be asked
    /// for. Take back what this took with [`Leases::give_back`] if the
    /// request is refused.
    pub(crate) fn reserve(&self, limits: &[(LimitKey, Quota)], now: i64) -> Vec<Option<Decision>> {
        limits
            .iter()
            .map(|(key, quota)| {
                let mut leases = self.shard(key);
                let lease = leases.get_mut(key)?;
                if lease.expires <= now || lease.tokens == 0 {
                    leases.remove(key);
                    return None;
                }
                lease.tokens -= 1;
                Some(spent(lease, now, *quota))
            })
            .collect()
    }

    /// Gives back the tokens [`Leases::reserve`] took (`Some` in
    /// `reserved`) for a request that was refused by another key.
    pub(crate) fn give_back(
        &self,
        limits: &[(LimitKey, Quota)],
        reserved: &[Option<Decision>],
        now: i64,
    ) {
        for ((key, _), taken) in limits.iter().zip(reserved) {
            if taken.is_none() {
                continue;
            }
            if let Some(lease) = self.shard(key).get_mut(key)
                && lease.expires > now
            {
                lease.tokens += 1;
            }
        }
    }

    /// Spends one token of `grant` on the current request and keeps the
    /// rest as `key`'s lease: the decision for the request.
    pub(crate) fn keep(&self, key: &LimitKey, quota: Quota, grant: Grant, now: i64) -> Decision {
        let mut leases = self.shard(key);
        if leases.len() > PRUNE_ABOVE {
            // A lease is dropped when found expired; a key never seen
            // again would stay without this.
            leases.retain(|_, lease| lease.expires > now);
        }
        let lease = leases.entry(key.clone()).or_insert(Lease {
            tokens: 0,
            expires: now,
            shared_remaining: 0,
            full_at: now,
        });
        if lease.expires <= now {
            lease.tokens = 0;
        }
        // Tokens left from an earlier batch (a concurrent request's) are
        // kept: they were taken from the shared budget too.
        lease.tokens += grant.tokens.saturating_sub(1);
        lease.expires = now + LEASE_TTL_MICROS;
        lease.shared_remaining = grant.shared_remaining;
        lease.full_at = grant.full_at;
        spent(lease, now, quota)
    }

    fn shard(&self, key: &LimitKey) -> MutexGuard<'_, HashMap<LimitKey, Lease>> {
        self.shards[shard(key) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self, key: &LimitKey) -> u32 {
        self.shard(key).get(key).map_or(0, |lease| lease.tokens)
    }
}

/// Above this many leases in one shard, expired ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// The decision for a request served from `lease` (its token already
/// taken): what the client may still send is the shared budget's rest
/// plus what this process holds.
fn spent(lease: &Lease, now: i64, quota: Quota) -> Decision {
    Decision {
        allowed: true,
        // Not stored anywhere: the shared TAT moved when the batch was taken.
        new_tat: 0,
        remaining: lease
            .shared_remaining
            .saturating_add(lease.tokens)
            .min(quota.count),
        reset: (lease.full_at - now).max(0),
        retry_after: 0,
    }
}
