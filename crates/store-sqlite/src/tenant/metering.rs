//! The tenant's metered use on SQLite.
//!
//! Each flush's counts are added with upserts that sum, so flushes of the
//! same hour or day add up; a day's users are inserted one statement each
//! (a cached statement on the one writer: no round trip), and those that
//! were new are what the day's active users grow by.

use async_trait::async_trait;
use bulkhead_domain::UserId;
use bulkhead_store::metering::{MeteredUse, UsageDay, UsageHour};
use bulkhead_store::{Metering, Result};
use rusqlite::{OptionalExtension, Row, params};
use time::{Date, OffsetDateTime};

use super::SqliteTenantTx;
use crate::codec::{Micros, conversion_error, id_col, id_param};

/// The Julian day of 1970-01-01: days are stored as days since then.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

fn day_number(day: Date) -> i64 {
    i64::from(day.to_julian_day() - UNIX_EPOCH_JULIAN_DAY)
}

fn day_col(row: &Row<'_>, index: usize) -> rusqlite::Result<Date> {
    let number: i64 = row.get(index)?;
    i32::try_from(number)
        .ok()
        .and_then(|n| n.checked_add(UNIX_EPOCH_JULIAN_DAY))
        .and_then(|julian| Date::from_julian_day(julian).ok())
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(index, number))
}

/// A count as bound: the columns are INTEGER (i64).
fn bound(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    // The tables' CHECKs keep every count at zero or more.
    let n: i64 = row.get(index)?;
    u64::try_from(n).map_err(|e| conversion_error(index, e))
}

const DAY_COLUMNS: &str = "day, requests, records_created, storage_bytes, active_users";

fn day_row(row: &Row<'_>) -> rusqlite::Result<UsageDay> {
    Ok(UsageDay {
        day: day_col(row, 0)?,
        requests: count(row, 1)?,
        records_created: count(row, 2)?,
        storage_bytes: count(row, 3)?,
        active_users: count(row, 4)?,
    })
}

#[async_trait]
impl Metering for SqliteTenantTx {
    async fn add_metered_use(&mut self, metered: &MeteredUse) -> Result<()> {
        self.tx.statement(
            "DELETE FROM usage_day_users WHERE tenant_id = ?1 AND day < ?2",
            |s| s.execute(params![self.t(), day_number(metered.forget_users_before)]),
        )?;
        for hour in &metered.hours {
            self.tx.statement(
                "INSERT INTO usage_hours (tenant_id, hour, requests, records_created)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant_id, hour) DO UPDATE SET
                     requests = usage_hours.requests + excluded.requests,
                     records_created = usage_hours.records_created + excluded.records_created",
                |s| {
                    s.execute(params![
                        self.t(),
                        Micros(hour.hour),
                        bound(hour.requests),
                        bound(hour.records_created)
                    ])
                },
            )?;
        }
        let days = metered.days();
        if days.is_empty() {
            return Ok(());
        }
        let storage_bytes: i64 = self
            .tx
            .statement(
                "SELECT storage_bytes FROM tenant_usage WHERE tenant_id = ?1",
                |s| s.query_row([self.t()], |row| row.get(0)).optional(),
            )?
            .unwrap_or(0);
        for day in days {
            let mut new_users: i64 = 0;
            let users = metered.users.iter().filter(|u| u.day == day.day);
            for user in users.flat_map(|u| &u.users) {
                new_users += self.tx.statement(
                    "INSERT INTO usage_day_users (tenant_id, day, user_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant_id, day, user_id) DO NOTHING",
                    |s| s.execute(params![self.t(), day_number(day.day), id_param(user)]),
                )? as i64;
            }
            self.tx.statement(
                "INSERT INTO usage_days
                     (tenant_id, day, requests, records_created, storage_bytes, active_users)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant_id, day) DO UPDATE SET
                     requests = usage_days.requests + excluded.requests,
                     records_created = usage_days.records_created + excluded.records_created,
                     storage_bytes = excluded.storage_bytes,
                     active_users = usage_days.active_users + excluded.active_users",
                |s| {
                    s.execute(params![
                        self.t(),
                        day_number(day.day),
                        bound(day.requests),
                        bound(day.records_created),
                        storage_bytes,
                        new_users
                    ])
                },
            )?;
        }
        Ok(())
    }

    async fn usage_days(&mut self, from: Date, to: Date) -> Result<Vec<UsageDay>> {
        let sql = format!(
            "SELECT {DAY_COLUMNS} FROM usage_days
             WHERE tenant_id = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day"
        );
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), day_number(from), day_number(to)], day_row)?
                .collect()
        })
    }

    async fn usage_day_before(&mut self, day: Date) -> Result<Option<UsageDay>> {
        let sql = format!(
            "SELECT {DAY_COLUMNS} FROM usage_days
             WHERE tenant_id = ?1 AND day < ?2 ORDER BY day DESC LIMIT 1"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), day_number(day)], day_row)
                .optional()
        })
    }

    async fn usage_hours(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<UsageHour>> {
        self.tx.statement(
            "SELECT hour, requests, records_created FROM usage_hours
             WHERE tenant_id = ?1 AND hour BETWEEN ?2 AND ?3 ORDER BY hour",
            |s| {
                s.query_map(params![self.t(), Micros(from), Micros(to)], |row| {
                    Ok(UsageHour {
                        hour: row.get::<_, Micros>(0)?.0,
                        requests: count(row, 1)?,
                        records_created: count(row, 2)?,
                    })
                })?
                .collect()
            },
        )
    }

    async fn metered_users(&mut self, day: Date) -> Result<Vec<UserId>> {
        self.tx.statement(
            "SELECT user_id FROM usage_day_users WHERE tenant_id = ?1 AND day = ?2 ORDER BY user_id",
            |s| {
                s.query_map(params![self.t(), day_number(day)], |row| id_col(row, 0))?
                    .collect()
            },
        )
    }
}
