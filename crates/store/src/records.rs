//! The data plane's rows: collections, records, idempotency keys and record
//! events, and the query a backend compiles for listing records.
//!
//! The store keeps a collection's schema as JSON and does not interpret it
//! (its visibility comes typed beside it); the service parses it
//! ([`bulkhead_domain::collection::CollectionSchema`]) and validates records
//! before they reach the store. What the store does
//! understand is a typed filter and sort
//! ([`bulkhead_domain::filter::TypedExpr`], [`SortKey`]), which each backend
//! compiles to parameterised SQL.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulkhead_domain::collection::{FieldType, Visibility};
use bulkhead_domain::filter::{FieldRef, SortKey, SystemField, TypedExpr};
use bulkhead_domain::{RecordId, TenantId, UserId};
use serde_json::Value;

use crate::Document;
use time::OffsetDateTime;

/// A tenant-defined record type.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub tenant_id: TenantId,
    pub name: String,
    /// The `CollectionSchema` as JSON.
    pub schema: Value,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewCollection {
    pub name: String,
    pub schema: Value,
    /// The schema's visibility, given apart so that no backend reads it out
    /// of the schema's JSON.
    pub visibility: Visibility,
    pub at: OffsetDateTime,
}

/// A replacement of a collection's schema.
#[derive(Debug, Clone)]
pub struct CollectionChange {
    pub name: String,
    pub schema: Value,
    /// The new schema's visibility (see [`NewCollection::visibility`]).
    pub visibility: Visibility,
    /// Write only if the collection is still at this version.
    pub expected_version: i64,
    pub at: OffsetDateTime,
}

/// One record of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub tenant_id: TenantId,
    pub id: RecordId,
    pub collection: String,
    pub owner_id: Option<UserId>,
    /// 1 at creation, one more at every write.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The validated, normalised document.
    pub data: Document,
}

/// A value of a `unique` field, as the text the uniqueness rule compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueValue {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct NewRecord {
    pub id: RecordId,
    pub collection: String,
    pub owner_id: Option<UserId>,
    pub data: Value,
    /// The record's values of its collection's unique fields.
    pub unique_values: Vec<UniqueValue>,
    pub at: OffsetDateTime,
}

/// A replacement of a record's document (PUT, or PATCH after merging).
#[derive(Debug, Clone)]
pub struct RecordChange {
    pub collection: String,
    pub id: RecordId,
    /// Write only if the record is still at this version (`If-Match`).
    pub expected_version: Option<i64>,
    pub data: Value,
    pub unique_values: Vec<UniqueValue>,
    pub at: OffsetDateTime,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq)]
pub enum Write<T> {
    Done(T),
    NotFound,
    /// The record exists at another version than the expected one.
    VersionMismatch {
        current: i64,
    },
}

impl<T> Write<T> {
    /// Why a conditional write may not go ahead, given the version the row
    /// has now (`None`: there is no such row) and the one the caller
    /// expects (`None`: any); `None` when it may.
    pub fn refusal(current: Option<i64>, expected: Option<i64>) -> Option<Self> {
        match (current, expected) {
            (None, _) => Some(Write::NotFound),
            (Some(current), Some(expected)) if current != expected => {
                Some(Write::VersionMismatch { current })
            }
            _ => None,
        }
    }

    /// What a conditional write that changed no row met: the row at another
    /// version (`current`), or no row at all.
    pub fn missed(current: Option<i64>) -> Self {
        match current {
            Some(current) => Write::VersionMismatch { current },
            None => Write::NotFound,
        }
    }
}

/// What a claim on an `Idempotency-Key` found.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// The key is new and now taken by this transaction; record the answer
    /// with `complete_idempotency_key` before committing.
    New,
    /// The key was used for the same request: this was its answer.
    Replay { status: u16, body: Value },
    /// The key was used for a different request.
    Mismatch,
    /// The key is taken by a transaction that has not ended: its request is
    /// still in flight, and its answer is not known yet. Only PostgreSQL
    /// answers this (see `IdempotencyKeys::claim_idempotency_key`).
    InFlight,
}

impl IdempotencyClaim {
    /// What a key already taken means for a request: a replay of its
    /// stored answer if it was taken by the same request (`same_request`)
    /// and that answer was recorded; otherwise a mismatch, since a claim
    /// never completed and one for another request are both a different
    /// use of the key than this one. `status` is as stored (a database
    /// integer).
    pub fn of_taken(same_request: bool, status: Option<i64>, body: Option<Value>) -> Self {
        match (same_request, status, body) {
            (true, Some(status), Some(body)) => IdempotencyClaim::Replay {
                status: u16::try_from(status).unwrap_or(500),
                body,
            },
            _ => IdempotencyClaim::Mismatch,
        }
    }
}

/// What happened to a record, for realtime subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Create,
    Update,
    Delete,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Create => "create",
            EventKind::Update => "update",
            EventKind::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Create, Self::Update, Self::Delete]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone)]
pub struct NewRecordEvent {
    pub collection: String,
    pub record_id: RecordId,
    pub kind: EventKind,
    /// Whom an owner-visibility record belongs to (who may see the event).
    pub owner_id: Option<UserId>,
    /// What subscribers receive.
    pub payload: Value,
    pub at: OffsetDateTime,
}

impl NewRecordEvent {
    /// The event as stored: the tenant's, numbered `seq` by its audit entry.
    pub fn numbered(self, tenant_id: TenantId, seq: i64) -> RecordEvent {
        RecordEvent {
            tenant_id,
            seq,
            collection: self.collection,
            record_id: self.record_id,
            kind: self.kind,
            owner_id: self.owner_id,
            payload: self.payload,
            at: self.at,
        }
    }
}

/// A change to one record, numbered by its audit entry: numbers increase
/// per tenant, with gaps where the audit log has other entries.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordEvent {
    pub tenant_id: TenantId,
    pub seq: i64,
    pub collection: String,
    pub record_id: RecordId,
    pub kind: EventKind,
    pub owner_id: Option<UserId>,
    pub payload: Value,
    pub at: OffsetDateTime,
}

/// Which records of a collection to list, in which order, from where.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub filter: Option<TypedExpr>,
    /// The requested order; the store adds `id` as the last tie-breaker, so
    /// the order is total and keyset paging is exact. Empty means newest
    /// first (`-created_at`).
    pub sort: Vec<SortKey>,
    /// Only records after this position of the order.
    pub after: Option<Cursor>,
    /// Only this user's records (owner visibility for members).
    pub owner: Option<UserId>,
    pub limit: u32,
}

impl RecordQuery {
    /// The full order: the requested keys (or `-created_at`), then `id`.
    pub fn order(&self) -> Vec<SortKey> {
        let mut keys = if self.sort.is_empty() {
            vec![SortKey {
                field: FieldRef::System(SystemField::CreatedAt),
                descending: true,
            }]
        } else {
            self.sort.clone()
        };
        if !keys
            .iter()
            .any(|k| k.field == FieldRef::System(SystemField::Id))
        {
            let descending = keys.last().is_some_and(|k| k.descending);
            keys.push(SortKey {
                field: FieldRef::System(SystemField::Id),
                descending,
            });
        }
        keys
    }
}

/// A position in an order: the sort-key values of the last record seen, as
/// JSON (`null` for an absent data field). Opaque to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub values: Vec<Value>,
}

impl Cursor {
    /// The position of `record` in `order` (from [`RecordQuery::order`]).
    pub fn after_record(record: &Record, order: &[SortKey]) -> Self {
        let values = order
            .iter()
            .map(|key| match &key.field {
                FieldRef::System(SystemField::Id) => Value::String(record.id.to_string()),
                FieldRef::System(SystemField::OwnerId) => record
                    .owner_id
                    .map_or(Value::Null, |id| Value::String(id.to_string())),
                FieldRef::System(SystemField::CreatedAt) => micros(record.created_at),
                FieldRef::System(SystemField::UpdatedAt) => micros(record.updated_at),
                FieldRef::Data { name, .. } => {
                    record.data.field(name.as_str()).unwrap_or(Value::Null)
                }
            })
            .collect();
        Self { values }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(Value::Array(self.values.clone()).to_string())
    }

    /// Reads a cursor for `order`; `None` if it is not one we made for it.
    pub fn decode(text: &str, order: &[SortKey]) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let Value::Array(values) = serde_json::from_slice(&bytes).ok()? else {
            return None;
        };
        if values.len() != order.len() {
            return None;
        }
        for (value, key) in values.iter().zip(order) {
            let fits = match &key.field {
                FieldRef::System(SystemField::Id) => value
                    .as_str()
                    .is_some_and(|s| uuid::Uuid::try_parse(s).is_ok()),
                FieldRef::System(SystemField::OwnerId) => {
                    value.is_null()
                        || value
                            .as_str()
                            .is_some_and(|s| uuid::Uuid::try_parse(s).is_ok())
                }
                FieldRef::System(_) => value.is_i64(),
                FieldRef::Data { field_type, .. } => {
                    value.is_null() || fits_type(value, field_type)
                }
            };
            if !fits {
                return None;
            }
        }
        Some(Self { values })
    }
}

/// Times in cursors are microseconds since the epoch.
fn micros(at: OffsetDateTime) -> Value {
    Value::from((at.unix_timestamp_nanos() / 1_000) as i64)
}

pub fn cursor_time(value: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value.as_i64()?) * 1_000).ok()
}

fn fits_type(value: &Value, field_type: &FieldType) -> bool {
    match field_type {
        FieldType::Number => value.is_number(),
        FieldType::Integer => value.is_i64(),
        FieldType::Bool => value.is_boolean(),
        FieldType::Decimal => value.is_string() || value.is_number(),
        FieldType::Json => false,
        FieldType::Text { .. }
        | FieldType::Datetime
        | FieldType::Select { .. }
        | FieldType::Relation { .. } => value.is_string(),
    }
}

/// The name of the index over these fields: one index per distinct list of
/// (field, type), shared by every tenant and collection that declares it, so
/// their number stays bounded by what is declared. Hex digits only.
pub fn record_index_name(fields: &[(String, FieldType)]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (name, field_type) in fields {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(field_type.kind().as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("ix_records_{hex}")
}

/// The index over these data fields of a collection's records: its name
/// ([`record_index_name`]) and one expression per field, written by the
/// backend's `expression`. `None` when there is nothing to index or a field
/// name is not one a schema allows, so no expression is ever built from it.
pub fn record_index(
    fields: &[(String, FieldType)],
    expression: impl Fn(&FieldRef) -> String,
) -> Option<(String, Vec<String>)> {
    if fields.is_empty() {
        return None;
    }
    let expressions = fields
        .iter()
        .map(|(name, field_type)| {
            let name = bulkhead_domain::collection::FieldName::parse(name).ok()?;
            Some(expression(&FieldRef::Data {
                name,
                field_type: field_type.clone(),
            }))
        })
        .collect::<Option<Vec<String>>>()?;
    Some((record_index_name(fields), expressions))
}

/// The column of the records table that holds a system field, in both
/// backends' schemas.
pub fn system_column(field: SystemField) -> &'static str {
    match field {
        SystemField::Id => "id",
        SystemField::OwnerId => "owner_id",
        SystemField::CreatedAt => "created_at",
        SystemField::UpdatedAt => "updated_at",
    }
}
