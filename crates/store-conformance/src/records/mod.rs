//! Conformance cases for the data plane: collections, records, unique
//! values, idempotency keys, record events and record listing.
//!
//! Listing is checked against [`reference`](crate::reference), an
//! in-memory evaluation of the same filter and order over the same records.
//! Each submodule holds the cases of one area; the helpers they share are here.

mod collections;
mod documents;
mod events;
mod filters;
mod idempotency;
mod listing;
mod sorts;
mod unique;

pub use collections::*;
pub use documents::*;
pub use events::*;
pub use filters::*;
pub use idempotency::*;
pub use sorts::*;
pub use unique::*;

use bulkhead_domain::{
    CollectionName, CollectionSchema, FieldDef, FieldName, FieldType, RecordId, TenantId,
    Visibility,
};
use serde_json::Value;

use crate::fixtures::{self, at};
use bulkhead_store::{Access, ConflictKind, Record, Store, StoreError, Write};

fn field(name: &str, field_type: FieldType, required: bool, unique: bool) -> FieldDef {
    FieldDef {
        name: FieldName::parse(name).unwrap(),
        field_type,
        required,
        unique,
    }
}

fn text() -> FieldType {
    FieldType::Text { max_len: None }
}

/// A schema through the domain's constructor, in its stored JSON form.
fn schema_value(name: &str, fields: Vec<FieldDef>) -> Value {
    let schema = CollectionSchema::new(
        CollectionName::parse(name).unwrap(),
        fields,
        Visibility::Tenant,
        Vec::new(),
    )
    .unwrap();
    serde_json::to_value(&schema).unwrap()
}

fn orders_schema() -> Value {
    orders_schema_named("orders")
}

fn orders_schema_named(name: &str) -> Value {
    schema_value(
        name,
        vec![
            field("code", text(), true, true),
            field("total", FieldType::Decimal, true, false),
        ],
    )
}

fn people_schema(name: &str) -> Value {
    schema_value(
        name,
        vec![
            field("email", text(), true, true),
            field("handle", text(), false, true),
            field("bio", text(), false, false),
        ],
    )
}

/// A tenant `acme` with an empty `orders` collection.
async fn acme_with_orders(store: &dyn Store) -> TenantId {
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await.id;
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(0)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tenant
}

fn expect_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, kind: ConflictKind) {
    match result {
        Err(StoreError::Conflict(found)) if found == kind => {}
        other => panic!("expected Conflict({kind:?}), got {other:?}"),
    }
}

fn expect_done<T: std::fmt::Debug>(write: Write<T>) -> T {
    match write {
        Write::Done(value) => value,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn ids(records: &[Record]) -> Vec<RecordId> {
    records.iter().map(|record| record.id).collect()
}
