//! Caps on realtime subscriptions held open at once, per principal and per
//! tenant, counted in this process: a subscription holds a [`StreamSlot`]
//! and gives it back when dropped, however its stream ends (the client
//! leaves, access is lost, the server shuts down).
//!
//! Counted per process because what they protect is per process: each
//! open stream holds a task, a channel and a connection of the server it
//! is on. A deployment of `n` processes lets a principal hold up to `n`
//! times its cap, one cap's worth on each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{LimitKey, RateLimited};
use crate::context::TenantAccess;

/// What a refused subscription is told to wait, in seconds: streams end
/// at no set time, so this is a hint to back off, not a promise.
pub const RETRY_AFTER_SECS: u64 = 5;

type Counts = Arc<Mutex<HashMap<LimitKey, u32>>>;

#[derive(Debug)]
pub(crate) struct StreamSlots {
    per_principal: Option<u32>,
    open: Counts,
}

impl StreamSlots {
    pub(crate) fn new(per_principal: Option<u32>) -> Self {
        Self {
            per_principal,
            open: Arc::default(),
        }
    }

    /// A slot for one more subscription of `access`'s principal in its
    /// tenant, unless that passes a cap (`force` takes it anyway: an
    /// exempt platform admin).
    pub(crate) fn acquire(
        &self,
        access: &TenantAccess,
        tenant_cap: Option<u32>,
        force: bool,
    ) -> Result<StreamSlot, RateLimited> {
        let keys = [
            (LimitKey::of(access.principal()), self.per_principal),
            (LimitKey::Tenant(access.tenant_id()), tenant_cap),
        ];
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if !force {
            for (key, cap) in &keys {
                if let Some(cap) = *cap
                    && open.get(key).copied().unwrap_or(0) >= cap
                {
                    return Err(RateLimited {
                        limit: cap,
                        reset_secs: RETRY_AFTER_SECS,
                        retry_after_secs: RETRY_AFTER_SECS,
                    });
                }
            }
        }
        for (key, _) in &keys {
            *open.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(StreamSlot {
            open: Arc::clone(&self.open),
            keys: keys.map(|(key, _)| key),
        })
    }

    #[cfg(test)]
    pub(crate) fn n_open(&self, key: &LimitKey) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(key).copied().unwrap_or(0)
    }
}

/// One open subscription's place under its caps, given back on drop.
#[derive(Debug)]
pub struct StreamSlot {
    open: Counts,
    keys: [LimitKey; 2],
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
