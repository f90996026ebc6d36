//! Metering: a tenant's requests, records created, stored bytes and active
//! users, hour by hour and day by day, for the console to chart.
//!
//! Nothing here is written per request. The service counts in memory and
//! flushes each tenant's counts now and then as one [`MeteredUse`], which
//! the [`Metering`](crate::Metering) area adds to the tenant's rows in one
//! transaction: the counts are *added* (an upsert that sums), so several
//! server processes flushing the same hour add up. Active users are
//! counted once per day across processes by remembering, per day, which
//! users were already counted (`usage_day_users`): a flush counts only the
//! users it is the first to remember. A day's stored bytes are the tenant's
//! stored bytes (its quota's count, [`crate::plans::TenantUsage`]) at the
//! last flush that counted use on that day.
//!
//! These counts are an account of use, never a quota's truth: quotas are
//! kept by each write's own transaction ([`crate::plans`]). A crash loses
//! what was counted since the last flush; nothing else.

use bulkhead_domain::UserId;
use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};

/// The start of the UTC hour `at` falls in.
pub fn hour_of(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    at.replace_time(Time::from_hms(at.hour(), 0, 0).unwrap_or(Time::MIDNIGHT))
}

/// The UTC day `at` falls on.
pub fn day_of(at: OffsetDateTime) -> Date {
    at.to_offset(UtcOffset::UTC).date()
}

/// Requests and records created in one UTC hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeteredHour {
    /// The hour's start, in UTC ([`hour_of`]).
    pub hour: OffsetDateTime,
    pub requests: u64,
    pub records_created: u64,
}

/// The users who made a request on one UTC day, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredUsers {
    pub day: Date,
    pub users: Vec<UserId>,
}

/// What one flush adds to one tenant's metered use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredUse {
    pub hours: Vec<MeteredHour>,
    pub users: Vec<MeteredUsers>,
    /// Users remembered for days before this one are forgotten: they are
    /// needed only while a day can still be flushed to, and they are the
    /// one personal datum of metering.
    pub forget_users_before: Date,
}

/// The totals one flush adds to one day row, from its hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeteredDay {
    pub day: Date,
    pub requests: u64,
    pub records_created: u64,
}

impl MeteredUse {
    /// The days this use falls on, oldest first, each with the totals of
    /// its hours (a day with users but no hours adds nothing but them): a
    /// day row is always the sum of its hours.
    pub fn days(&self) -> Vec<MeteredDay> {
        let mut days: Vec<MeteredDay> = Vec::new();
        let mut add = |day: Date, requests: u64, records_created: u64| match days
            .iter_mut()
            .find(|d| d.day == day)
        {
            Some(found) => {
                found.requests = found.requests.saturating_add(requests);
                found.records_created = found.records_created.saturating_add(records_created);
            }
            None => days.push(MeteredDay {
                day,
                requests,
                records_created,
            }),
        };
        for hour in &self.hours {
            add(day_of(hour.hour), hour.requests, hour.records_created);
        }
        for users in &self.users {
            add(users.day, 0, 0);
        }
        days.sort_by_key(|d| d.day);
        days
    }

    /// Nothing to add (and nothing to forget that a later flush will not).
    pub fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.users.iter().all(|u| u.users.is_empty())
    }
}

/// One stored hour of a tenant's metered use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageHour {
    pub hour: OffsetDateTime,
    pub requests: u64,
    pub records_created: u64,
}

/// One stored UTC day of a tenant's metered use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageDay {
    pub day: Date,
    pub requests: u64,
    pub records_created: u64,
    /// The tenant's stored bytes at the last flush that counted this day.
    pub storage_bytes: u64,
    /// Distinct users who made a request that day.
    pub active_users: u64,
}

impl UsageDay {
    /// A day nothing was counted on, holding `storage_bytes`.
    pub const fn quiet(day: Date, storage_bytes: u64) -> Self {
        Self {
            day,
            requests: 0,
            records_created: 0,
            storage_bytes,
            active_users: 0,
        }
    }
}

/// The `n` UTC days ending with `last`, oldest first.
pub fn last_days(last: Date, n: u32) -> impl Iterator<Item = Date> {
    (0..i64::from(n))
        .rev()
        .filter_map(move |back| last.checked_sub(Duration::days(back)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn hour(at: OffsetDateTime, requests: u64, records_created: u64) -> MeteredHour {
        MeteredHour {
            hour: hour_of(at),
            requests,
            records_created,
        }
    }

    #[test]
    fn an_hour_starts_on_the_utc_hour() {
        assert_eq!(
            hour_of(datetime!(2026-06-01 12:34:56.789 UTC)),
            datetime!(2026-06-01 12:00 UTC)
        );
        assert_eq!(
            hour_of(datetime!(2026-06-01 00:30 +02:00)),
            datetime!(2026-05-31 22:00 UTC)
        );
        assert_eq!(
            day_of(datetime!(2026-06-01 00:30 +02:00)),
            date!(2026 - 05 - 31)
        );
    }

    #[test]
    fn a_day_adds_up_its_hours() {
        let metered = MeteredUse {
            hours: vec![
                hour(datetime!(2026-06-02 00:10 UTC), 5, 1),
                hour(datetime!(2026-06-01 23:10 UTC), 3, 0),
                hour(datetime!(2026-06-01 10:10 UTC), 2, 2),
            ],
            users: vec![MeteredUsers {
                day: date!(2026 - 06 - 03),
                users: vec![UserId::new()],
            }],
            forget_users_before: date!(2026 - 06 - 01),
        };
        assert_eq!(
            metered.days(),
            vec![
                MeteredDay {
                    day: date!(2026 - 06 - 01),
                    requests: 5,
                    records_created: 2
                },
                MeteredDay {
                    day: date!(2026 - 06 - 02),
                    requests: 5,
                    records_created: 1
                },
                MeteredDay {
                    day: date!(2026 - 06 - 03),
                    requests: 0,
                    records_created: 0
                },
            ]
        );
        assert!(!metered.is_empty());
    }

    #[test]
    fn the_last_days_end_with_the_last_oldest_first() {
        let days: Vec<Date> = last_days(date!(2026 - 03 - 01), 3).collect();
        assert_eq!(
            days,
            vec![
                date!(2026 - 02 - 27),
                date!(2026 - 02 - 28),
                date!(2026 - 03 - 01)
            ]
        );
    }
}
