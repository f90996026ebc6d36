//! Collections, records, unique values, idempotency keys and record events
//! (stored under their audit entries) on SQLite. Each function is one
//! `TenantTx` method; every statement binds the transaction's tenant as `?1`.

use bulkhead_domain::collection::FieldType;
use bulkhead_domain::{RecordId, TenantId};
use bulkhead_store::{
    AuditDraft, AuditEntry, Collection, Document, IdempotencyClaim, NewCollection, NewRecord,
    NewRecordEvent, Record, RecordChange, RecordEvent, RecordQuery, StoreError, UniqueValue, Write,
};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, params, params_from_iter};
use time::OffsetDateTime;

use crate::audit_log::{self, Log};
use crate::codec::{Micros, id_param, stored_time};
use crate::record_query;
use crate::rows;
use crate::tx::Tx;

pub fn insert_collection(
    tx: &Tx,
    tenant: TenantId,
    new: NewCollection,
) -> Result<Collection, StoreError> {
    let sql = format!(
        "INSERT INTO collections (tenant_id, name, schema, version, created_at, updated_at, owner_only)
         VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5) RETURNING {}",
        rows::COLLECTION_COLUMNS
    );
    tx.statement(&sql, |s| {
        s.query_row(
            params![
                id_param(&tenant),
                new.name,
                new.schema.to_string(),
                Micros(new.at),
                owner_only(&new.schema)
            ],
            rows::collection,
        )
    })
}

pub fn collection(tx: &Tx, tenant: TenantId, name: &str) -> Result<Option<Collection>, StoreError> {
    let sql = format!(
        "SELECT {} FROM collections WHERE tenant_id = ?1 AND name = ?2",
        rows::COLLECTION_COLUMNS
    );
    tx.statement(&sql, |s| {
        s.query_row(params![id_param(&tenant), name], rows::collection)
            .optional()
    })
}

pub fn collection_schema(
    tx: &Tx,
    tenant: TenantId,
    name: &str,
) -> Result<Option<String>, StoreError> {
    tx.statement(
        "SELECT schema FROM collections WHERE tenant_id = ?1 AND name = ?2",
        |s| {
            s.query_row(params![id_param(&tenant), name], |row| row.get(0))
                .optional()
        },
    )
}

pub fn list_collections(tx: &Tx, tenant: TenantId) -> Result<Vec<Collection>, StoreError> {
    let sql = format!(
        "SELECT {} FROM collections WHERE tenant_id = ?1 ORDER BY name",
        rows::COLLECTION_COLUMNS
    );
    tx.statement(&sql, |s| {
        s.query_map([id_param(&tenant)], rows::collection)?
            .collect()
    })
}

pub fn update_collection(
    tx: &Tx,
    tenant: TenantId,
    name: &str,
    schema: &serde_json::Value,
    expected_version: i64,
    at: OffsetDateTime,
) -> Result<Write<Collection>, StoreError> {
    let was_owner_only = collection_is_owner_only(tx, tenant, name)?;
    let sql = format!(
        "UPDATE collections SET schema = ?3, owner_only = ?6, version = version + 1, updated_at = ?5
         WHERE tenant_id = ?1 AND name = ?2 AND version = ?4 RETURNING {}",
        rows::COLLECTION_COLUMNS
    );
    let updated = tx.statement(&sql, |s| {
        s.query_row(
            params![
                id_param(&tenant),
                name,
                schema.to_string(),
                expected_version,
                Micros(at),
                owner_only(schema)
            ],
            rows::collection,
        )
        .optional()
    })?;
    Ok(match updated {
        Some(collection) => {
            let now_owner_only = owner_only(&collection.schema);
            if now_owner_only != was_owner_only {
                mark_owner_only(tx, tenant, name, now_owner_only)?;
            }
            Write::Done(collection)
        }
        None => match self::collection(tx, tenant, name)? {
            Some(current) => Write::VersionMismatch {
                current: current.version,
            },
            None => Write::NotFound,
        },
    })
}

/// Whether a collection schema restricts its records to their owners
/// (`"visibility": "owner"`): what `owner_only` records, on the collection
/// (migration 0005) and on each of its records (migration 0004).
fn owner_only(schema: &serde_json::Value) -> bool {
    schema.get("visibility").and_then(serde_json::Value::as_str) == Some("owner")
}

/// False for a collection that does not exist.
fn collection_is_owner_only(tx: &Tx, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
    let owner_only: Option<bool> = tx.statement(
        "SELECT owner_only FROM collections WHERE tenant_id = ?1 AND name = ?2",
        |s| {
            s.query_row(params![id_param(&tenant), name], |row| row.get(0))
                .optional()
        },
    )?;
    Ok(owner_only.unwrap_or(false))
}

/// Rewrites `owner_only` on every record of the collection, after a schema
/// update changed its visibility.
fn mark_owner_only(
    tx: &Tx,
    tenant: TenantId,
    name: &str,
    owner_only: bool,
) -> Result<(), StoreError> {
    tx.statement(
        "UPDATE records SET owner_only = ?3
         WHERE tenant_id = ?1 AND collection = ?2 AND owner_only != ?3",
        |s| s.execute(params![id_param(&tenant), name, owner_only]),
    )?;
    Ok(())
}

pub fn delete_collection(tx: &Tx, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
    let n = tx.statement(
        "DELETE FROM collections WHERE tenant_id = ?1 AND name = ?2",
        |s| s.execute(params![id_param(&tenant), name]),
    )?;
    Ok(n > 0)
}

pub fn remove_record_field(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    field: &str,
) -> Result<u64, StoreError> {
    // Field names are [a-z][a-z0-9_]* (FieldName), so the JSON path is
    // well-formed; it is bound anyway.
    let path = format!("$.{field}");
    let changed = tx.statement(
        "UPDATE records SET data = json_remove(data, ?3)
             WHERE tenant_id = ?1 AND collection = ?2 AND json_type(data, ?3) IS NOT NULL",
        |s| s.execute(params![id_param(&tenant), collection, path]),
    )?;
    tx.statement(
        "DELETE FROM record_unique_values WHERE tenant_id = ?1 AND collection = ?2 AND field = ?3",
        |s| s.execute(params![id_param(&tenant), collection, field]),
    )?;
    Ok(changed as u64)
}

pub fn ensure_record_index(tx: &Tx, fields: &[(String, FieldType)]) -> Result<(), StoreError> {
    let (name, expressions) = record_query::index_definition(fields);
    if expressions.is_empty() || expressions.len() != fields.len() {
        return Ok(());
    }
    // DDL cannot bind parameters; the name is hex and the expressions are
    // built from validated field names only.
    let sql = format!(
        "CREATE INDEX IF NOT EXISTS {name} ON records (tenant_id, collection, {})",
        expressions.join(", ")
    );
    tx.connection().execute_batch(&sql).map_err(|e| tx.fail(e))
}

fn insert_unique_values(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
    values: &[UniqueValue],
) -> Result<(), StoreError> {
    for unique in values {
        tx.statement(
            "INSERT INTO record_unique_values (tenant_id, collection, field, value, record_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            |s| {
                s.execute(params![
                    id_param(&tenant),
                    collection,
                    unique.field,
                    unique.value,
                    id_param(&id)
                ])
            },
        )?;
    }
    Ok(())
}

pub fn insert_record(tx: &Tx, tenant: TenantId, new: NewRecord) -> Result<Record, StoreError> {
    // The record is returned as written, not read back: parsing its document
    // again cost the writer time that every queued write waits for.
    // owner_only is the collection's (0 for a missing collection, which the
    // foreign key then refuses).
    let data = Document::from_value(&new.data)
        .map_err(|e| StoreError::Internal(format!("record document: {e}")))?;
    tx.statement(
        "INSERT INTO records (tenant_id, id, collection, owner_id, version, created_at, updated_at, data, owner_only)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6,
                 coalesce((SELECT owner_only FROM collections WHERE tenant_id = ?1 AND name = ?3), 0))",
        |s| {
            s.execute(params![
                id_param(&tenant),
                id_param(&new.id),
                new.collection,
                new.owner_id.as_ref().map(id_param),
                Micros(new.at),
                data.as_str()
            ])
        },
    )?;
    insert_unique_values(tx, tenant, &new.collection, new.id, &new.unique_values)?;
    let at = stored_time(new.at);
    Ok(Record {
        tenant_id: tenant,
        id: new.id,
        collection: new.collection,
        owner_id: new.owner_id,
        version: 1,
        created_at: at,
        updated_at: at,
        data,
    })
}

pub fn record(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
) -> Result<Option<Record>, StoreError> {
    let sql = format!(
        "SELECT {} FROM records WHERE tenant_id = ?1 AND id = ?2 AND collection = ?3",
        rows::RECORD_COLUMNS
    );
    tx.statement(&sql, |s| {
        s.query_row(
            params![id_param(&tenant), id_param(&id), collection],
            rows::record,
        )
        .optional()
    })
}

/// The current version of a record, for conditional writes.
fn check_version(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
    expected: Option<i64>,
) -> Result<Option<Write<Record>>, StoreError> {
    match (self::record(tx, tenant, collection, id)?, expected) {
        (None, _) => Ok(Some(Write::NotFound)),
        (Some(current), Some(expected)) if current.version != expected => {
            Ok(Some(Write::VersionMismatch {
                current: current.version,
            }))
        }
        _ => Ok(None),
    }
}

pub fn update_record(
    tx: &Tx,
    tenant: TenantId,
    change: RecordChange,
) -> Result<Write<Record>, StoreError> {
    if let Some(refused) = check_version(
        tx,
        tenant,
        &change.collection,
        change.id,
        change.expected_version,
    )? {
        return Ok(refused);
    }
    let sql = format!(
        "UPDATE records SET data = ?3, version = version + 1, updated_at = ?4
         WHERE tenant_id = ?1 AND id = ?2 RETURNING {}",
        rows::RECORD_COLUMNS
    );
    let record = tx.statement(&sql, |s| {
        s.query_row(
            params![
                id_param(&tenant),
                id_param(&change.id),
                change.data.to_string(),
                Micros(change.at)
            ],
            rows::record,
        )
    })?;
    tx.statement(
        "DELETE FROM record_unique_values WHERE tenant_id = ?1 AND record_id = ?2",
        |s| s.execute(params![id_param(&tenant), id_param(&change.id)]),
    )?;
    insert_unique_values(
        tx,
        tenant,
        &change.collection,
        change.id,
        &change.unique_values,
    )?;
    Ok(Write::Done(record))
}

pub fn delete_record(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
    expected: Option<i64>,
) -> Result<Write<Record>, StoreError> {
    if let Some(refused) = check_version(tx, tenant, collection, id, expected)? {
        return Ok(refused);
    }
    let sql = format!(
        "DELETE FROM records WHERE tenant_id = ?1 AND id = ?2 RETURNING {}",
        rows::RECORD_COLUMNS
    );
    let record = tx.statement(&sql, |s| {
        s.query_row(params![id_param(&tenant), id_param(&id)], rows::record)
    })?;
    Ok(Write::Done(record))
}

pub fn list_records(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    query: &RecordQuery,
) -> Result<Vec<Record>, StoreError> {
    let mut params: Vec<Sql> = vec![
        Sql::Blob(id_param(&tenant).to_vec()),
        Sql::Text(collection.to_owned()),
    ];
    let mut sql = format!(
        "SELECT {} FROM records WHERE tenant_id = ?1 AND collection = ?2",
        rows::RECORD_COLUMNS
    );
    if let Some(owner) = &query.owner {
        params.push(Sql::Blob(id_param(owner).to_vec()));
        sql.push_str(&format!(" AND owner_id = ?{}", params.len()));
        // In an owner-visibility collection every record has owner_only = 1;
        // saying so, as a literal, is what lets SQLite use the partial index
        // ix_records_owner (migration 0004). Elsewhere (the service never
        // asks) the owner is a plain filter.
        if collection_is_owner_only(tx, tenant, collection)? {
            sql.push_str(" AND owner_only = 1");
        }
    }
    let order = query.order();
    if let Some(filter) = &query.filter {
        let leading_sort = order.first().map(|key| &key.field);
        let fragment = record_query::filter(filter, params.len(), leading_sort);
        sql.push_str(&format!(" AND ({})", fragment.sql));
        params.extend(fragment.params);
    }
    if let Some(cursor) = &query.after {
        let fragment = record_query::after(&order, cursor, params.len());
        sql.push_str(&format!(" AND {}", fragment.sql));
        params.extend(fragment.params);
    }
    params.push(Sql::Integer(i64::from(query.limit)));
    sql.push_str(&format!(
        " ORDER BY {} LIMIT ?{}",
        record_query::order_by(&order),
        params.len()
    ));
    tx.statement(&sql, |s| {
        s.query_map(params_from_iter(params.iter()), rows::record)?
            .collect()
    })
}

pub fn unique_value_holder(
    tx: &Tx,
    tenant: TenantId,
    collection: &str,
    field: &str,
    value: &str,
) -> Result<Option<RecordId>, StoreError> {
    tx.statement(
        "SELECT record_id FROM record_unique_values
             WHERE tenant_id = ?1 AND collection = ?2 AND field = ?3 AND value = ?4",
        |s| {
            s.query_row(
                params![id_param(&tenant), collection, field, value],
                |row| crate::codec::id_col(row, 0),
            )
            .optional()
        },
    )
}

pub fn claim_idempotency_key(
    tx: &Tx,
    tenant: TenantId,
    key: &str,
    request_hash: &[u8; 32],
    at: OffsetDateTime,
) -> Result<IdempotencyClaim, StoreError> {
    let inserted = tx.statement("INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id, key) DO NOTHING", |s| s.execute(params![id_param(&tenant), key, request_hash, Micros(at)]))?;
    if inserted == 1 {
        return Ok(IdempotencyClaim::New);
    }
    let (hash, status, response): ([u8; 32], Option<i64>, Option<String>) = tx.statement("SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2", |s| s.query_row(params![id_param(&tenant), key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))))?;
    Ok(match (hash == *request_hash, status, response) {
        (true, Some(status), Some(response)) => IdempotencyClaim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body: serde_json::from_str(&response).map_err(StoreError::internal)?,
        },
        // A claim never completed, or for another request: both are a
        // different use of the key than this one.
        _ => IdempotencyClaim::Mismatch,
    })
}

pub fn complete_idempotency_key(
    tx: &Tx,
    tenant: TenantId,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<(), StoreError> {
    tx.statement(
        "UPDATE idempotency_keys SET status = ?3, response = ?4 WHERE tenant_id = ?1 AND key = ?2",
        |s| s.execute(params![id_param(&tenant), key, status, body.to_string()]),
    )?;
    Ok(())
}

pub fn append_record_change(
    tx: &Tx,
    tenant: TenantId,
    event: NewRecordEvent,
    audit: AuditDraft,
) -> Result<(RecordEvent, AuditEntry), StoreError> {
    // The event is stored under its audit entry's row and numbered by it:
    // the audit log's (tenant_id, seq) index finds a tenant's events, so an
    // event costs the writer no per-tenant index leaf of its own. A group
    // commit carries creates of many tenants, and each per-tenant leaf is a
    // page written to the WAL for every one of them (migration 0006).
    let (entry, row) = audit_log::append_entry(tx, Log::Tenant(tenant), audit)?;
    tx.statement(
        "INSERT INTO record_events (entry, tenant_id, collection, record_id, kind, owner_id, payload, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        |s| {
            s.execute(params![
                row,
                id_param(&tenant),
                event.collection,
                id_param(&event.record_id),
                event.kind.as_str(),
                event.owner_id.as_ref().map(id_param),
                event.payload.to_string(),
                Micros(event.at)
            ])
        },
    )?;
    let event = RecordEvent {
        tenant_id: tenant,
        seq: entry.seq,
        collection: event.collection,
        record_id: event.record_id,
        kind: event.kind,
        owner_id: event.owner_id,
        payload: event.payload,
        at: stored_time(event.at),
    };
    Ok((event, entry))
}

pub fn record_events_after(
    tx: &Tx,
    tenant: TenantId,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<RecordEvent>, StoreError> {
    tx.statement(&record_events_after_sql(), |s| {
        s.query_map(
            params![id_param(&tenant), after_seq, limit],
            rows::record_event,
        )?
        .collect()
    })
}

/// Events after `?2` of tenant `?1`, at most `?3`. It walks the tenant's
/// audit entries through the (tenant_id, seq) index, which holds each
/// entry's row, and finds the events stored under them; entries without one
/// are skipped (checked by the test below).
fn record_events_after_sql() -> String {
    format!(
        "SELECT {} FROM audit_log a JOIN record_events e ON e.entry = a.entry
         WHERE a.tenant_id = ?1 AND a.seq > ?2 AND e.tenant_id = ?1
         ORDER BY a.seq LIMIT ?3",
        rows::RECORD_EVENT_COLUMNS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite's own (bundled) build makes: no scan, no sort, no
    /// index of the events' own.
    #[test]
    fn a_tenants_events_are_read_through_the_audit_index() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrate::run(&connection, 0).unwrap();
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {}", record_events_after_sql()))
            .unwrap();
        let plan: Vec<String> = statement
            .query_map(params![[0_u8; 16], 0, 10], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            plan,
            [
                "SEARCH a USING COVERING INDEX sqlite_autoindex_audit_log_1 (tenant_id=? AND seq>?)",
                "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)",
            ]
        );
    }
}
