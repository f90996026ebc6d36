//! Records of a collection: create, read, list, replace, patch, delete.
//!
//! Who may do what: members read (`records.read`); members create and change
//! their own records (`records.write.own`); managers change anyone's
//! (`records.write.any`). In an `owner`-visibility collection, a record is
//! visible only to its owner and to managers and up; to anyone else it does
//! not exist (404, like a record of another tenant).
//!
//! Every write is conditional on `If-Match` when given, names every bad
//! field, keeps `unique` fields unique within the tenant, checks that
//! relations point at records of this tenant, appends a record event and an
//! audit entry, and commits them together. Reads (one record, or a page by
//! filter and sort) are in `read`.

use bulkhead_domain::collection::{
    CollectionSchema, FieldType, Visibility, WriteMode, format_datetime, validate_record,
};
use bulkhead_domain::{Permission, RecordId};
use bulkhead_store::{
    Access, EventKind, IdempotencyClaim, NewRecord, NewRecordEvent, Record, RecordChange,
    StoreError, TenantTx, UniqueValue, Write,
};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::ServiceError;
use crate::context::{Actor, RequestContext, TenantAccess};
use crate::data::Data;
use crate::error::FieldError;
use crate::shared::TenantWork;

mod read;
pub use read::ListRequest;

/// An `Idempotency-Key` and the hash of the request it came with.
#[derive(Debug, Clone)]
struct Idempotency {
    key: String,
    request_hash: [u8; 32],
}

impl Idempotency {
    /// The same key with another body (or collection), or from another
    /// caller, is a different request: the hash covers all three, so a
    /// member never gets another member's answer (in an `owner`
    /// collection, a record they may not see) by reusing their key.
    fn of(key: &str, caller: Actor, collection: &str, data: &Value) -> Self {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        hasher.update(caller.kind.name().as_bytes());
        hasher.update(caller.id.map(|id| *id.as_bytes()).unwrap_or_default());
        hasher.update(collection.as_bytes());
        hasher.update([0]);
        hasher.update(data.to_string().as_bytes());
        Self {
            key: key.to_owned(),
            request_hash: hasher.finalize().into(),
        }
    }
}

/// What creating a record answers.
#[derive(Debug, Clone)]
pub enum RecordCreated {
    /// The record made.
    New(Record),
    /// A replay of an idempotent request: the first answer, as stored.
    Replayed(Value),
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// How long an idempotency key is kept, and so how long a retry is answered
/// with the first answer: at least a day (RELIABILITY.md E4, as Stripe
/// keeps them). [`Services::sweep_idempotency_keys`](crate::Services::sweep_idempotency_keys)
/// deletes older ones.
pub const IDEMPOTENCY_KEY_RETENTION: time::Duration = time::Duration::hours(24);

/// A write of a record's document: a replacement (PUT) or a merge (PATCH),
/// conditional on `If-Match` when `expected_version` is given.
#[derive(Debug, Clone, Copy)]
pub struct RecordWrite<'a> {
    pub data: &'a Value,
    pub patch: bool,
    pub expected_version: Option<i64>,
}

/// What a record's events and its idempotent answer keep: the record as
/// clients are sent it (the edge writes the same shape straight from the
/// stored text, and its tests compare the two).
pub fn snapshot(record: &Record) -> Result<Value, ServiceError> {
    Ok(serde_json::json!({
        "created_at": format_datetime(record.created_at),
        "data": stored_data(record)?,
        "id": record.id.to_string(),
        "owner_id": record.owner_id.map(|owner| owner.to_string()),
        "updated_at": format_datetime(record.updated_at),
        "version": record.version,
    }))
}

/// The record's stored document as a JSON tree.
fn stored_data(record: &Record) -> Result<Value, ServiceError> {
    record.data.to_value().map_err(|e| {
        ServiceError::Store(StoreError::Internal(format!(
            "record {}: stored document unreadable: {e}",
            record.id
        )))
    })
}

/// The record a conditional write left, or why there is none.
fn written_record(write: Write<Record>) -> Result<Record, ServiceError> {
    match write {
        Write::Done(record) => Ok(record),
        Write::NotFound => Err(ServiceError::NotFound("record_not_found")),
        Write::VersionMismatch { current } => Err(ServiceError::VersionMismatch { current }),
    }
}

fn field_errors(issues: Vec<bulkhead_domain::collection::FieldIssue>) -> ServiceError {
    ServiceError::Validation(
        issues
            .into_iter()
            .map(|issue| FieldError {
                field: issue.field,
                code: issue.code,
                message: issue.message,
            })
            .collect(),
    )
}

/// The text a unique field's value is compared by.
fn unique_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn unique_values(schema: &CollectionSchema, data: &Map<String, Value>) -> Vec<UniqueValue> {
    schema
        .fields()
        .iter()
        .filter(|field| field.unique)
        .filter_map(|field| {
            let value = unique_text(data.get(field.name.as_str())?)?;
            Some(UniqueValue {
                field: field.name.to_string(),
                value,
            })
        })
        .collect()
}

impl Data {
    /// The collection's schema exactly as `tx` reads it (parsed once per
    /// distinct text, see [`crate::schema_memo`]).
    async fn schema_in(
        &self,
        tx: &mut dyn TenantTx,
        tenant: bulkhead_domain::TenantId,
        collection: &str,
    ) -> Result<Arc<CollectionSchema>, ServiceError> {
        // A name no collection can have names no collection (and never
        // reaches the database, which would refuse, say, a NUL character).
        if bulkhead_domain::collection::CollectionName::parse(collection).is_err() {
            return Err(ServiceError::NotFound("collection_not_found"));
        }
        let text = tx
            .collection_schema(collection)
            .await?
            .ok_or(ServiceError::NotFound("collection_not_found"))?;
        self.schemas
            .parse(tenant, collection, &text)
            .map_err(|e| ServiceError::Store(bulkhead_store::StoreError::internal(e)))
    }

    /// The schema a record read works with: from the cache, which every
    /// collection change evicts on commit, or else read in `tx` and cached.
    async fn schema_for_read(
        &self,
        tx: &mut dyn TenantTx,
        tenant: bulkhead_domain::TenantId,
        collection: &str,
    ) -> Result<Arc<CollectionSchema>, ServiceError> {
        let key = (tenant, collection.to_owned());
        if let Some(schema) = self.core.cache.schema(&key) {
            return Ok(schema);
        }
        let epoch = self.core.cache.epoch();
        let schema = self.schema_in(tx, tenant, collection).await?;
        self.core.cache.put_schema(epoch, key, Arc::clone(&schema));
        Ok(schema)
    }

    /// Relations must name a record of their collection in this tenant;
    /// unique values must be free (or held by `this`). Every problem is
    /// reported at once.
    async fn check_references(
        &self,
        tx: &mut dyn TenantTx,
        schema: &CollectionSchema,
        data: &Map<String, Value>,
        this: Option<RecordId>,
    ) -> Result<Vec<UniqueValue>, ServiceError> {
        let mut problems = Vec::new();
        for field in schema.fields() {
            let Some(value) = data.get(field.name.as_str()) else {
                continue;
            };
            if let FieldType::Relation { collection } = &field.field_type
                && let Some(id) = value.as_str().and_then(|s| s.parse::<RecordId>().ok())
                && tx.record(collection.as_str(), id).await?.is_none()
            {
                // The lookup is inside this tenant: another tenant's record
                // is exactly as absent as a record that never existed.
                problems.push(FieldError {
                    field: field.name.to_string(),
                    code: "not_found",
                    message: format!("no record {id} in {collection}"),
                });
            }
        }
        let uniques = unique_values(schema, data);
        for unique in &uniques {
            let holder = tx
                .unique_value_holder(schema.name().as_str(), &unique.field, &unique.value)
                .await?;
            if holder.is_some_and(|holder| Some(holder) != this) {
                problems.push(FieldError {
                    field: unique.field.clone(),
                    code: "not_unique",
                    message: format!("another record already has this {}", unique.field),
                });
            }
        }
        if problems.is_empty() {
            Ok(uniques)
        } else {
            Err(ServiceError::Validation(problems))
        }
    }

    fn may_read(access: &TenantAccess, schema: &CollectionSchema, record: &Record) -> bool {
        access.may(Permission::RecordsRead)
            && (schema.visibility() == Visibility::Tenant
                || access.may(Permission::RecordsWriteAny)
                || record
                    .owner_id
                    .is_some_and(|owner| access.principal().user() == Some(owner)))
    }

    fn may_write(access: &TenantAccess, record: &Record) -> bool {
        access.may(Permission::RecordsWriteAny)
            || (access.may(Permission::RecordsWriteOwn)
                && record
                    .owner_id
                    .is_some_and(|owner| access.principal().user() == Some(owner)))
    }

    /// Creates a record owned by the caller. With an idempotency key, a
    /// replay of the same request returns the first answer.
    pub async fn create_record(
        &self,
        access: &TenantAccess,
        collection: &str,
        data: &Value,
        idempotency_key: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<RecordCreated, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::RecordsWriteOwn, "record.create")
            .await?;
        let now = self.core.now();
        let idempotency =
            idempotency_key.map(|key| Idempotency::of(key, access.actor(), collection, data));
        let mut tx = permit.open(Access::Write).await?;
        if let Some(idempotency) = &idempotency {
            match tx
                .claim_idempotency_key(&idempotency.key, &idempotency.request_hash, now)
                .await?
            {
                IdempotencyClaim::New => {}
                IdempotencyClaim::Replay { body, .. } => {
                    return Ok(RecordCreated::Replayed(body));
                }
                IdempotencyClaim::Mismatch => return Err(ServiceError::IdempotencyKeyReused),
                IdempotencyClaim::InFlight => return Err(ServiceError::IdempotencyKeyInFlight),
            }
        }
        let schema = self
            .schema_in(&mut *tx, access.tenant_id(), collection)
            .await?;
        let normalised = validate_record(&schema, data, WriteMode::Create).map_err(field_errors)?;
        let uniques = self
            .check_references(&mut *tx, &schema, &normalised, None)
            .await?;
        let owner = access.principal().user();
        let record = tx
            .insert_record(NewRecord {
                id: RecordId::new(),
                collection: collection.to_owned(),
                owner_id: owner,
                data: Value::Object(normalised),
                unique_values: uniques,
                at: now,
            })
            .await?;
        let body = snapshot(&record)?;
        if let Some(idempotency) = &idempotency {
            tx.complete_idempotency_key(&idempotency.key, 201, &body)
                .await?;
        }
        // Last before the commit: the audit append holds the tenant's chain
        // from here to the commit.
        self.record_written(&mut tx, &record, EventKind::Create, body)
            .await?;
        tx.commit().await?;
        // Metered once committed: a refused or failed create is no record.
        self.core.meter.records_created(access.tenant_id(), 1, now);
        Ok(RecordCreated::New(record))
    }

    /// Opens the write `action` of the record `id` and reads it as the
    /// caller may change it, with its collection's schema. A record the
    /// caller may not see is absent (404); one it sees but may not change is
    /// refused (403) and the denial audited, after the transaction is given
    /// up (the audit needs the writer).
    async fn record_to_write<'a>(
        &'a self,
        access: &'a TenantAccess,
        collection: &str,
        id: RecordId,
        action: &str,
        ctx: &'a RequestContext,
    ) -> Result<(TenantWork<'a>, Arc<CollectionSchema>, Record), ServiceError> {
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::RecordsWriteOwn,
                action,
                Access::Write,
            )
            .await?;
        let schema = self
            .schema_in(&mut *tx, access.tenant_id(), collection)
            .await?;
        let current = match tx.record(collection, id).await? {
            Some(record) if Self::may_read(access, &schema, &record) => record,
            _ => return Err(ServiceError::NotFound("record_not_found")),
        };
        if Self::may_write(access, &current) {
            return Ok((tx, schema, current));
        }
        Err(tx
            .deny(
                action,
                ("record", Some(id.to_string())),
                serde_json::json!({ "reason": "not_owner" }),
            )
            .await)
    }

    /// Appends the event and the audit entry of a write.
    async fn record_written(
        &self,
        tx: &mut TenantWork<'_>,
        record: &Record,
        kind: EventKind,
        payload: Value,
    ) -> Result<(), ServiceError> {
        let draft = tx.permit.audit(
            &format!("record.{}", kind.as_str()),
            ("record", Some(record.id.to_string())),
            serde_json::json!({ "collection": record.collection, "version": record.version }),
        );
        let event = NewRecordEvent {
            collection: record.collection.clone(),
            record_id: record.id,
            kind,
            owner_id: record.owner_id,
            payload,
            at: self.core.now(),
        };
        tx.append_record_change(event, draft).await?;
        // Wakes the realtime pumps of every process once this commits.
        let tenant = tx.permit.access.tenant_id();
        tx.invalidate(bulkhead_store::Invalidation::RecordEvents(tenant));
        Ok(())
    }

    /// Replaces (`patch == false`) or merges into (`patch == true`) a
    /// record's document.
    pub async fn write_record(
        &self,
        access: &TenantAccess,
        collection: &str,
        id: RecordId,
        write: &RecordWrite<'_>,
        ctx: &RequestContext,
    ) -> Result<Record, ServiceError> {
        let RecordWrite {
            data,
            patch,
            expected_version,
        } = *write;
        let (mut tx, schema, current) = self
            .record_to_write(access, collection, id, "record.update", ctx)
            .await?;
        let merged = if patch {
            let changes = validate_record(&schema, data, WriteMode::Patch).map_err(field_errors)?;
            let mut merged = match stored_data(&current)? {
                Value::Object(fields) => fields,
                _ => Map::new(),
            };
            for (name, value) in changes {
                if value.is_null() {
                    merged.remove(&name);
                } else {
                    merged.insert(name, value);
                }
            }
            // The merged document must still be a whole valid record.
            validate_record(&schema, &Value::Object(merged), WriteMode::Replace)
                .map_err(field_errors)?
        } else {
            validate_record(&schema, data, WriteMode::Replace).map_err(field_errors)?
        };
        let uniques = self
            .check_references(&mut *tx, &schema, &merged, Some(id))
            .await?;
        let change = RecordChange {
            collection: collection.to_owned(),
            id,
            expected_version,
            data: Value::Object(merged),
            unique_values: uniques,
            at: self.core.now(),
        };
        let record = written_record(tx.update_record(change).await?)?;
        self.record_written(&mut tx, &record, EventKind::Update, snapshot(&record)?)
            .await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn delete_record(
        &self,
        access: &TenantAccess,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let (mut tx, _, _) = self
            .record_to_write(access, collection, id, "record.delete", ctx)
            .await?;
        let record = written_record(tx.delete_record(collection, id, expected_version).await?)?;
        let payload = serde_json::json!({ "id": record.id });
        self.record_written(&mut tx, &record, EventKind::Delete, payload)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
