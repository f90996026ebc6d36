//! Metering: each tenant's requests, records created, stored bytes and
//! active users, rolled up by UTC hour and day for the console to chart.
//!
//! **No database write per request.** A request is counted in this
//! process's memory ([`tally`]: a shard lock and a map lookup, nothing
//! allocated after a tenant's, an hour's or a user's first request since
//! the last flush). [`Metering::flush`], which `serve` runs periodically
//! (every `metering_flush_interval`, 60 s unless set) and once more at a
//! graceful shutdown after the last request, adds each tenant's counts to
//! its hour and day rows in one transaction per tenant
//! (`bulkhead_store::metering`: sums, so several processes add up).
//!
//! **What a crash can lose:** what this process counted since its last
//! successful flush (one flush interval while the database is reachable)
//! of requests, records created and active-user sightings. Never a
//! quota's truth: quotas are kept in `tenant_usage` by each write's own
//! transaction, and the stored bytes a day shows are read from it at the
//! flush. A flush that fails for a tenant gives that tenant's counts back
//! to be written by the next flush (so an outage loses nothing but what a
//! crash during it would); one whose commit fails after the database
//! committed it (a connection lost at COMMIT) may then count them twice.
//! A tenant deleted before its flush takes its counts with it.
//!
//! Which requests count: those that named a tenant the caller reaches and
//! that its rate limits let through, whatever they answered. A request by
//! a user makes them an active user of the day; API keys are not users.
//! Records created count after their transaction commits; a replayed
//! idempotent create is not a new record.

mod tally;

use std::sync::Arc;

use bulkhead_domain::TenantId;
use bulkhead_store::metering::{UsageDay, day_of, last_days};
use bulkhead_store::{Access, StoreError, TenantTx};
use time::{Duration, OffsetDateTime};
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio::task::JoinSet;

use crate::ServiceError;
use crate::context::TenantAccess;
use crate::shared::Core;

use tally::{Pending, Tally};

/// How many tenants' flushes are written at once: enough for SQLite's
/// group commit to share fsyncs between them, few enough to leave the
/// connection pool to requests.
const FLUSH_CONCURRENCY: usize = 8;

/// The in-memory meter of this process.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    tally: Tally,
    /// Held exclusively by a flush from its drain to its last commit, and
    /// shared by a usage report from its first read to its last: a report
    /// then sees each count either in memory or in the database, never in
    /// both or neither.
    flushes: RwLock<()>,
}

impl Meter {
    pub(crate) fn records_created(&self, tenant: TenantId, n: u64, at: OffsetDateTime) {
        self.tally.records_created(tenant, n, at);
    }

    /// Holds off flushes while a report reads.
    pub(crate) async fn hold_flushes(&self) -> RwLockReadGuard<'_, ()> {
        self.flushes.read().await
    }

    /// The tenant's last `days` UTC days up to `now`'s, oldest first: the
    /// stored rows with this process's counts not yet flushed added in.
    /// Read under [`Self::hold_flushes`].
    ///
    /// A day without a row counted nothing (in any process, as of its last
    /// flush) and holds the stored bytes of the last day before it that
    /// has a row (0 before the first, when nothing was metered yet): the
    /// bytes change only by writes, and writes are requests. Today's
    /// stored bytes are `stored_bytes_now`, the tenant's usage as read.
    pub(crate) async fn daily(
        &self,
        tx: &mut dyn TenantTx,
        now: OffsetDateTime,
        days: u32,
        stored_bytes_now: u64,
    ) -> Result<Vec<UsageDay>, ServiceError> {
        let tenant = tx.tenant_id();
        let today = day_of(now);
        let window: Vec<_> = last_days(today, days).collect();
        let Some(&first) = window.first() else {
            return Ok(Vec::new());
        };
        let rows = tx.usage_days(first, today).await?;
        let mut carried = tx
            .usage_day_before(first)
            .await?
            .map_or(0, |day| day.storage_bytes);
        let pending = self.tally.pending(tenant);
        let mut rows = rows.into_iter().peekable();
        let mut daily = Vec::with_capacity(window.len());
        for day in window {
            let mut entry = match rows.next_if(|row| row.day == day) {
                Some(row) => row,
                None => UsageDay::quiet(day, carried),
            };
            carried = entry.storage_bytes;
            if day == today {
                entry.storage_bytes = stored_bytes_now;
            }
            self.add_unflushed(tx, &pending, &mut entry).await?;
            daily.push(entry);
        }
        Ok(daily)
    }

    /// Adds to a stored day what this process counted on it since its
    /// last flush; of its users, those not yet counted in the database.
    async fn add_unflushed(
        &self,
        tx: &mut dyn TenantTx,
        pending: &Pending,
        entry: &mut UsageDay,
    ) -> Result<(), ServiceError> {
        let (requests, records_created, users) = pending.day(entry.day);
        entry.requests += requests;
        entry.records_created += records_created;
        if let Some(users) = users.filter(|users| !users.is_empty()) {
            let mut counted = tx.metered_users(entry.day).await?;
            counted.sort_unstable();
            let new = users.iter().filter(|u| counted.binary_search(u).is_err());
            entry.active_users += new.count() as u64;
        }
        Ok(())
    }

    /// The tenant's requests to this process in `now`'s minute.
    pub(crate) fn requests_this_minute(&self, tenant: TenantId, now: OffsetDateTime) -> u64 {
        self.tally.this_minute(tenant, now)
    }
}

/// What one flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Tenants whose counts were written.
    pub written: usize,
    /// Tenants whose counts could not be, kept for the next flush.
    pub kept: usize,
    /// Tenants deleted since they were counted, whose counts went with them.
    pub dropped: usize,
}

/// Counting requests, and flushing the counts.
#[derive(Debug, Clone)]
pub struct Metering {
    core: Arc<Core>,
}

impl Metering {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Counts a request in the tenant of `access`, and its user if the
    /// caller is one: memory only.
    pub fn note_request(&self, access: &TenantAccess) {
        self.core.meter.tally.request(
            access.tenant_id(),
            access.principal().user(),
            self.core.now(),
        );
    }

    /// Writes what was counted since the last flush, one transaction per
    /// tenant. A tenant whose write fails gets its counts back for the
    /// next flush and is logged; the first such error is returned once
    /// every tenant was tried.
    pub async fn flush(&self) -> Result<FlushReport, ServiceError> {
        let meter = &self.core.meter;
        let _flushing = meter.flushes.write().await;
        let now = self.core.now();
        // Users are remembered for the flush's day and the one before, which
        // a flush just after midnight still writes to.
        let forget_users_before = day_of(now) - Duration::days(1);
        let mut report = FlushReport::default();
        let mut first_error = None;
        let mut writes = JoinSet::new();
        let mut batches = meter.tally.drain(now).into_iter();
        loop {
            while writes.len() < FLUSH_CONCURRENCY
                && let Some((tenant, pending)) = batches.next()
            {
                let store = Arc::clone(&self.core.store);
                writes.spawn(async move {
                    let metered = pending.metered(forget_users_before);
                    let written = async {
                        let mut tx = store.tenant(tenant, Access::Write).await?;
                        tx.add_metered_use(&metered).await?;
                        tx.commit().await
                    }
                    .await;
                    (tenant, pending, written)
                });
            }
            let Some(joined) = writes.join_next().await else {
                break;
            };
            let (tenant, pending, written) = match joined {
                Ok(done) => done,
                // A write task only panics on a bug; its counts are lost.
                Err(error) => {
                    tracing::error!(%error, "a metering flush task failed");
                    continue;
                }
            };
            match written {
                Ok(()) => report.written += 1,
                Err(StoreError::MissingReference) => {
                    tracing::debug!(%tenant, "tenant deleted before its metered use was flushed");
                    report.dropped += 1;
                }
                Err(error) => {
                    tracing::warn!(%tenant, %error, "could not flush metered use; kept for the next flush");
                    meter.tally.restore(tenant, pending);
                    report.kept += 1;
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(report),
        }
    }
}
