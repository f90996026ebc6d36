//! Audit logs on PostgreSQL: each tenant's (`audit_log`) and the
//! platform's (`platform_audit_log`), one shape and one chain logic.

use bulkhead_domain::TenantId;
use bulkhead_store::audit::seal;
use bulkhead_store::{AuditDraft, AuditEntry, AuditQuery, StoreError};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::codec;
use crate::tx::Tx;

/// The first key of the advisory locks that serialise appends to one chain
/// ("audi"); the second is derived from the tenant (0 for the platform).
const AUDIT_LOCK: i32 = 0x6175_6469;

pub use bulkhead_store::audit::Log;

/// A tenant's entry: the chain's fields ($1 to $14), then the tenant ($15).
const TENANT_ENTRY: &str = "INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, action,
        resource_type, resource_id, outcome, request_id, details, personal_digest, prev_hash, hash,
        tenant_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// [`TENANT_ENTRY`] and its personal data (salt, ip, user agent: $16 to $18).
const TENANT_ENTRY_WITH_PERSONAL: &str = "WITH entry AS (
       INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, action, resource_type,
           resource_id, outcome, request_id, details, personal_digest, prev_hash, hash, tenant_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15))
     INSERT INTO audit_personal (seq, salt, ip, user_agent, tenant_id)
     VALUES ($1, $16, $17, $18, $15)";

/// The platform's entry: the chain's fields ($1 to $14).
const PLATFORM_ENTRY: &str = "INSERT INTO platform_audit_log (seq, id, at, actor_kind, actor_id,
        action, resource_type, resource_id, outcome, request_id, details, personal_digest,
        prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// [`PLATFORM_ENTRY`] and its personal data (salt, ip, user agent: $15 to $17).
const PLATFORM_ENTRY_WITH_PERSONAL: &str = "WITH entry AS (
       INSERT INTO platform_audit_log (seq, id, at, actor_kind, actor_id, action, resource_type,
           resource_id, outcome, request_id, details, personal_digest, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14))
     INSERT INTO platform_audit_personal (seq, salt, ip, user_agent)
     VALUES ($1, $15, $16, $17)";

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

pub async fn append(tx: &mut Tx, log: Log, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
    // Appends to one chain are serialised by a transaction-level advisory
    // lock, so the last entry read here stays the last one until ours
    // commits. Other tenants' appends take other locks.
    tx.execute(
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
            .bind(AUDIT_LOCK)
            .bind(log.tenant_uuid().map(|t| t.to_string()).unwrap_or_default()),
    )
    .await?;
    let last_sql = match log {
        Log::Tenant(_) => {
            "SELECT seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1"
        }
        Log::Platform => {
            "SELECT seq, hash FROM platform_audit_log WHERE $1::uuid IS NULL ORDER BY seq DESC LIMIT 1"
        }
    };
    let previous = tx
        .optional(sqlx::query(last_sql).bind(log.tenant_uuid()), |row| {
            let hash: Vec<u8> = row.try_get("hash")?;
            let hash: [u8; 32] = hash.try_into().map_err(|_| sqlx::Error::ColumnDecode {
                index: "hash".into(),
                source: "expected 32 bytes".into(),
            })?;
            Ok((row.try_get::<i64, _>("seq")?, hash))
        })
        .await?;
    let entry = seal(log.tenant(), previous, draft);
    // The entry and its personal data in one statement, one round trip: the
    // personal row is a data-modifying CTE's companion (Citus runs it as a
    // second task on the same shard). Plain VALUES, never INSERT … SELECT:
    // Citus carries out an INSERT … SELECT into a replicated table through
    // COPY, which PostgreSQL refuses on a table with row-level security.
    let insert = match (log, entry.personal.is_some()) {
        (Log::Tenant(_), false) => TENANT_ENTRY,
        (Log::Tenant(_), true) => TENANT_ENTRY_WITH_PERSONAL,
        (Log::Platform, false) => PLATFORM_ENTRY,
        (Log::Platform, true) => PLATFORM_ENTRY_WITH_PERSONAL,
    };
    let query = sqlx::query(insert)
        .bind(entry.seq)
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
        .bind(&entry.prev_hash[..])
        .bind(&entry.hash[..]);
    let query = match log.tenant_uuid() {
        Some(tenant) => query.bind(tenant),
        None => query,
    };
    let query = match &entry.personal {
        Some(personal) => query
            .bind(&personal.salt[..])
            .bind(&personal.ip)
            .bind(&personal.user_agent),
        None => query,
    };
    tx.execute(query).await?;
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
