//! The data of the backends' query-plan tests (SQLite's
//! `the_common_list_queries_use_an_index` in `tests/conformance.rs`,
//! PostgreSQL's in `tests/postgres/explain.rs`): records of three tenants
//! in two collections with a declared index, so that neither the tenant nor
//! the collection alone is selective. Each backend plans its own SQL over
//! them.

use bulkhead_domain::collection::{CollectionSchema, FieldType};
use bulkhead_domain::{RecordId, UserId};
use bulkhead_store::{Access, NewRecord, RecordQuery, Store, Tenant, TenantTx};
use serde_json::{Value, json};

use crate::fixtures;

/// How many records the plans are made over, across the three tenants.
pub const RECORDS: usize = 20_000;
/// Owners of records per tenant.
pub const OWNERS: usize = 20;
/// The page size of the planned queries (a page of 20 and one more).
pub const LIMIT: i64 = 21;

/// The `tasks` collection: owner visibility, an index on `priority`.
pub fn tasks_schema_json() -> Value {
    json!({
        "name": "tasks",
        "visibility": "owner",
        "fields": [
            {"name": "title", "type": "text", "required": true},
            {"name": "priority", "type": "integer"},
            {"name": "status", "type": "select", "values": ["open", "closed"]}
        ],
        "indexes": [["priority"]]
    })
}

pub fn tasks_schema() -> CollectionSchema {
    serde_json::from_value(tasks_schema_json()).unwrap()
}

/// The declared index's fields.
pub fn index_fields() -> Vec<(String, FieldType)> {
    vec![("priority".to_owned(), FieldType::Integer)]
}

/// Three tenants, the first with half of [`RECORDS`], each with `tasks`
/// and `notes` (the same fields, a fifth of the records) and [`OWNERS`]
/// owners; returns each tenant with its owners.
pub async fn seed(store: &dyn Store) -> Vec<(Tenant, Vec<UserId>)> {
    let owner = fixtures::user(store, "owner@example.com").await;
    let index_fields = index_fields();
    let mut tenants = Vec::new();
    for (i, share) in [(0, RECORDS / 2), (1, RECORDS / 4), (2, RECORDS / 4)] {
        let tenant = fixtures::tenant(store, &format!("tenant-{i}"), &owner).await;
        let owners: Vec<UserId> = (0..OWNERS).map(|_| UserId::new()).collect();
        // The index in a transaction of its own, before any write (see
        // `Collections::ensure_record_index`).
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        tx.ensure_record_index(&index_fields).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        for collection in ["tasks", "notes"] {
            let mut schema = tasks_schema_json();
            schema["name"] = json!(collection);
            tx.insert_collection(fixtures::collection(collection, schema, fixtures::t0()))
                .await
                .unwrap();
        }
        for n in 0..share {
            let collection = if n % 5 == 4 { "notes" } else { "tasks" };
            tx.insert_record(NewRecord {
                id: RecordId::new(),
                collection: collection.into(),
                owner_id: Some(owners[n % OWNERS]),
                data: json!({
                    "title": format!("record {n}"),
                    "priority": (n * 7) % 10,
                    "status": if n % 2 == 0 { "open" } else { "closed" },
                }),
                unique_values: Vec::new(),
                at: fixtures::t0() + time::Duration::seconds(n as i64),
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        tenants.push((tenant, owners));
    }
    tenants
}

/// The ids of the `tasks` the store lists for `query`, to compare with
/// what the reproduced SQL answers.
pub async fn listed_ids(tx: &mut dyn TenantTx, query: &RecordQuery) -> Vec<uuid::Uuid> {
    let records = tx.list_records("tasks", query).await.unwrap();
    records.iter().map(|r| *r.id.as_uuid()).collect()
}
