//! Collections, records, unique values, idempotency keys and record events
//! (numbered by their audit entries) on PostgreSQL. Each function is one
//! `TenantTx` method; every statement also names the transaction's tenant,
//! on top of row-level security.

use bulkhead_domain::collection::FieldType;
use bulkhead_domain::{RecordId, TenantId};
use bulkhead_store::{
    AuditDraft, AuditEntry, Collection, Document, EventKind, IdempotencyClaim, NewCollection,
    NewRecord, NewRecordEvent, Record, RecordChange, RecordEvent, RecordQuery, StoreError,
    UniqueValue, Write,
};
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use crate::audit_log::{self, Log};
use crate::codec::store_error;
use crate::record_query;

const COLLECTION_COLUMNS: &str = "tenant_id, name, schema, version, created_at, updated_at";
const RECORD_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";
const EVENT_COLUMNS: &str = "tenant_id, seq, collection, record_id, kind, owner_id, payload, at";

fn collection_row(row: &PgRow) -> sqlx::Result<Collection> {
    Ok(Collection {
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        schema: row.try_get("schema")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn record_row(row: &PgRow) -> sqlx::Result<Record> {
    Ok(Record {
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        id: RecordId::from_uuid(row.try_get("id")?),
        collection: row.try_get("collection")?,
        owner_id: row
            .try_get::<Option<uuid::Uuid>, _>("owner_id")?
            .map(bulkhead_domain::UserId::from_uuid),
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        data: Document::from_raw(
            row.try_get::<sqlx::types::Json<Box<RawValue>>, _>("data")?
                .0,
        ),
    })
}

fn event_row(row: &PgRow) -> sqlx::Result<RecordEvent> {
    let kind: &str = row.try_get("kind")?;
    Ok(RecordEvent {
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        seq: row.try_get("seq")?,
        collection: row.try_get("collection")?,
        record_id: RecordId::from_uuid(row.try_get("record_id")?),
        kind: EventKind::parse(kind).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "kind".into(),
            source: format!("unknown event kind {kind:?}").into(),
        })?,
        owner_id: row
            .try_get::<Option<uuid::Uuid>, _>("owner_id")?
            .map(bulkhead_domain::UserId::from_uuid),
        payload: row.try_get("payload")?,
        at: row.try_get("at")?,
    })
}

pub async fn insert_collection(
    c: &mut PgConnection,
    tenant: TenantId,
    new: NewCollection,
) -> Result<Collection, StoreError> {
    let sql = format!(
        "INSERT INTO collections (tenant_id, name, schema, version, created_at, updated_at)
         VALUES ($1, $2, $3, 1, $4, $4) RETURNING {COLLECTION_COLUMNS}"
    );
    sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(&new.name)
        .bind(&new.schema)
        .bind(new.at)
        .try_map(|row| collection_row(&row))
        .fetch_one(c)
        .await
        .map_err(store_error)
}

/// `jsonb` renders the same value as the same text, so equal text means an
/// unchanged schema.
pub async fn collection_schema(
    c: &mut PgConnection,
    tenant: TenantId,
    name: &str,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT schema::text FROM collections WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.as_uuid())
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(store_error)
}

pub async fn collection(
    c: &mut PgConnection,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Collection>, StoreError> {
    let sql =
        format!("SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 AND name = $2");
    sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(name)
        .try_map(|row| collection_row(&row))
        .fetch_optional(c)
        .await
        .map_err(store_error)
}

pub async fn list_collections(
    c: &mut PgConnection,
    tenant: TenantId,
) -> Result<Vec<Collection>, StoreError> {
    let sql = format!(
        "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 ORDER BY name COLLATE \"C\""
    );
    sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .try_map(|row| collection_row(&row))
        .fetch_all(c)
        .await
        .map_err(store_error)
}

pub async fn update_collection(
    c: &mut PgConnection,
    tenant: TenantId,
    name: &str,
    schema: &serde_json::Value,
    expected_version: i64,
    at: OffsetDateTime,
) -> Result<Write<Collection>, StoreError> {
    let sql = format!(
        "UPDATE collections SET schema = $3, version = version + 1, updated_at = $5
         WHERE tenant_id = $1 AND name = $2 AND version = $4 RETURNING {COLLECTION_COLUMNS}"
    );
    let updated = sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(name)
        .bind(schema)
        .bind(expected_version)
        .bind(at)
        .try_map(|row| collection_row(&row))
        .fetch_optional(&mut *c)
        .await
        .map_err(store_error)?;
    Ok(match updated {
        Some(collection) => Write::Done(collection),
        None => match self::collection(c, tenant, name).await? {
            Some(current) => Write::VersionMismatch {
                current: current.version,
            },
            None => Write::NotFound,
        },
    })
}

pub async fn delete_collection(
    c: &mut PgConnection,
    tenant: TenantId,
    name: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM collections WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.as_uuid())
        .bind(name)
        .execute(c)
        .await
        .map_err(store_error)?;
    Ok(result.rows_affected() > 0)
}

pub async fn remove_record_field(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    field: &str,
) -> Result<u64, StoreError> {
    let changed = sqlx::query(
        "UPDATE records SET data = data - $3 WHERE tenant_id = $1 AND collection = $2 AND data ? $3",
    )
    .bind(tenant.as_uuid())
    .bind(collection)
    .bind(field)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    sqlx::query(
        "DELETE FROM record_unique_values WHERE tenant_id = $1 AND collection = $2 AND field = $3",
    )
    .bind(tenant.as_uuid())
    .bind(collection)
    .bind(field)
    .execute(c)
    .await
    .map_err(store_error)?;
    Ok(changed.rows_affected())
}

pub async fn ensure_record_index(
    c: &mut PgConnection,
    fields: &[(String, FieldType)],
) -> Result<(), StoreError> {
    let (name, expressions) = record_query::index_definition(fields);
    if expressions.is_empty() || expressions.len() != fields.len() {
        return Ok(());
    }
    sqlx::query("SELECT bulkhead_ensure_record_index($1, $2)")
        .bind(&name)
        .bind(&expressions)
        .execute(c)
        .await
        .map_err(store_error)?;
    Ok(())
}

async fn insert_unique_values(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
    values: &[UniqueValue],
) -> Result<(), StoreError> {
    for unique in values {
        sqlx::query(
            "INSERT INTO record_unique_values (tenant_id, collection, field, value, record_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_uuid())
        .bind(collection)
        .bind(&unique.field)
        .bind(&unique.value)
        .bind(id.as_uuid())
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

pub async fn insert_record(
    c: &mut PgConnection,
    tenant: TenantId,
    new: NewRecord,
) -> Result<Record, StoreError> {
    let sql = format!(
        "INSERT INTO records (tenant_id, id, collection, owner_id, version, created_at, updated_at, data)
         VALUES ($1, $2, $3, $4, 1, $5, $5, $6) RETURNING {RECORD_COLUMNS}"
    );
    let record = sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(new.id.as_uuid())
        .bind(&new.collection)
        .bind(new.owner_id.map(|id| *id.as_uuid()))
        .bind(new.at)
        .bind(&new.data)
        .try_map(|row| record_row(&row))
        .fetch_one(&mut *c)
        .await
        .map_err(store_error)?;
    insert_unique_values(c, tenant, &new.collection, new.id, &new.unique_values).await?;
    Ok(record)
}

pub async fn record(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
) -> Result<Option<Record>, StoreError> {
    // By primary key only, and the collection checked here: naming the
    // collection in SQL lets a planner without fresh statistics prefer an
    // index led by (tenant_id, collection) and walk the whole collection.
    let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND id = $2");
    let record = sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(id.as_uuid())
        .try_map(|row| record_row(&row))
        .fetch_optional(c)
        .await
        .map_err(store_error)?;
    Ok(record.filter(|record| record.collection == collection))
}

/// Locks the record and checks its version, for conditional writes.
async fn check_version(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
    expected: Option<i64>,
) -> Result<Option<Write<Record>>, StoreError> {
    // By primary key only (see `record`), the collection checked here.
    let current: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, collection FROM records WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(c)
    .await
    .map_err(store_error)?;
    let current = current
        .filter(|(_, found)| found == collection)
        .map(|(version, _)| version);
    Ok(match (current, expected) {
        (None, _) => Some(Write::NotFound),
        (Some(current), Some(expected)) if current != expected => {
            Some(Write::VersionMismatch { current })
        }
        _ => None,
    })
}

pub async fn update_record(
    c: &mut PgConnection,
    tenant: TenantId,
    change: RecordChange,
) -> Result<Write<Record>, StoreError> {
    if let Some(refused) = check_version(
        c,
        tenant,
        &change.collection,
        change.id,
        change.expected_version,
    )
    .await?
    {
        return Ok(refused);
    }
    let sql = format!(
        "UPDATE records SET data = $3, version = version + 1, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 RETURNING {RECORD_COLUMNS}"
    );
    let record = sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(change.id.as_uuid())
        .bind(&change.data)
        .bind(change.at)
        .try_map(|row| record_row(&row))
        .fetch_one(&mut *c)
        .await
        .map_err(store_error)?;
    sqlx::query("DELETE FROM record_unique_values WHERE tenant_id = $1 AND record_id = $2")
        .bind(tenant.as_uuid())
        .bind(change.id.as_uuid())
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    insert_unique_values(
        c,
        tenant,
        &change.collection,
        change.id,
        &change.unique_values,
    )
    .await?;
    Ok(Write::Done(record))
}

pub async fn delete_record(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    id: RecordId,
    expected: Option<i64>,
) -> Result<Write<Record>, StoreError> {
    if let Some(refused) = check_version(c, tenant, collection, id, expected).await? {
        return Ok(refused);
    }
    let sql =
        format!("DELETE FROM records WHERE tenant_id = $1 AND id = $2 RETURNING {RECORD_COLUMNS}");
    let record = sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(id.as_uuid())
        .try_map(|row| record_row(&row))
        .fetch_one(c)
        .await
        .map_err(store_error)?;
    Ok(Write::Done(record))
}

pub async fn list_records(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    query: &RecordQuery,
) -> Result<Vec<Record>, StoreError> {
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = "
    ));
    sql.push_bind(*tenant.as_uuid());
    sql.push(" AND collection = ")
        .push_bind(collection.to_owned());
    if let Some(owner) = &query.owner {
        sql.push(" AND owner_id = ").push_bind(*owner.as_uuid());
    }
    if let Some(filter) = &query.filter {
        sql.push(" AND (");
        record_query::push_filter(&mut sql, filter);
        sql.push(")");
    }
    let order = query.order();
    if let Some(cursor) = &query.after {
        sql.push(" AND ");
        record_query::push_after(&mut sql, &order, cursor);
    }
    sql.push(" ORDER BY ").push(record_query::order_by(&order));
    // A literal (a u32, so nothing to inject): with the limit bound,
    // PostgreSQL planned every list afresh (a custom plan each time, never a
    // generic one), which cost more than the query.
    sql.push(format_args!(" LIMIT {}", query.limit));
    sql.build()
        .try_map(|row| record_row(&row))
        .fetch_all(c)
        .await
        .map_err(store_error)
}

pub async fn unique_value_holder(
    c: &mut PgConnection,
    tenant: TenantId,
    collection: &str,
    field: &str,
    value: &str,
) -> Result<Option<RecordId>, StoreError> {
    let holder: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT record_id FROM record_unique_values
         WHERE tenant_id = $1 AND collection = $2 AND field = $3 AND value = $4",
    )
    .bind(tenant.as_uuid())
    .bind(collection)
    .bind(field)
    .bind(value)
    .fetch_optional(c)
    .await
    .map_err(store_error)?;
    Ok(holder.map(RecordId::from_uuid))
}

pub async fn claim_idempotency_key(
    c: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    request_hash: &[u8; 32],
    at: OffsetDateTime,
) -> Result<IdempotencyClaim, StoreError> {
    // A concurrent claimer's insert waits on ours (same key) until we commit
    // or roll back; it then finds our answer, or takes the key itself.
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, key) DO NOTHING",
    )
    .bind(tenant.as_uuid())
    .bind(key)
    .bind(&request_hash[..])
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    if inserted.rows_affected() == 1 {
        return Ok(IdempotencyClaim::New);
    }
    let (hash, status, response): (Vec<u8>, Option<i32>, Option<serde_json::Value>) = sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
    )
    .bind(tenant.as_uuid())
    .bind(key)
    .fetch_one(c)
    .await
    .map_err(store_error)?;
    Ok(match (hash[..] == request_hash[..], status, response) {
        (true, Some(status), Some(body)) => IdempotencyClaim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        },
        _ => IdempotencyClaim::Mismatch,
    })
}

pub async fn complete_idempotency_key(
    c: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE tenant_id = $1 AND key = $2",
    )
    .bind(tenant.as_uuid())
    .bind(key)
    .bind(i32::from(status))
    .bind(body)
    .execute(c)
    .await
    .map_err(store_error)?;
    Ok(())
}

pub async fn append_record_change(
    c: &mut PgConnection,
    tenant: TenantId,
    event: NewRecordEvent,
    audit: AuditDraft,
) -> Result<(RecordEvent, AuditEntry), StoreError> {
    // The entry's append holds its chain's lock to commit, so the event,
    // numbered by the entry, is numbered under it too.
    let entry = audit_log::append(&mut *c, Log::Tenant(tenant), audit).await?;
    let sql = format!(
        "INSERT INTO record_events (tenant_id, seq, collection, record_id, kind, owner_id, payload, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING {EVENT_COLUMNS}"
    );
    let event = sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(entry.seq)
        .bind(&event.collection)
        .bind(event.record_id.as_uuid())
        .bind(event.kind.as_str())
        .bind(event.owner_id.map(|id| *id.as_uuid()))
        .bind(&event.payload)
        .bind(event.at)
        .try_map(|row| event_row(&row))
        .fetch_one(c)
        .await
        .map_err(store_error)?;
    Ok((event, entry))
}

pub async fn record_events_after(
    c: &mut PgConnection,
    tenant: TenantId,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<RecordEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM record_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    sqlx::query(&sql)
        .bind(tenant.as_uuid())
        .bind(after_seq)
        .bind(i64::from(limit))
        .try_map(|row| event_row(&row))
        .fetch_all(c)
        .await
        .map_err(store_error)
}
