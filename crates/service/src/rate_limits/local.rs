//! The in-process backend: each key's TAT in a sharded map, for one server
//! process (the default, and the fallback while Redis cannot be reached).
//!
//! A request's keys are decided together under the locks of their shards,
//! taken in shard order so two requests never wait on each other in a
//! cycle: either every key takes the request or none does, so a request
//! refused by its tenant's limit costs its principal nothing.
//! A key whose TAT has passed is the same as an absent one
//! ([`super::gcra`]), so a shard past [`PRUNE_ABOVE`] entries drops those:
//! memory stays bounded by the keys active in the last window.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::LimitKey;
use super::gcra::{Decision, Quota, decide};

const SHARDS: usize = 16;
/// Above this many keys in one shard, keys whose TAT has passed are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub(crate) struct LocalLimiter {
    shards: [Mutex<HashMap<LimitKey, i64>>; SHARDS],
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl LocalLimiter {
    /// Decides one request at `now` (microseconds) against every key, and
    /// takes it from all of them only if all allow it.
    pub(crate) fn take(&self, limits: &[(LimitKey, Quota)], now: i64) -> Vec<Decision> {
        let shard_of: Vec<usize> = limits.iter().map(|(key, _)| shard(key)).collect();
        let mut order = shard_of.clone();
        order.sort_unstable();
        order.dedup();
        let mut guards: Vec<MutexGuard<'_, HashMap<LimitKey, i64>>> = order
            .iter()
            .map(|&i| self.shards[i].lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        // Where each key's shard is among the guards.
        let positions: Vec<usize> = shard_of
            .iter()
            .map(|i| order.binary_search(i).unwrap_or_default())
            .collect();
        let decisions: Vec<Decision> = limits
            .iter()
            .zip(&positions)
            .map(|((key, quota), &at)| decide(guards[at].get(key).copied(), now, *quota))
            .collect();
        if decisions.iter().all(|d| d.allowed) {
            for (((key, _), &at), decision) in limits.iter().zip(&positions).zip(&decisions) {
                let map = &mut guards[at];
                if map.len() > PRUNE_ABOVE {
                    map.retain(|_, tat| *tat > now);
                }
                map.insert(key.clone(), decision.new_tat);
            }
        }
        decisions
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

pub(super) fn shard(key: &LimitKey) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    usize::try_from(hash % SHARDS as u64).unwrap_or_default()
}
