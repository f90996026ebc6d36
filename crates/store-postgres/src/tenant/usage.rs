//! The tenant's usage on PostgreSQL, and the quota check at commit.
//!
//! The commit adds the transaction's changes to the tenant's usage row with
//! one UPDATE, which locks the row until the commit: a second transaction
//! of the same tenant waits for it there and then adds to the sum the first
//! one committed, so two writes at a quota's edge cannot both pass. A write
//! that grows a quota then reads its plan's limits.

use async_trait::async_trait;
use bulkhead_domain::plan::PlanLimits;
use bulkhead_store::plans::TenantUsage;
use bulkhead_store::{Result, StoreError, Usage};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgTenantTx;

fn count(row: &PgRow, column: &str) -> sqlx::Result<u64> {
    // The table's CHECKs keep every counter at zero or more.
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

fn usage_row(row: &PgRow) -> sqlx::Result<TenantUsage> {
    Ok(TenantUsage {
        members: count(row, "members")?,
        records: count(row, "records")?,
        storage_bytes: count(row, "storage_bytes")?,
        collections: count(row, "collections")?,
        api_keys: count(row, "api_keys")?,
    })
}

fn limit(row: &PgRow, column: &str) -> sqlx::Result<Option<u64>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(|n| u64::try_from(n).unwrap_or(0)))
}

/// A plan's limits from its columns (see [`LIMIT_COLUMNS`]).
pub(crate) fn limits_row(row: &PgRow) -> sqlx::Result<PlanLimits> {
    Ok(PlanLimits {
        members: limit(row, "max_members")?,
        records: limit(row, "max_records")?,
        storage_bytes: limit(row, "max_storage_bytes")?,
        collections: limit(row, "max_collections")?,
        api_keys: limit(row, "max_api_keys")?,
        requests_per_minute: limit(row, "requests_per_minute")?,
        realtime_connections: limit(row, "realtime_connections")?,
    })
}

/// The columns of a plan's limits, as [`limits_row`] reads them.
pub(crate) const LIMIT_COLUMNS: &str = "max_members, max_records, max_storage_bytes, \
     max_collections, max_api_keys, requests_per_minute, realtime_connections";

impl PgTenantTx {
    /// Adds the transaction's usage changes to the tenant's row and refuses
    /// the commit if a quota they grew is past the plan's limit.
    pub(super) async fn apply_usage(&mut self) -> Result<()> {
        let delta = self.usage;
        // A failed transaction's commit answers TransactionAborted.
        if delta.is_empty() || self.tx.has_failed() {
            return Ok(());
        }
        let statement = sqlx::query(
            "UPDATE tenant_usage SET members = members + $2, records = records + $3,
                 storage_bytes = storage_bytes + $4, collections = collections + $5,
                 api_keys = api_keys + $6
             WHERE tenant_id = $1
             RETURNING members, records, storage_bytes, collections, api_keys",
        )
        .bind(self.t())
        .bind(delta.members)
        .bind(delta.records)
        .bind(delta.storage_bytes)
        .bind(delta.collections)
        .bind(delta.api_keys);
        // No row: the tenant itself was deleted in this transaction.
        let Some(after) = self.tx.optional(statement, usage_row).await? else {
            return Ok(());
        };
        if !delta.grows() {
            return Ok(());
        }
        // The plan is read in a statement of its own: joined into the
        // UPDATE, Citus plans the prepared statement's generic plan as a
        // multi-shard one.
        let sql = format!(
            "SELECT {LIMIT_COLUMNS} FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.id = $1"
        );
        let statement = sqlx::query(&sql).bind(self.t());
        let limits = self
            .tx
            .optional(statement, limits_row)
            .await?
            .ok_or_else(|| StoreError::Internal("the tenant's plan does not exist".into()))?;
        let open_invitations = match delta.invited_at {
            Some(at) => {
                let statement = sqlx::query(
                    "SELECT count(*) FROM invitations
                     WHERE tenant_id = $1 AND accepted_at IS NULL AND expires_at > $2",
                )
                .bind(self.t())
                .bind(at);
                let open: i64 = self.tx.one(statement, |row| row.try_get(0)).await?;
                u64::try_from(open).unwrap_or(0)
            }
            None => 0,
        };
        match delta.exceeded(&after, &limits, open_invitations) {
            Some(quota) => Err(StoreError::QuotaExceeded(quota)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Usage for PgTenantTx {
    async fn usage(&mut self) -> Result<TenantUsage> {
        let statement = sqlx::query(
            "SELECT members, records, storage_bytes, collections, api_keys
             FROM tenant_usage WHERE tenant_id = $1",
        )
        .bind(self.t());
        Ok(self
            .tx
            .optional(statement, usage_row)
            .await?
            .unwrap_or_default())
    }
}
