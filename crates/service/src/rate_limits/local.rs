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
        // Every request has one or two keys (its principal, its tenant):
        // those are decided without the general case's bookkeeping.
        match limits {
            [one] => {
                let mut map = self.lock(shard(&one.0));
                let decisions = vec![decide(map.get(&one.0).copied(), now, one.1)];
                Self::store(&mut map, [one], &decisions, now);
                decisions
            }
            [first, second] if shard(&first.0) == shard(&second.0) => {
                let mut map = self.lock(shard(&first.0));
                let decisions = vec![
                    decide(map.get(&first.0).copied(), now, first.1),
                    decide(map.get(&second.0).copied(), now, second.1),
                ];
                Self::store(&mut map, [first, second], &decisions, now);
                decisions
            }
            [first, second] => {
                // Locks in shard order, as in the general case.
                let (low, high) = if shard(&first.0) < shard(&second.0) {
                    (first, second)
                } else {
                    (second, first)
                };
                let mut low_map = self.lock(shard(&low.0));
                let mut high_map = self.lock(shard(&high.0));
                let (low_decision, high_decision) = (
                    decide(low_map.get(&low.0).copied(), now, low.1),
                    decide(high_map.get(&high.0).copied(), now, high.1),
                );
                if low_decision.allowed && high_decision.allowed {
                    Self::store(&mut low_map, [low], &[low_decision], now);
                    Self::store(&mut high_map, [high], &[high_decision], now);
                }
                if std::ptr::eq(low, first) {
                    vec![low_decision, high_decision]
                } else {
                    vec![high_decision, low_decision]
                }
            }
            _ => self.take_many(limits, now),
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, HashMap<LimitKey, i64>> {
        self.shards[shard].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the new TATs of `keys` in `map` if every decision allowed
    /// the request.
    fn store<const N: usize>(
        map: &mut HashMap<LimitKey, i64>,
        keys: [&(LimitKey, Quota); N],
        decisions: &[Decision],
        now: i64,
    ) {
        if !decisions.iter().all(|d| d.allowed) {
            return;
        }
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, tat| *tat > now);
        }
        for ((key, _), decision) in keys.into_iter().zip(decisions) {
            map.insert(key.clone(), decision.new_tat);
        }
    }

    /// Any number of keys, their shards locked in order.
    fn take_many(&self, limits: &[(LimitKey, Quota)], now: i64) -> Vec<Decision> {
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
