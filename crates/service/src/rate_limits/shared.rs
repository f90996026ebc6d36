//! The shared limiter: requests decided against budgets kept in Redis,
//! spent through this process's leases ([`super::leases`]) so that most
//! requests make no round trip.

use super::LimitKey;
use super::gcra::{self, Decision, Quota};
use super::leases::{self, Grant, Leases};
use super::redis::{RedisLink, Taken, Unavailable};

#[derive(Debug)]
pub(crate) struct SharedLimiter {
    redis: std::sync::Arc<RedisLink>,
    leases: Leases,
}

impl SharedLimiter {
    pub(crate) fn new(redis: std::sync::Arc<RedisLink>) -> Self {
        Self {
            redis,
            leases: Leases::default(),
        }
    }

    /// Decides one request against every key of `limits`, taking it from
    /// all of them or none; `clock` gives this process's time in
    /// microseconds. `Unavailable` when Redis had to be asked and could not
    /// answer: nothing was taken, and the caller decides without Redis.
    pub(crate) async fn take(
        &self,
        limits: &[(LimitKey, Quota)],
        clock: impl Fn() -> i64,
    ) -> Result<Vec<Decision>, Unavailable> {
        let reserved = self.leases.reserve(limits, clock());
        let missing: Vec<(&LimitKey, Quota, u32)> = limits
            .iter()
            .zip(&reserved)
            .filter(|(_, reserved)| reserved.is_none())
            .map(|((key, quota), _)| (key, *quota, leases::batch(*quota)))
            .collect();
        if missing.is_empty() {
            return Ok(reserved.into_iter().flatten().collect());
        }
        let (redis_now, taken) = match self.redis.take(&missing).await {
            Ok(answer) => answer,
            Err(unavailable) => {
                self.leases.give_back(limits, &reserved, clock());
                return Err(unavailable);
            }
        };
        let now = clock();
        let allowed = taken.iter().all(|t| t.granted > 0);
        if !allowed {
            self.leases.give_back(limits, &reserved, now);
        }
        let mut taken = taken.into_iter();
        let decisions = limits
            .iter()
            .zip(reserved)
            .map(|((key, quota), reserved)| {
                if let Some(decision) = reserved {
                    return decision;
                }
                // One answer per missing key, in order: checked above.
                let Taken {
                    tat_before,
                    granted,
                } = taken.next().unwrap_or(Taken {
                    tat_before: None,
                    granted: 0,
                });
                if allowed {
                    let grant = grant_of(*quota, tat_before, granted, redis_now, now);
                    self.leases.keep(key, *quota, grant, now)
                } else {
                    gcra::decide(tat_before, redis_now, *quota)
                }
            })
            .collect();
        Ok(decisions)
    }

    #[cfg(test)]
    pub(crate) fn leased(&self, key: &LimitKey) -> u32 {
        self.leases.tokens(key)
    }
}

/// A batch of `granted` tokens taken by Redis at `redis_now` from a key
/// then at `tat_before`, in this process's time (`now`).
fn grant_of(
    quota: Quota,
    tat_before: Option<i64>,
    granted: u32,
    redis_now: i64,
    now: i64,
) -> Grant {
    let interval = quota.interval();
    let tat =
        tat_before.map_or(redis_now, |tat| tat.max(redis_now)) + i64::from(granted) * interval;
    let room = (redis_now + quota.window() - tat) / interval;
    Grant {
        tokens: granted,
        shared_remaining: u32::try_from(room.max(0))
            .unwrap_or(u32::MAX)
            .min(quota.count),
        full_at: now + (tat - redis_now),
    }
}
