//! Audit logs on PostgreSQL: each tenant's (`audit_log`) and the
//! platform's (`platform_audit_log`), one shape and one chain logic.

use bulkhead_domain::TenantId;
use bulkhead_store::audit::{expected_hash, tail, unlinked};
use bulkhead_store::{AuditDraft, AuditEntry, AuditQuery, StoreError};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::codec;
use crate::tx::Tx;

pub use bulkhead_store::audit::Log;

/// The calls of migration 0005's append functions. Their arguments: the
/// tenant (not for the platform's), then the entry's fields, its tail and
/// its personal data (15), then for a record change its event (6), in the
/// order [`append`] binds them.
const TENANT_APPEND: &str = "SELECT seq, prev_hash, hash FROM bulkhead_audit_append(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
const RECORD_CHANGE_APPEND: &str = "SELECT seq, prev_hash, hash FROM bulkhead_record_change_append(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    $17, $18, $19, $20, $21, $22)";
const PLATFORM_APPEND: &str = "SELECT seq, prev_hash, hash FROM bulkhead_platform_audit_append(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// How each log is read and scoped in SQL here.
trait LogSql {
    fn source(self) -> (&'static str, &'static str);
    fn tenant_uuid(self) -> Option<Uuid>;
    fn push_scope(self, sql: &mut QueryBuilder<'_, Postgres>);
}

impl LogSql for Log {
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Log::Tenant(_) => (
                "audit_log a LEFT JOIN audit_personal p ON p.tenant_id = a.tenant_id AND p.seq = a.seq",
                codec::AUDIT_COLUMNS,
            ),
            Log::Platform => (
                "platform_audit_log a LEFT JOIN platform_audit_personal p ON p.seq = a.seq",
                codec::PLATFORM_AUDIT_COLUMNS,
            ),
        }
    }

    fn tenant_uuid(self) -> Option<Uuid> {
        self.tenant().map(|tenant| *tenant.as_uuid())
    }

    /// Restricts a query to this log's scope.
    fn push_scope(self, sql: &mut QueryBuilder<'_, Postgres>) {
        match self.tenant_uuid() {
            Some(tenant) => {
                sql.push(" WHERE a.tenant_id = ").push_bind(tenant);
            }
            None => {
                sql.push(" WHERE true");
            }
        }
    }
}

/// A record change's event, written by the call that appends its entry.
pub struct EventArgs<'a> {
    pub collection: &'a str,
    pub record_id: Uuid,
    pub kind: &'static str,
    pub owner_id: Option<Uuid>,
    pub payload: &'a serde_json::Value,
    pub at: time::OffsetDateTime,
}

/// Appends an entry to `log`, with `event` if it is a record change's, in
/// one call (see migration 0005). The call takes the chain's lock, which is
/// held until the transaction ends: make it the transaction's last
/// statement, so that the chain waits only on this call and the commit.
pub async fn append(
    tx: &mut Tx,
    log: Log,
    draft: AuditDraft,
    event: Option<EventArgs<'_>>,
) -> Result<AuditEntry, StoreError> {
    let mut entry = unlinked(log.tenant(), draft);
    let tail = tail(&entry);
    let call = match (log, &event) {
        (Log::Tenant(_), None) => TENANT_APPEND,
        (Log::Tenant(_), Some(_)) => RECORD_CHANGE_APPEND,
        (Log::Platform, None) => PLATFORM_APPEND,
        (Log::Platform, Some(_)) => {
            return Err(StoreError::internal(
                "the platform log has no record events",
            ));
        }
    };
    let personal = entry.personal.as_ref();
    let mut query = sqlx::query(call);
    if let Some(tenant) = log.tenant_uuid() {
        query = query.bind(tenant);
    }
    query = query
        .bind(entry.id.as_uuid())
        .bind(entry.at)
        .bind(entry.actor_kind.name())
        .bind(entry.actor_id)
        .bind(&entry.action)
        .bind(&entry.resource_type)
        .bind(&entry.resource_id)
        .bind(entry.outcome.name())
        .bind(&entry.request_id)
        .bind(&entry.details)
        .bind(&entry.personal_digest[..])
        .bind(&tail)
        .bind(personal.map(|p| &p.salt[..]))
        .bind(personal.and_then(|p| p.ip.as_deref()))
        .bind(personal.and_then(|p| p.user_agent.as_deref()));
    if let Some(event) = &event {
        query = query
            .bind(event.collection)
            .bind(event.record_id)
            .bind(event.kind)
            .bind(event.owner_id)
            .bind(event.payload)
            .bind(event.at);
    }
    let (seq, prev_hash, hash) = tx
        .one(query, |row| {
            Ok((
                row.try_get::<i64, _>("seq")?,
                codec::bytes::<32>(row, "prev_hash")?,
                codec::bytes::<32>(row, "hash")?,
            ))
        })
        .await?;
    entry.seq = seq;
    entry.prev_hash = prev_hash;
    entry.hash = hash;
    // The database hashed what we sent; a different result would be a
    // chain `audit verify` rejects, so it is never committed.
    if expected_hash(&entry) != hash {
        return Err(StoreError::internal(format!(
            "the database linked audit entry {seq} with a hash this server does not compute"
        )));
    }
    Ok(entry)
}

/// The number of the tenant's newest entry (0 when none). Record events are
/// numbered by their entries, so it is also where the tenant's event stream
/// is: every event appended later is numbered above it.
pub async fn last_seq(tx: &mut Tx, tenant: TenantId) -> Result<i64, StoreError> {
    tx.one(
        sqlx::query("SELECT coalesce(max(seq), 0)::bigint FROM audit_log WHERE tenant_id = $1")
            .bind(tenant.as_uuid()),
        |row| row.try_get(0),
    )
    .await
}

pub async fn list(
    tx: &mut Tx,
    log: Log,
    query: &AuditQuery,
) -> Result<Vec<AuditEntry>, StoreError> {
    let (source, columns) = log.source();
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {columns} FROM {source}"));
    log.push_scope(&mut sql);
    if let Some(before) = query.before_seq {
        sql.push(" AND a.seq < ").push_bind(before);
    }
    if let Some(action) = &query.action {
        sql.push(" AND a.action = ").push_bind(action.clone());
    }
    if let Some(actor) = query.actor_id {
        sql.push(" AND a.actor_id = ").push_bind(actor);
    }
    if let Some(since) = query.since {
        sql.push(" AND a.at >= ").push_bind(since);
    }
    if let Some(until) = query.until {
        sql.push(" AND a.at < ").push_bind(until);
    }
    sql.push(" ORDER BY a.seq DESC LIMIT ")
        .push_bind(i64::from(query.limit));
    tx.all(sql.build(), codec::audit_entry).await
}

pub async fn chain(
    tx: &mut Tx,
    log: Log,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let (source, columns) = log.source();
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {columns} FROM {source}"));
    log.push_scope(&mut sql);
    sql.push(" AND a.seq > ").push_bind(after_seq);
    sql.push(" ORDER BY a.seq LIMIT ")
        .push_bind(i64::from(limit));
    tx.all(sql.build(), codec::audit_entry).await
}
