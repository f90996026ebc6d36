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
//! audit entry, and commits them together.

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::collection::{
    CollectionSchema, FieldType, Visibility, WriteMode, append_datetime, validate_record,
};
use bulkhead_domain::filter::{parse, parse_sort, typecheck};
use bulkhead_domain::{Permission, RecordId};
use bulkhead_store::{
    Access, Cursor, EventKind, IdempotencyClaim, NewRecord, NewRecordEvent, Record, RecordChange,
    RecordQuery, StoreError, TenantTx, UniqueValue, Write,
};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::context::{RequestContext, TenantAccess};
use crate::error::FieldError;
use crate::{ServiceError, Services};

/// An `Idempotency-Key` and the hash of the request body it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: [u8; 32],
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What to list: `?filter=&sort=&cursor=&limit=`.
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    pub filter: Option<&'a str>,
    pub sort: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: u32,
}

/// A write of a record's document: a replacement (PUT) or a merge (PATCH),
/// conditional on `If-Match` when `expected_version` is given.
#[derive(Debug, Clone, Copy)]
pub struct RecordWrite<'a> {
    pub data: &'a Value,
    pub patch: bool,
    pub expected_version: Option<i64>,
}

/// A page of records and where the next one starts.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub items: Vec<Record>,
    pub next_cursor: Option<String>,
}

/// What a record looks like to clients (and in events and stored
/// idempotent answers): `{id, owner_id, version, created_at, updated_at, data}`.
pub fn record_json(record: &Record) -> Value {
    serde_json::from_slice(&record_bytes(record)).unwrap_or(Value::Null)
}

/// [`record_json`] as the bytes sent to the client, written straight from
/// the record: the stored document is copied in as it is, not parsed and
/// printed again.
pub fn record_bytes(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(record_size_hint(record));
    append_record(&mut out, record);
    out
}

/// A document plus the ~200 bytes of fields around it.
fn record_size_hint(record: &Record) -> usize {
    record.data.as_str().len() + 200
}

/// Appends the record's JSON, keys in the order serde_json prints an
/// object's, so the bytes are what printing [`record_json`] would give for
/// a compactly stored document. Nothing needs escaping: every string is a
/// UUID or a datetime, and the document is JSON already (checked when it
/// was read). Going through serde's per-string escaping instead was a fifth
/// of serving a page.
fn append_record(out: &mut Vec<u8>, record: &Record) {
    out.extend_from_slice(b"{\"created_at\":\"");
    append_datetime(out, record.created_at);
    out.extend_from_slice(b"\",\"data\":");
    out.extend_from_slice(record.data.as_str().as_bytes());
    out.extend_from_slice(b",\"id\":");
    append_uuid(out, record.id.as_uuid());
    out.extend_from_slice(b",\"owner_id\":");
    match &record.owner_id {
        Some(owner) => append_uuid(out, owner.as_uuid()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"updated_at\":\"");
    append_datetime(out, record.updated_at);
    out.extend_from_slice(b"\",\"version\":");
    out.extend_from_slice(record.version.to_string().as_bytes());
    out.push(b'}');
}

fn append_uuid(out: &mut Vec<u8>, id: &uuid::Uuid) {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    out.push(b'"');
}

impl RecordPage {
    /// The page as the API's `RecordList` JSON, `{"items": [...],
    /// "next_cursor": ...}`, each item as [`record_bytes`] writes it.
    pub fn to_json(&self) -> Vec<u8> {
        let size = self.items.iter().map(record_size_hint).sum::<usize>();
        let mut out = Vec::with_capacity(size + 100);
        out.extend_from_slice(b"{\"items\":[");
        for (i, record) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            append_record(&mut out, record);
        }
        out.extend_from_slice(b"],\"next_cursor\":");
        match &self.next_cursor {
            // A cursor is URL-safe base64, but it is escaped like any
            // string all the same.
            Some(cursor) => {
                out.extend_from_slice(Value::from(cursor.as_str()).to_string().as_bytes())
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }
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

impl Services {
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
        if let Some(schema) = self.cache.schema(&key) {
            return Ok(schema);
        }
        let epoch = self.cache.epoch();
        let schema = self.schema_in(tx, tenant, collection).await?;
        self.cache.put_schema(epoch, key, Arc::clone(&schema));
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
                    .is_some_and(|owner| access.principal.user() == Some(owner)))
    }

    fn may_write(access: &TenantAccess, record: &Record) -> bool {
        access.may(Permission::RecordsWriteAny)
            || (access.may(Permission::RecordsWriteOwn)
                && record
                    .owner_id
                    .is_some_and(|owner| access.principal.user() == Some(owner)))
    }

    /// Creates a record owned by the caller. With an idempotency key, a
    /// replay of the same request returns the first answer.
    pub async fn create_record(
        &self,
        access: &TenantAccess,
        collection: &str,
        data: &Value,
        idempotency: Option<Idempotency>,
        ctx: &RequestContext,
    ) -> Result<Value, ServiceError> {
        self.authorize(access, Permission::RecordsWriteOwn, "record.create", ctx)
            .await?;
        let now = self.now();
        let mut tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        if let Some(idempotency) = &idempotency {
            match tx
                .claim_idempotency_key(&idempotency.key, &idempotency.request_hash, now)
                .await?
            {
                IdempotencyClaim::New => {}
                IdempotencyClaim::Replay { body, .. } => return Ok(body),
                IdempotencyClaim::Mismatch => return Err(ServiceError::IdempotencyKeyReused),
            }
        }
        let schema = self
            .schema_in(&mut *tx, access.tenant_id(), collection)
            .await?;
        let normalised = validate_record(&schema, data, WriteMode::Create).map_err(field_errors)?;
        let uniques = self
            .check_references(&mut *tx, &schema, &normalised, None)
            .await?;
        let owner = access.principal.user();
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
        let body = record_json(&record);
        self.record_written(
            &mut *tx,
            access,
            &record,
            EventKind::Create,
            body.clone(),
            ctx,
        )
        .await?;
        if let Some(idempotency) = &idempotency {
            tx.complete_idempotency_key(&idempotency.key, 201, &body)
                .await?;
        }
        tx.commit().await?;
        Ok(body)
    }

    /// The record `id` as the caller may change it, with its collection's
    /// schema, read in `tx`. A record the caller may not see is absent
    /// (404); one it sees but may not change is refused (403) and the denial
    /// audited, after `tx` is given up (the audit needs the writer).
    async fn record_to_write(
        &self,
        mut tx: Box<dyn TenantTx>,
        access: &TenantAccess,
        collection: &str,
        id: RecordId,
        action: &str,
        ctx: &RequestContext,
    ) -> Result<(Box<dyn TenantTx>, Arc<CollectionSchema>, Record), ServiceError> {
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
        drop(tx);
        let draft = self.draft(
            ctx,
            access.actor(),
            action,
            ("record", Some(id.to_string())),
            Outcome::Denied,
            serde_json::json!({ "reason": "not_owner" }),
        );
        self.record_denial(Some(access.tenant_id()), draft).await;
        Err(ServiceError::Forbidden)
    }

    /// Appends the event and the audit entry of a write.
    async fn record_written(
        &self,
        tx: &mut dyn TenantTx,
        access: &TenantAccess,
        record: &Record,
        kind: EventKind,
        payload: Value,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let draft = self.draft(
            ctx,
            access.actor(),
            &format!("record.{}", kind.as_str()),
            ("record", Some(record.id.to_string())),
            Outcome::Success,
            serde_json::json!({ "collection": record.collection, "version": record.version }),
        );
        let event = NewRecordEvent {
            collection: record.collection.clone(),
            record_id: record.id,
            kind,
            owner_id: record.owner_id,
            payload,
            at: self.now(),
        };
        tx.append_record_change(event, draft).await?;
        // Wakes the realtime pumps of every process once this commits.
        tx.invalidate(bulkhead_store::Invalidation::RecordEvents(
            access.tenant_id(),
        ));
        Ok(())
    }

    pub async fn get_record(
        &self,
        access: &TenantAccess,
        collection: &str,
        id: RecordId,
        ctx: &RequestContext,
    ) -> Result<Record, ServiceError> {
        self.authorize(access, Permission::RecordsRead, "record.read", ctx)
            .await?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Read).await?;
        let schema = self
            .schema_for_read(&mut *tx, access.tenant_id(), collection)
            .await?;
        match tx.record(collection, id).await? {
            Some(record) if Self::may_read(access, &schema, &record) => Ok(record),
            _ => Err(ServiceError::NotFound("record_not_found")),
        }
    }

    /// A page of records matching `filter`, in `sort` order.
    pub async fn list_records(
        &self,
        access: &TenantAccess,
        collection: &str,
        request: &ListRequest<'_>,
        ctx: &RequestContext,
    ) -> Result<RecordPage, ServiceError> {
        let ListRequest {
            filter,
            sort,
            cursor,
            limit,
        } = *request;
        self.authorize(access, Permission::RecordsRead, "record.list", ctx)
            .await?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Read).await?;
        let schema = self
            .schema_for_read(&mut *tx, access.tenant_id(), collection)
            .await?;
        let invalid = |parameter: &'static str| {
            move |error: bulkhead_domain::filter::FilterError| ServiceError::InvalidQuery {
                parameter,
                position: error.position,
                message: error.message,
            }
        };
        for (parameter, text) in [("filter", filter), ("sort", sort)] {
            if let Some(position) = text.and_then(|text| text.find('\0')) {
                return Err(ServiceError::InvalidQuery {
                    parameter,
                    position,
                    message: "a NUL character is not allowed".into(),
                });
            }
        }
        let filter = match filter.filter(|f| !f.trim().is_empty()) {
            Some(text) => Some(
                typecheck(&parse(text).map_err(invalid("filter"))?, &schema)
                    .map_err(invalid("filter"))?,
            ),
            None => None,
        };
        let sort = match sort.filter(|s| !s.trim().is_empty()) {
            Some(text) => parse_sort(text, &schema).map_err(invalid("sort"))?,
            None => Vec::new(),
        };
        let owner = match (schema.visibility(), access.may(Permission::RecordsWriteAny)) {
            (Visibility::Owner, false) => match access.principal.user() {
                Some(user) => Some(user),
                // An API key below manager owns no records of its own.
                None => {
                    return Ok(RecordPage {
                        items: Vec::new(),
                        next_cursor: None,
                    });
                }
            },
            _ => None,
        };
        let mut query = RecordQuery {
            filter,
            sort,
            after: None,
            owner,
            limit,
        };
        let order = query.order();
        if let Some(text) = cursor.filter(|c| !c.is_empty()) {
            query.after = Some(
                Cursor::decode(text, &order).ok_or(ServiceError::InvalidQuery {
                    parameter: "cursor",
                    position: 0,
                    message: "not a cursor this server handed out for this sort".into(),
                })?,
            );
        }
        let items = tx.list_records(collection, &query).await?;
        let next_cursor = (items.len() == limit as usize)
            .then(|| {
                items
                    .last()
                    .map(|last| Cursor::after_record(last, &order).encode())
            })
            .flatten();
        Ok(RecordPage { items, next_cursor })
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
        self.authorize(access, Permission::RecordsWriteOwn, "record.update", ctx)
            .await?;
        let tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let (mut tx, schema, current) = self
            .record_to_write(tx, access, collection, id, "record.update", ctx)
            .await?;
        let merged = if patch {
            let changes = validate_record(&schema, data, WriteMode::Patch).map_err(field_errors)?;
            let stored = current.data.to_value().map_err(|e| {
                StoreError::Internal(format!("record {id}: stored document unreadable: {e}"))
            })?;
            let mut merged = match stored {
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
            at: self.now(),
        };
        let record = written_record(tx.update_record(change).await?)?;
        self.record_written(
            &mut *tx,
            access,
            &record,
            EventKind::Update,
            record_json(&record),
            ctx,
        )
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
        self.authorize(access, Permission::RecordsWriteOwn, "record.delete", ctx)
            .await?;
        let tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let (mut tx, _, _) = self
            .record_to_write(tx, access, collection, id, "record.delete", ctx)
            .await?;
        let record = written_record(tx.delete_record(collection, id, expected_version).await?)?;
        let payload = serde_json::json!({ "id": record.id });
        self.record_written(&mut *tx, access, &record, EventKind::Delete, payload, ctx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_domain::collection::format_datetime;
    use bulkhead_domain::{TenantId, UserId};
    use bulkhead_store::Document;
    use serde_json::json;
    use time::macros::datetime;

    fn record(owner: Option<UserId>, data: &str, version: i64) -> Record {
        Record {
            tenant_id: TenantId::new(),
            id: RecordId::new(),
            collection: "notes".into(),
            owner_id: owner,
            version,
            created_at: datetime!(2024-05-01 12:00:00.25 UTC),
            updated_at: datetime!(2026-12-31 23:59:59.999999 UTC),
            data: Document::from_text(data.to_owned()).unwrap(),
        }
    }

    /// Stored as the store writes documents (compact, keys sorted), with
    /// an owner and without, at the edges of the datetime range.
    fn compact_records() -> Vec<Record> {
        let mut early = record(None, "{}", 1);
        early.created_at = datetime!(0000-01-01 00:00:00 UTC);
        early.updated_at = datetime!(9999-12-31 23:59:59.999999 +01:00);
        vec![
            record(Some(UserId::new()), r#"{"n":1,"title":"a"}"#, 3),
            record(None, r#"{"a":[1,null,true],"b":{"c":"d"}}"#, i64::MAX),
            early,
        ]
    }

    /// What a client must see for `record`, built without our writer.
    fn expected(record: &Record) -> Value {
        json!({
            "created_at": format_datetime(record.created_at),
            "data": serde_json::from_str::<Value>(record.data.as_str()).unwrap(),
            "id": record.id.to_string(),
            "owner_id": record.owner_id.map(|owner| owner.to_string()),
            "updated_at": format_datetime(record.updated_at),
            "version": record.version,
        })
    }

    #[test]
    fn a_record_is_the_json_serde_json_prints_for_it() {
        for record in compact_records() {
            let bytes = record_bytes(&record);
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                expected(&record).to_string()
            );
            assert_eq!(record_json(&record), expected(&record));
        }
    }

    #[test]
    fn a_document_is_passed_through_as_stored() {
        // Spacing, key order, escapes and number spelling as stored (as
        // PostgreSQL prints jsonb, say) reach the client unchanged.
        let text = r#"{"z": "quote \" tab \t é 😀", "a": [1.50, -0.0, 1e300]}"#;
        let record = record(None, text, 2);
        let bytes = String::from_utf8(record_bytes(&record)).unwrap();
        assert!(bytes.contains(&format!(r#""data":{text},"#)), "{bytes}");
        assert_eq!(record_json(&record), expected(&record));
    }

    #[test]
    fn a_page_is_the_record_list_json() {
        let all = compact_records();
        for (count, cursor) in [(0, None), (1, Some("eyJ4IjoxfQ-_")), (3, None)] {
            let page = RecordPage {
                items: all[..count].to_vec(),
                next_cursor: cursor.map(str::to_owned),
            };
            let items: Vec<Value> = page.items.iter().map(expected).collect();
            assert_eq!(
                String::from_utf8(page.to_json()).unwrap(),
                json!({"items": items, "next_cursor": cursor}).to_string()
            );
        }
    }
}
