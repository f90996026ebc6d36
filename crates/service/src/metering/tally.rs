//! The in-memory side of metering: what this process counted per tenant
//! since its last flush, and its requests in the current minute.
//!
//! A request costs one shard lock (chosen by the tenant id's random tail,
//! no hashing) and one lookup in that shard's map; then it bumps the last
//! hour's counts and, for a user, inserts into the day's set. Nothing is
//! allocated but on the first request of a tenant, of an hour or of a user
//! since the last flush. A flush [`Tally::drain`]s everything counted so
//! far under each shard's lock, so a count lands either in that drain or
//! in the next one, never in neither; a failed write gives its counts
//! back with [`Tally::restore`].

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use bulkhead_domain::{TenantId, UserId};
use bulkhead_store::metering::{MeteredHour, MeteredUse, MeteredUsers};
use time::{Date, OffsetDateTime};

const SHARDS: usize = 16;

/// Seconds in an hour, and in a day.
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// The Julian day of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// A UTC day, as days since 1970-01-01.
fn date_of(day: i64) -> Option<Date> {
    let julian = i32::try_from(day + UNIX_EPOCH_JULIAN_DAY).ok()?;
    Date::from_julian_day(julian).ok()
}

/// Requests and records created in one hour (hours since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HourCount {
    hour: i64,
    requests: u64,
    records_created: u64,
}

/// What one tenant has counted since the last flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// By hour, oldest first; usually one.
    hours: Vec<HourCount>,
    /// Users who made a request, by day (days since the epoch); usually one.
    users: Vec<(i64, HashSet<UserId>)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.users.is_empty()
    }

    fn count(&mut self, hour: i64, requests: u64, records_created: u64) {
        match self.hours.iter_mut().rev().find(|h| h.hour == hour) {
            Some(found) => {
                found.requests += requests;
                found.records_created += records_created;
            }
            None => {
                let at = self.hours.partition_point(|h| h.hour < hour);
                self.hours.insert(
                    at,
                    HourCount {
                        hour,
                        requests,
                        records_created,
                    },
                );
            }
        }
    }

    fn users_of(&mut self, day: i64) -> &mut HashSet<UserId> {
        let at = match self.users.iter().rposition(|(d, _)| *d == day) {
            Some(at) => at,
            None => {
                self.users.push((day, HashSet::new()));
                self.users.len() - 1
            }
        };
        &mut self.users[at].1
    }

    /// Adds `other`'s counts and users to these.
    fn merge(&mut self, other: Pending) {
        for hour in other.hours {
            self.count(hour.hour, hour.requests, hour.records_created);
        }
        for (day, users) in other.users {
            self.users_of(day).extend(users);
        }
    }

    /// What a flush writes of these counts, forgetting users of days
    /// before `forget_users_before`.
    pub(crate) fn metered(&self, forget_users_before: Date) -> MeteredUse {
        MeteredUse {
            hours: self
                .hours
                .iter()
                .filter_map(|h| {
                    let start = OffsetDateTime::from_unix_timestamp(h.hour * HOUR).ok()?;
                    Some(MeteredHour {
                        hour: start,
                        requests: h.requests,
                        records_created: h.records_created,
                    })
                })
                .collect(),
            users: self
                .users
                .iter()
                .filter_map(|(day, users)| {
                    Some(MeteredUsers {
                        day: date_of(*day)?,
                        users: users.iter().copied().collect(),
                    })
                })
                .collect(),
            forget_users_before,
        }
    }

    /// The requests and records created counted on `day`, and its users.
    pub(crate) fn day(&self, day: Date) -> (u64, u64, Option<&HashSet<UserId>>) {
        let (mut requests, mut records_created) = (0, 0);
        for h in &self.hours {
            if date_of(h.hour.div_euclid(24)) == Some(day) {
                requests += h.requests;
                records_created += h.records_created;
            }
        }
        let users = self
            .users
            .iter()
            .find(|(d, _)| date_of(*d) == Some(day))
            .map(|(_, users)| users);
        (requests, records_created, users)
    }
}

/// One tenant's counts in this process.
#[derive(Debug, Default)]
struct TenantTally {
    pending: Pending,
    /// The minute (since the epoch) `this_minute` counts the requests of.
    minute: i64,
    this_minute: u64,
}

/// Every tenant's counts in this process, sharded by tenant.
#[derive(Debug)]
pub(crate) struct Tally {
    shards: [Mutex<HashMap<TenantId, TenantTally>>; SHARDS],
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl Tally {
    fn shard(&self, tenant: TenantId) -> MutexGuard<'_, HashMap<TenantId, TenantTally>> {
        // A UUIDv7 ends in random bits: as good as a hash, for free.
        let index = usize::from(tenant.as_bytes()[15]) % SHARDS;
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request to `tenant` at `at`, by `user` if the principal is one.
    pub(crate) fn request(&self, tenant: TenantId, user: Option<UserId>, at: OffsetDateTime) {
        let seconds = at.unix_timestamp();
        let minute = seconds.div_euclid(60);
        let mut shard = self.shard(tenant);
        let tally = shard.entry(tenant).or_default();
        tally.pending.count(seconds.div_euclid(HOUR), 1, 0);
        if tally.minute != minute {
            tally.minute = minute;
            tally.this_minute = 0;
        }
        tally.this_minute += 1;
        if let Some(user) = user {
            tally.pending.users_of(seconds.div_euclid(DAY)).insert(user);
        }
    }

    /// `n` records created in `tenant` at `at`.
    pub(crate) fn records_created(&self, tenant: TenantId, n: u64, at: OffsetDateTime) {
        let hour = at.unix_timestamp().div_euclid(HOUR);
        self.shard(tenant)
            .entry(tenant)
            .or_default()
            .pending
            .count(hour, 0, n);
    }

    /// Takes everything counted so far, tenant by tenant, and forgets the
    /// tenants with nothing counted since the minute before `now`'s.
    pub(crate) fn drain(&self, now: OffsetDateTime) -> Vec<(TenantId, Pending)> {
        let recent = now.unix_timestamp().div_euclid(60) - 1;
        let mut drained = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (tenant, tally) in shard.iter_mut() {
                if !tally.pending.is_empty() {
                    drained.push((*tenant, std::mem::take(&mut tally.pending)));
                }
            }
            shard.retain(|_, tally| tally.minute >= recent);
        }
        drained
    }

    /// Gives back counts a flush could not write, to be written by the next.
    pub(crate) fn restore(&self, tenant: TenantId, pending: Pending) {
        self.shard(tenant)
            .entry(tenant)
            .or_default()
            .pending
            .merge(pending);
    }

    /// What `tenant` has counted since the last flush.
    pub(crate) fn pending(&self, tenant: TenantId) -> Pending {
        self.shard(tenant)
            .get(&tenant)
            .map(|tally| tally.pending.clone())
            .unwrap_or_default()
    }

    /// `tenant`'s requests to this process in `now`'s minute.
    pub(crate) fn this_minute(&self, tenant: TenantId, now: OffsetDateTime) -> u64 {
        let minute = now.unix_timestamp().div_euclid(60);
        self.shard(tenant)
            .get(&tenant)
            .filter(|tally| tally.minute == minute)
            .map_or(0, |tally| tally.this_minute)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use bulkhead_store::metering::{MeteredDay, day_of, hour_of};
    use time::Duration;
    use time::macros::{date, datetime};

    const T0: OffsetDateTime = datetime!(2026-06-01 23:58:30 UTC);

    fn totals(metered: &MeteredUse) -> (u64, u64) {
        metered
            .hours
            .iter()
            .fold((0, 0), |(r, c), h| (r + h.requests, c + h.records_created))
    }

    #[test]
    fn requests_and_records_are_counted_by_hour_and_users_by_day() {
        let tally = Tally::default();
        let (acme, globex) = (TenantId::new(), TenantId::new());
        let (ada, bob) = (UserId::new(), UserId::new());
        tally.request(acme, Some(ada), T0);
        tally.request(acme, Some(ada), T0 + Duration::seconds(10));
        tally.request(acme, None, T0 + Duration::seconds(20));
        tally.records_created(acme, 2, T0 + Duration::seconds(20));
        // Past midnight: a new hour and a new day.
        tally.request(acme, Some(bob), T0 + Duration::minutes(2));
        tally.request(globex, Some(ada), T0);

        let mut drained = tally.drain(T0 + Duration::minutes(2));
        drained.sort_by_key(|(tenant, _)| *tenant == globex);
        assert_eq!(drained.len(), 2);
        let metered = drained[0].1.metered(date!(2026 - 05 - 31));
        assert_eq!(drained[0].0, acme);
        assert_eq!(
            metered.hours,
            vec![
                MeteredHour {
                    hour: hour_of(T0),
                    requests: 3,
                    records_created: 2
                },
                MeteredHour {
                    hour: datetime!(2026-06-02 00:00 UTC),
                    requests: 1,
                    records_created: 0
                },
            ]
        );
        assert_eq!(
            metered.users,
            vec![
                MeteredUsers {
                    day: day_of(T0),
                    users: vec![ada]
                },
                MeteredUsers {
                    day: date!(2026 - 06 - 02),
                    users: vec![bob]
                },
            ]
        );
        assert_eq!(
            metered.days(),
            vec![
                MeteredDay {
                    day: date!(2026 - 06 - 01),
                    requests: 3,
                    records_created: 2
                },
                MeteredDay {
                    day: date!(2026 - 06 - 02),
                    requests: 1,
                    records_created: 0
                },
            ]
        );
        assert_eq!(totals(&drained[1].1.metered(day_of(T0))), (1, 0));
        // Drained means gone: the next flush has nothing.
        assert!(tally.drain(T0 + Duration::minutes(2)).is_empty());
    }

    #[test]
    fn a_pending_day_sums_its_hours_and_holds_its_users() {
        let tally = Tally::default();
        let acme = TenantId::new();
        let ada = UserId::new();
        tally.request(acme, Some(ada), T0 - Duration::hours(3));
        tally.request(acme, Some(ada), T0);
        tally.records_created(acme, 1, T0);
        tally.request(acme, None, T0 + Duration::minutes(2));
        let pending = tally.pending(acme);
        let (requests, records, users) = pending.day(day_of(T0));
        assert_eq!((requests, records), (2, 1));
        assert_eq!(users.map(HashSet::len), Some(1));
        let (requests, _, users) = pending.day(date!(2026 - 06 - 02));
        assert_eq!((requests, users), (1, None));
        assert_eq!(pending.day(date!(2026 - 05 - 30)), (0, 0, None));
        assert_eq!(tally.pending(TenantId::new()), Pending::default());
    }

    #[test]
    fn this_minute_counts_the_current_minutes_requests_only() {
        let tally = Tally::default();
        let acme = TenantId::new();
        let minute = datetime!(2026-06-01 12:00 UTC);
        for s in [0, 10, 59] {
            tally.request(acme, None, minute + Duration::seconds(s));
        }
        assert_eq!(tally.this_minute(acme, minute + Duration::seconds(59)), 3);
        assert_eq!(tally.this_minute(acme, minute + Duration::seconds(60)), 0);
        // A flush leaves the minute's count alone.
        tally.drain(minute + Duration::seconds(59));
        assert_eq!(tally.this_minute(acme, minute + Duration::seconds(59)), 3);
        tally.request(acme, None, minute + Duration::seconds(61));
        assert_eq!(tally.this_minute(acme, minute + Duration::seconds(61)), 1);
        assert_eq!(tally.this_minute(TenantId::new(), minute), 0);
    }

    #[test]
    fn restored_counts_add_to_those_counted_since() {
        let tally = Tally::default();
        let acme = TenantId::new();
        let (ada, bob) = (UserId::new(), UserId::new());
        tally.request(acme, Some(ada), T0);
        tally.records_created(acme, 1, T0);
        let drained = tally.drain(T0);
        // Counted while the failed flush was writing.
        tally.request(acme, Some(bob), T0);
        tally.request(acme, Some(ada), T0 + Duration::hours(1));
        for (tenant, pending) in drained {
            tally.restore(tenant, pending);
        }
        let metered = tally.pending(acme).metered(day_of(T0));
        assert_eq!(
            metered.hours,
            vec![
                MeteredHour {
                    hour: hour_of(T0),
                    requests: 2,
                    records_created: 1
                },
                MeteredHour {
                    hour: hour_of(T0 + Duration::hours(1)),
                    requests: 1,
                    records_created: 0
                },
            ]
        );
        let mut today: Vec<UserId> = metered.users[0].users.clone();
        today.sort();
        let mut both = vec![ada, bob];
        both.sort();
        assert_eq!(today, both);
        assert_eq!(metered.users[1].users, vec![ada]);
    }

    #[test]
    fn idle_tenants_are_forgotten_by_the_flush_after_their_minute() {
        let tally = Tally::default();
        let acme = TenantId::new();
        tally.request(acme, None, T0);
        assert_eq!(tally.drain(T0 + Duration::seconds(61)).len(), 1);
        assert_eq!(
            tally.this_minute(acme, T0),
            1,
            "still in its minute's count"
        );
        tally.drain(T0 + Duration::minutes(5));
        assert!(tally.shards.iter().all(|s| s.lock().unwrap().is_empty()));
    }

    /// The hand-off: requests counted on several threads while flushes
    /// drain over and over are each in exactly one drain.
    #[test]
    fn no_count_is_lost_or_doubled_between_concurrent_requests_and_drains() {
        const THREADS: usize = 4;
        const REQUESTS: u64 = 20_000;
        let tally = Arc::new(Tally::default());
        let tenants: Vec<TenantId> = (0..3).map(|_| TenantId::new()).collect();
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let drainer = {
            let (tally, done) = (Arc::clone(&tally), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut seen = (0, 0);
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst) == THREADS;
                    for (_, pending) in tally.drain(T0) {
                        let (r, c) = totals(&pending.metered(day_of(T0)));
                        seen = (seen.0 + r, seen.1 + c);
                    }
                    if finished {
                        return seen;
                    }
                }
            })
        };
        let writers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (tally, done) = (Arc::clone(&tally), Arc::clone(&done));
                let tenants = tenants.clone();
                std::thread::spawn(move || {
                    for n in 0..REQUESTS {
                        let tenant = tenants[(n as usize + i) % tenants.len()];
                        tally.request(tenant, Some(UserId::new()), T0);
                        if n % 10 == 0 {
                            tally.records_created(tenant, 1, T0);
                        }
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let seen = drainer.join().unwrap();
        let n = THREADS as u64 * REQUESTS;
        assert_eq!(seen, (n, n / 10));
    }
}
