//! The tenant's usage on SQLite, and the quota check at commit.
//!
//! Every write transaction runs on the one writer connection, so the
//! usage row read and written at commit cannot change between the two.

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_domain::plan::PlanLimits;
use bulkhead_store::plans::TenantUsage;
use bulkhead_store::{Result, StoreError, Usage};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteTenantTx;
use crate::codec::{Micros, id_param};
use crate::tx::Tx;

/// Starts a new tenant's usage at nothing (used by `Store::create_tenant`).
pub fn insert_usage(tx: &Tx, tenant: TenantId) -> Result<()> {
    tx.statement(
        "INSERT INTO tenant_usage (tenant_id, members, records, storage_bytes, collections, api_keys)
         VALUES (?1, 0, 0, 0, 0, 0)",
        |s| s.execute([id_param(&tenant)]),
    )?;
    Ok(())
}

fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    // The table's CHECKs keep every counter at zero or more.
    Ok(u64::try_from(row.get::<_, i64>(index)?).unwrap_or(0))
}

fn usage_row(row: &Row<'_>) -> rusqlite::Result<TenantUsage> {
    Ok(TenantUsage {
        members: count(row, 0)?,
        records: count(row, 1)?,
        storage_bytes: count(row, 2)?,
        collections: count(row, 3)?,
        api_keys: count(row, 4)?,
    })
}

fn limit(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<u64>> {
    Ok(row
        .get::<_, Option<i64>>(index)?
        .map(|n| u64::try_from(n).unwrap_or(0)))
}

/// A plan's limits from its columns, in the order of `LIMIT_COLUMNS`.
pub(crate) fn limits_row(row: &Row<'_>, first: usize) -> rusqlite::Result<PlanLimits> {
    Ok(PlanLimits {
        members: limit(row, first)?,
        records: limit(row, first + 1)?,
        storage_bytes: limit(row, first + 2)?,
        collections: limit(row, first + 3)?,
        api_keys: limit(row, first + 4)?,
        requests_per_minute: limit(row, first + 5)?,
        realtime_connections: limit(row, first + 6)?,
    })
}

/// The columns of a plan's limits, as [`limits_row`] reads them.
pub(crate) const LIMIT_COLUMNS: &str = "max_members, max_records, max_storage_bytes, \
     max_collections, max_api_keys, requests_per_minute, realtime_connections";

impl SqliteTenantTx {
    /// Adds the transaction's usage changes to the tenant's row and refuses
    /// the commit if a quota they grew is past the plan's limit.
    pub(super) fn apply_usage(&self) -> Result<()> {
        let delta = self.usage;
        // A failed transaction's commit answers TransactionAborted.
        if delta.is_empty() || self.tx.has_failed() {
            return Ok(());
        }
        let after = self.tx.statement(
            "UPDATE tenant_usage SET members = members + ?2, records = records + ?3,
                 storage_bytes = storage_bytes + ?4, collections = collections + ?5,
                 api_keys = api_keys + ?6
             WHERE tenant_id = ?1
             RETURNING members, records, storage_bytes, collections, api_keys",
            |s| {
                s.query_row(
                    params![
                        self.t(),
                        delta.members,
                        delta.records,
                        delta.storage_bytes,
                        delta.collections,
                        delta.api_keys
                    ],
                    usage_row,
                )
                .optional()
            },
        )?;
        // No row: the tenant itself was deleted in this transaction.
        let Some(after) = after else { return Ok(()) };
        if !delta.grows() {
            return Ok(());
        }
        let sql = format!(
            "SELECT {LIMIT_COLUMNS} FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.id = ?1"
        );
        let limits = self
            .tx
            .statement(&sql, |s| {
                s.query_row([self.t()], |row| limits_row(row, 0)).optional()
            })?
            .ok_or_else(|| StoreError::Internal("the tenant's plan does not exist".into()))?;
        let open_invitations = match delta.invited_at {
            Some(at) => self.tx.statement(
                "SELECT count(*) FROM invitations
                 WHERE tenant_id = ?1 AND accepted_at IS NULL AND expires_at > ?2",
                |s| s.query_row(params![self.t(), Micros(at)], |row| count(row, 0)),
            )?,
            None => 0,
        };
        match delta.exceeded(&after, &limits, open_invitations) {
            Some(quota) => Err(StoreError::QuotaExceeded(quota)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Usage for SqliteTenantTx {
    async fn usage(&mut self) -> Result<TenantUsage> {
        let usage = self.tx.statement(
            "SELECT members, records, storage_bytes, collections, api_keys
             FROM tenant_usage WHERE tenant_id = ?1",
            |s| s.query_row([self.t()], usage_row).optional(),
        )?;
        Ok(usage.unwrap_or_default())
    }
}
