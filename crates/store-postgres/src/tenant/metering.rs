//! The tenant's metered use on PostgreSQL.
//!
//! Each flush's counts are added with upserts that sum, so flushes of the
//! same hour or day from several processes add up; concurrent flushes of
//! one day wait on each other's row lock and then add to what the other
//! committed. Every statement names `tenant_id = $1` and touches only
//! tenant tables, so under Citus each runs on the tenant's shard alone.
//!
//! A day's users go in with multi-row `VALUES` (never `INSERT … SELECT`,
//! which Citus runs through `COPY`, refused under row-level security) in
//! chunks of a few fixed sizes, so a flush of many users takes few round
//! trips and few prepared statements; those inserted are read back with
//! `RETURNING` rather than from the command tag.

use std::fmt::Write as _;

use async_trait::async_trait;
use bulkhead_domain::UserId;
use bulkhead_domain::id::Id;
use bulkhead_store::metering::{MeteredUse, UsageDay, UsageHour};
use bulkhead_store::{Metering, Result};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::PgTenantTx;

/// The largest number of users one statement inserts; smaller chunks are
/// powers of two, so any number of users takes at most a few statements
/// beyond `n / MAX_USERS_PER_INSERT`, of at most seven shapes.
const MAX_USERS_PER_INSERT: usize = 64;

/// A count as bound: the columns are `bigint`.
fn bound(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn count(row: &PgRow, column: &str) -> sqlx::Result<u64> {
    // The tables' CHECKs keep every count at zero or more.
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

const DAY_COLUMNS: &str = "day, requests, records_created, storage_bytes, active_users";

fn day_row(row: &PgRow) -> sqlx::Result<UsageDay> {
    Ok(UsageDay {
        day: row.try_get("day")?,
        requests: count(row, "requests")?,
        records_created: count(row, "records_created")?,
        storage_bytes: count(row, "storage_bytes")?,
        active_users: count(row, "active_users")?,
    })
}

/// The sizes of the chunks `n` users are inserted in: full chunks, then
/// the rest as powers of two, largest first.
fn chunk_sizes(n: usize) -> Vec<usize> {
    let mut sizes = vec![MAX_USERS_PER_INSERT; n / MAX_USERS_PER_INSERT];
    let rest = n % MAX_USERS_PER_INSERT;
    let mut size = MAX_USERS_PER_INSERT;
    while size > 0 {
        if rest & size != 0 {
            sizes.push(size);
        }
        size /= 2;
    }
    sizes
}

/// The insert of `n` users of one day (`$1` the tenant, `$2` the day).
fn insert_users_sql(n: usize) -> String {
    let mut sql = String::from("INSERT INTO usage_day_users (tenant_id, day, user_id) VALUES ");
    for i in 0..n {
        let separator = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{separator}($1, $2, ${})", i + 3);
    }
    sql.push_str(" ON CONFLICT (tenant_id, day, user_id) DO NOTHING RETURNING user_id");
    sql
}

impl PgTenantTx {
    /// Remembers `users` for `day`; returns how many were not yet.
    async fn remember_users(&mut self, day: Date, users: &[UserId]) -> Result<u64> {
        let mut inserted = 0;
        let mut rest = users;
        for size in chunk_sizes(users.len()) {
            let (chunk, after) = rest.split_at(size);
            rest = after;
            let sql = insert_users_sql(size);
            let mut statement = sqlx::query(&sql).bind(self.t()).bind(day);
            for user in chunk {
                statement = statement.bind(*user.as_uuid());
            }
            inserted += self.tx.all(statement, |_| Ok(())).await?.len() as u64;
        }
        Ok(inserted)
    }
}

#[async_trait]
impl Metering for PgTenantTx {
    async fn add_metered_use(&mut self, metered: &MeteredUse) -> Result<()> {
        let statement =
            sqlx::query("DELETE FROM usage_day_users WHERE tenant_id = $1 AND day < $2")
                .bind(self.t())
                .bind(metered.forget_users_before);
        self.tx.execute(statement).await?;
        // Rows are locked in one order by every flush (hours, then day by
        // day its users and its row, each sorted), so flushes of one tenant
        // from several processes wait on each other but never deadlock.
        let mut hours: Vec<_> = metered.hours.iter().collect();
        hours.sort_by_key(|hour| hour.hour);
        for hour in hours {
            let statement = sqlx::query(
                "INSERT INTO usage_hours (tenant_id, hour, requests, records_created)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, hour) DO UPDATE SET
                     requests = usage_hours.requests + excluded.requests,
                     records_created = usage_hours.records_created + excluded.records_created",
            )
            .bind(self.t())
            .bind(hour.hour)
            .bind(bound(hour.requests))
            .bind(bound(hour.records_created));
            self.tx.execute(statement).await?;
        }
        let days = metered.days();
        if days.is_empty() {
            return Ok(());
        }
        // Read in a statement of its own: a subquery in an INSERT's VALUES
        // is not something Citus routes.
        let statement = sqlx::query("SELECT storage_bytes FROM tenant_usage WHERE tenant_id = $1")
            .bind(self.t());
        let storage_bytes: i64 = self
            .tx
            .optional(statement, |row| row.try_get(0))
            .await?
            .unwrap_or(0);
        for day in days {
            let mut users: Vec<UserId> = metered
                .users
                .iter()
                .filter(|u| u.day == day.day)
                .flat_map(|u| u.users.iter().copied())
                .collect();
            users.sort_unstable();
            users.dedup();
            let new_users = self.remember_users(day.day, &users).await?;
            let statement = sqlx::query(
                "INSERT INTO usage_days
                     (tenant_id, day, requests, records_created, storage_bytes, active_users)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (tenant_id, day) DO UPDATE SET
                     requests = usage_days.requests + excluded.requests,
                     records_created = usage_days.records_created + excluded.records_created,
                     storage_bytes = excluded.storage_bytes,
                     active_users = usage_days.active_users + excluded.active_users",
            )
            .bind(self.t())
            .bind(day.day)
            .bind(bound(day.requests))
            .bind(bound(day.records_created))
            .bind(storage_bytes)
            .bind(bound(new_users));
            self.tx.execute(statement).await?;
        }
        Ok(())
    }

    async fn usage_days(&mut self, from: Date, to: Date) -> Result<Vec<UsageDay>> {
        let sql = format!(
            "SELECT {DAY_COLUMNS} FROM usage_days
             WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(from).bind(to);
        self.tx.all(statement, day_row).await
    }

    async fn usage_day_before(&mut self, day: Date) -> Result<Option<UsageDay>> {
        let sql = format!(
            "SELECT {DAY_COLUMNS} FROM usage_days
             WHERE tenant_id = $1 AND day < $2 ORDER BY day DESC LIMIT 1"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(day);
        self.tx.optional(statement, day_row).await
    }

    async fn usage_hours(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<UsageHour>> {
        let statement = sqlx::query(
            "SELECT hour, requests, records_created FROM usage_hours
             WHERE tenant_id = $1 AND hour BETWEEN $2 AND $3 ORDER BY hour",
        )
        .bind(self.t())
        .bind(from)
        .bind(to);
        self.tx
            .all(statement, |row| {
                Ok(UsageHour {
                    hour: row.try_get("hour")?,
                    requests: count(row, "requests")?,
                    records_created: count(row, "records_created")?,
                })
            })
            .await
    }

    async fn metered_users(&mut self, day: Date) -> Result<Vec<UserId>> {
        let statement = sqlx::query(
            "SELECT user_id FROM usage_day_users WHERE tenant_id = $1 AND day = $2 ORDER BY user_id",
        )
        .bind(self.t())
        .bind(day);
        self.tx
            .all(statement, |row| {
                Ok(Id::from_uuid(row.try_get::<Uuid, _>(0)?))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_go_in_full_chunks_then_powers_of_two() {
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1), vec![1]);
        assert_eq!(chunk_sizes(64), vec![64]);
        assert_eq!(chunk_sizes(64 * 2 + 45), vec![64, 64, 32, 8, 4, 1]);
        for n in 0..300 {
            assert_eq!(chunk_sizes(n).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn an_insert_binds_each_user_after_the_tenant_and_day() {
        assert_eq!(
            insert_users_sql(2),
            "INSERT INTO usage_day_users (tenant_id, day, user_id) VALUES ($1, $2, $3), ($1, $2, $4) \
             ON CONFLICT (tenant_id, day, user_id) DO NOTHING RETURNING user_id"
        );
    }
}
