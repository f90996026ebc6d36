//! Audit logs on SQLite: each tenant's (`audit_log`) and the platform's
//! (`platform_audit_log`), which share one shape and one chain logic.

use bulkhead_domain::TenantId;
use bulkhead_store::audit::seal;
use bulkhead_store::{AuditDraft, AuditEntry, AuditQuery, StoreError};
use rusqlite::types::ToSql;
use rusqlite::{OptionalExtension, params};

use crate::codec::{Micros, id_param};
use crate::rows;
use crate::tx::Tx;

pub use bulkhead_store::audit::Log;

/// How each log is read and scoped in SQL here.
trait LogSql {
    fn source(self) -> (&'static str, &'static str, &'static str);
    fn scope(self) -> Option<[u8; 16]>;
}

impl LogSql for Log {
    /// The FROM clause and the scope predicate; `?1` is the tenant id for a
    /// tenant log and unused (bound to NULL) for the platform log.
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Log::Tenant(_) => (
                "audit_log a LEFT JOIN audit_personal p ON p.entry = a.entry",
                "a.tenant_id = ?1",
                rows::AUDIT_COLUMNS,
            ),
            Log::Platform => (
                "platform_audit_log a LEFT JOIN platform_audit_personal p ON p.seq = a.seq",
                "?1 IS NULL",
                rows::PLATFORM_AUDIT_COLUMNS,
            ),
        }
    }

    fn scope(self) -> Option<[u8; 16]> {
        self.tenant().map(|tenant| *id_param(&tenant))
    }
}

pub fn append(tx: &Tx, log: Log, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
    append_entry(tx, log, draft).map(|(entry, _)| entry)
}

/// Appends an entry and returns it with its row: the `entry` column of a
/// tenant log (which numbers all tenants' entries in write order), the
/// `seq` of the platform log.
pub fn append_entry(tx: &Tx, log: Log, draft: AuditDraft) -> Result<(AuditEntry, i64), StoreError> {
    let scope = log.scope();
    // The single writer connection serialises appends, so the last entry
    // read here is still the last one when ours is inserted.
    let last_sql = match log {
        Log::Tenant(_) => {
            "SELECT seq, hash FROM audit_log WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT 1"
        }
        Log::Platform => {
            "SELECT seq, hash FROM platform_audit_log WHERE ?1 IS NULL ORDER BY seq DESC LIMIT 1"
        }
    };
    let previous: Option<(i64, [u8; 32])> = tx.statement(last_sql, |s| {
        s.query_row([scope], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
    })?;
    let entry = seal(log.tenant(), previous, draft);
    let values = params![
        entry.seq,
        id_param(&entry.id),
        Micros(entry.at),
        entry.actor_kind.name(),
        entry.actor_id.as_ref().map(|id| id.as_bytes()),
        entry.action,
        entry.resource_type,
        entry.resource_id,
        entry.outcome.name(),
        entry.request_id,
        entry.details.to_string(),
        entry.personal_digest,
        entry.prev_hash,
        entry.hash,
        scope,
    ];
    let insert = match log {
        Log::Tenant(_) => {
            "INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, action, resource_type, resource_id,
                 outcome, request_id, details, personal_digest, prev_hash, hash, tenant_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        }
        Log::Platform => {
            "INSERT INTO platform_audit_log (seq, id, at, actor_kind, actor_id, action, resource_type,
                 resource_id, outcome, request_id, details, personal_digest, prev_hash, hash)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14 WHERE ?15 IS NULL"
        }
    };
    tx.statement(insert, |s| s.execute(values))?;
    let row = tx.connection().last_insert_rowid();
    if let Some(personal) = &entry.personal {
        let insert = match log {
            // Keyed by the entry just inserted (the writer connection's last
            // insert), with the tenant taken from that entry itself.
            Log::Tenant(_) => {
                "INSERT INTO audit_personal (entry, tenant_id, salt, ip, user_agent)
                 SELECT entry, tenant_id, ?3, ?4, ?5 FROM audit_log
                 WHERE entry = last_insert_rowid() AND tenant_id = ?1 AND seq = ?2"
            }
            Log::Platform => {
                "INSERT INTO platform_audit_personal (seq, salt, ip, user_agent)
                 SELECT ?2, ?3, ?4, ?5 WHERE ?1 IS NULL"
            }
        };
        let inserted = tx.statement(insert, |s| {
            s.execute(params![
                scope,
                entry.seq,
                personal.salt,
                personal.ip,
                personal.user_agent
            ])
        })?;
        if inserted != 1 {
            return Err(StoreError::Internal(
                "the audit entry's personal row found no entry".into(),
            ));
        }
    }
    Ok((entry, row))
}

/// The number of the tenant's newest entry (0 when none). Record events are
/// numbered by their entries, so it is also where the tenant's event stream
/// is: every event appended later is numbered above it.
pub fn last_seq(tx: &Tx, tenant: TenantId) -> Result<i64, StoreError> {
    tx.statement(
        "SELECT coalesce(max(seq), 0) FROM audit_log WHERE tenant_id = ?1",
        |s| s.query_row([id_param(&tenant)], |row| row.get(0)),
    )
}

pub fn list(tx: &Tx, log: Log, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    let (source, scope_predicate, columns) = log.source();
    // Optional filters are appended as parameterised clauses; the scope
    // predicate is always the first.
    let mut sql = format!("SELECT {columns} FROM {source} WHERE {scope_predicate}");
    let scope = log.scope();
    let actor = query.actor_id.map(|id| *id.as_bytes());
    let since = query.since.map(Micros);
    let until = query.until.map(Micros);
    let mut values: Vec<&dyn ToSql> = vec![&scope];
    if let Some(before) = &query.before_seq {
        values.push(before);
        sql.push_str(&format!(" AND a.seq < ?{}", values.len()));
    }
    if let Some(action) = &query.action {
        values.push(action);
        sql.push_str(&format!(" AND a.action = ?{}", values.len()));
    }
    if let Some(actor) = &actor {
        values.push(actor);
        sql.push_str(&format!(" AND a.actor_id = ?{}", values.len()));
    }
    if let Some(since) = &since {
        values.push(since);
        sql.push_str(&format!(" AND a.at >= ?{}", values.len()));
    }
    if let Some(until) = &until {
        values.push(until);
        sql.push_str(&format!(" AND a.at < ?{}", values.len()));
    }
    values.push(&query.limit);
    sql.push_str(&format!(" ORDER BY a.seq DESC LIMIT ?{}", values.len()));
    tx.statement(&sql, |s| {
        s.query_map(values.as_slice(), rows::audit_entry)?.collect()
    })
}

pub fn chain(tx: &Tx, log: Log, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
    let (source, scope_predicate, columns) = log.source();
    let sql = format!(
        "SELECT {columns} FROM {source} WHERE {scope_predicate} AND a.seq > ?2 ORDER BY a.seq LIMIT ?3"
    );
    tx.statement(&sql, |s| {
        s.query_map(params![log.scope(), after_seq, limit], rows::audit_entry)?
            .collect()
    })
}
