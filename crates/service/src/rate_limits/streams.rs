//! Caps on realtime subscriptions held open at once, per principal and per
//! tenant: a subscription holds a [`StreamSlot`] and gives it back when
//! dropped, however its stream ends (the client leaves, access is lost, the
//! server shuts down).
//!
//! **Without Redis**, they are counted in this process alone: a deployment
//! of `n` processes lets a principal hold up to `n` times its cap, one
//! cap's worth on each.
//!
//! **With Redis** (see `streams/redis.rs`), a stream is admitted only if
//! both this process's count and the deployment's count (the slots held in
//! Redis by every process) are below each cap, so a principal or a tenant
//! holds at most its cap across all processes. A stream that ends gives
//! its place back in Redis within a round trip. What failures cost:
//!
//! - *Redis unreachable* when a stream opens (an error, no answer within
//!   the call timeout, or the rest after a failure): the stream is decided
//!   by this process's count alone, as requests are, so during an outage a
//!   deployment admits up to `n` times a cap. Those streams are added to
//!   Redis by the next renewal once it answers; streams over a cap then are
//!   not ended, but new ones are refused until the count is below it. A
//!   place given back while Redis is away is given back again at each
//!   renewal, and held until then (its lease ends it at the latest).
//! - *A process crashes* (or cannot renew for longer than a lease): its
//!   slots stay counted until their lease ends, at most [`LEASE`],
//!   so its clients reconnecting elsewhere may be refused that long.
//! - *A process stops gracefully*: it gives back all its slots at once
//!   ([`RateLimits::close_streams`](super::RateLimits::close_streams)).
//! - *Redis loses its data* (a restart without persistence): the counts
//!   start again from the next renewal of each process.

mod redis;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::redis::RedisLink;
use super::{LimitKey, RateLimited};
use crate::context::TenantAccess;

pub use self::redis::{LEASE, RENEW_EVERY};

/// What a refused subscription is told to wait, in seconds: streams end
/// at no set time, so this is a hint to back off, not a promise.
pub const RETRY_AFTER_SECS: u64 = 5;

type Counts = Arc<Mutex<HashMap<LimitKey, u32>>>;

#[derive(Debug)]
pub(crate) struct StreamSlots {
    per_principal: Option<u32>,
    open: Counts,
    shared: Option<redis::SharedSlots>,
}

impl StreamSlots {
    /// The caps, shared through `redis` if given.
    pub(crate) fn new(per_principal: Option<u32>, redis: Option<Arc<RedisLink>>) -> Self {
        Self {
            per_principal,
            open: Arc::default(),
            shared: redis.map(redis::SharedSlots::new),
        }
    }

    /// A slot for one more subscription of `access`'s principal in its
    /// tenant, unless that passes a cap (`force` takes it anyway: an
    /// exempt platform admin).
    pub(crate) async fn acquire(
        &self,
        access: &TenantAccess,
        tenant_cap: Option<u32>,
        force: bool,
    ) -> Result<StreamSlot, RateLimited> {
        let caps = [
            (LimitKey::of(access.principal()), self.per_principal),
            (LimitKey::Tenant(access.tenant_id()), tenant_cap),
        ];
        // This process first: a refusal here costs no call to Redis, and a
        // refusal there gives this count back as the slot drops.
        let mut slot = self.acquire_here(&caps, force)?;
        if let Some(shared) = &self.shared {
            slot.lease = Some(shared.acquire(&caps, force).await?);
        }
        Ok(slot)
    }

    /// The count of this process alone.
    fn acquire_here(
        &self,
        caps: &[(LimitKey, Option<u32>); 2],
        force: bool,
    ) -> Result<StreamSlot, RateLimited> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if !force {
            for (key, cap) in caps {
                if let Some(cap) = *cap
                    && open.get(key).copied().unwrap_or(0) >= cap
                {
                    return Err(refusal(cap));
                }
            }
        }
        for (key, _) in caps {
            *open.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(StreamSlot {
            open: Arc::clone(&self.open),
            keys: caps.clone().map(|(key, _)| key),
            lease: None,
        })
    }

    /// At shutdown: gives back this process's slots in Redis at once,
    /// rather than when their leases end.
    pub(crate) async fn close(&self) {
        if let Some(shared) = &self.shared {
            shared.close().await;
        }
    }

    #[cfg(test)]
    pub(crate) fn n_open(&self, key: &LimitKey) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(key).copied().unwrap_or(0)
    }
}

fn refusal(cap: u32) -> RateLimited {
    RateLimited {
        limit: cap,
        reset_secs: RETRY_AFTER_SECS,
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// One open subscription's place under its caps, given back on drop.
#[derive(Debug)]
pub struct StreamSlot {
    open: Counts,
    keys: [LimitKey; 2],
    /// Its place in Redis, given back as it drops.
    lease: Option<redis::Lease>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(count) = open.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(key);
                }
            }
        }
    }
}
