//! Conformance cases for the data plane: collections, records, unique
//! values, idempotency keys, record events and record listing.
//!
//! Listing is checked against [`reference`](super::reference), an
//! in-memory evaluation of the same filter and order over the same records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed case"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bulkhead_domain::filter::{SortKey, TypedExpr, parse, parse_sort, typecheck};
use bulkhead_domain::{
    CollectionName, CollectionSchema, FieldDef, FieldName, FieldType, RecordId, TenantId, UserId,
    Visibility, WriteMode, schema_change_issues, validate_record,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};
use tokio::sync::Barrier;

use super::TestStore;
use super::fixtures::{self, at, hash_of};
use super::reference::{self, Key};
use crate::{
    Access, ConflictKind, Cursor, Document, EventKind, IdempotencyClaim, Record, RecordChange,
    RecordQuery, Store, StoreError, Write,
};

// ---------------------------------------------------------------------------
// Collections

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

pub async fn collections_are_created_read_listed_updated_and_deleted(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let orders = tx
        .insert_collection(fixtures::collection("orders", orders_schema(), at(1)))
        .await
        .unwrap();
    assert_eq!(
        (orders.name.as_str(), orders.tenant_id, orders.version),
        ("orders", acme.id, 1)
    );
    assert_eq!((orders.created_at, orders.updated_at), (at(1), at(1)));
    assert_eq!(orders.schema, orders_schema());
    for name in ["zeta", "customers", "alpha_2"] {
        tx.insert_collection(fixtures::collection(name, people_schema(name), at(2)))
            .await
            .unwrap();
    }
    assert_eq!(tx.collection("orders").await.unwrap(), Some(orders.clone()));
    assert!(tx.collection("missing").await.unwrap().is_none());
    assert!(tx.collection("Orders").await.unwrap().is_none());
    let text = tx.collection_schema("orders").await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        orders_schema()
    );
    assert_eq!(tx.collection_schema("orders").await.unwrap(), Some(text));
    assert!(tx.collection_schema("missing").await.unwrap().is_none());
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    let names: Vec<String> = tx
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["alpha_2", "customers", "orders", "zeta"]);
    drop(tx);

    // Updates are conditional on the version, which each one bumps.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let mut changed_schema = orders_schema();
    changed_schema["fields"][1]["required"] = json!(false);
    let updated = expect_done(
        tx.update_collection(fixtures::collection_change(
            "orders",
            &changed_schema,
            1,
            at(3),
        ))
        .await
        .unwrap(),
    );
    assert_eq!(updated.version, 2);
    assert_eq!(updated.schema, changed_schema);
    assert_eq!((updated.created_at, updated.updated_at), (at(1), at(3)));
    assert_eq!(
        (updated.tenant_id, updated.name.as_str()),
        (acme.id, "orders")
    );
    assert_eq!(
        tx.update_collection(fixtures::collection_change(
            "orders",
            &orders_schema(),
            1,
            at(4)
        ))
        .await
        .unwrap(),
        Write::VersionMismatch { current: 2 }
    );
    assert_eq!(
        tx.update_collection(fixtures::collection_change(
            "missing",
            &orders_schema(),
            1,
            at(4)
        ))
        .await
        .unwrap(),
        Write::NotFound
    );
    // A mismatch is an answer, not an error: the transaction goes on.
    let again = expect_done(
        tx.update_collection(fixtures::collection_change(
            "orders",
            &orders_schema(),
            2,
            at(5),
        ))
        .await
        .unwrap(),
    );
    assert_eq!((again.version, again.updated_at), (3, at(5)));
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(tx.collection("orders").await.unwrap(), Some(again));

    assert!(tx.delete_collection("customers").await.unwrap());
    assert!(!tx.delete_collection("customers").await.unwrap());
    assert!(!tx.delete_collection("missing").await.unwrap());
    assert!(tx.collection("customers").await.unwrap().is_none());
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    let names: Vec<String> = tx
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["alpha_2", "orders", "zeta"]);
}

pub async fn collection_names_are_unique_within_a_tenant_only(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let acme_orders = tx
        .insert_collection(fixtures::collection("orders", orders_schema(), at(1)))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("other", orders_schema(), at(2)))
        .await
        .unwrap();
    expect_conflict(
        tx.insert_collection(fixtures::collection(
            "orders",
            people_schema("orders"),
            at(2),
        ))
        .await,
        ConflictKind::Collection,
    );
    let error = tx.commit().await.unwrap_err();
    assert!(matches!(error, StoreError::TransactionAborted), "{error:?}");

    // The same name in another tenant is neither a conflict nor visible.
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    assert!(tx.collection("orders").await.unwrap().is_none());
    assert!(tx.list_collections().await.unwrap().is_empty());
    let globex_orders = tx
        .insert_collection(fixtures::collection(
            "orders",
            people_schema("orders"),
            at(3),
        ))
        .await
        .unwrap();
    assert_eq!(
        (globex_orders.tenant_id, globex_orders.version),
        (globex.id, 1)
    );
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(
        tx.list_collections().await.unwrap(),
        vec![acme_orders.clone()]
    );
    drop(tx);
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.collection("orders").await.unwrap(),
        Some(globex_orders.clone())
    );
    // Changing or deleting globex's `orders` leaves acme's alone.
    expect_done(
        tx.update_collection(fixtures::collection_change(
            "orders",
            &orders_schema(),
            1,
            at(4),
        ))
        .await
        .unwrap(),
    );
    assert!(tx.delete_collection("orders").await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(tx.collection("orders").await.unwrap(), Some(acme_orders));
    // The deleted `orders` was globex's: its schema is gone there only.
    assert!(tx.collection_schema("orders").await.unwrap().is_some());
    drop(tx);
    let mut tx = store.tenant(globex.id, Access::Read).await.unwrap();
    assert!(tx.collection_schema("orders").await.unwrap().is_none());
}

/// An owner-restricted list finds exactly the owner's records, whatever
/// the collection's visibility was when they were written: a backend that
/// indexes owners only where visibility is `owner` (SQLite) must follow a
/// change of it both ways.
pub async fn owner_lists_follow_changes_of_visibility(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let other = fixtures::user(store, "other@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let schema = |visibility: &str| {
        let mut schema = fixtures::schema_json("notes", &[("title", "text", false, false)]);
        schema["visibility"] = json!(visibility);
        schema
    };
    let mut rng = StdRng::seed_from_u64(11);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("notes", schema("tenant"), at(0)))
        .await
        .unwrap();
    let mut note = |author: UserId, minute: i64| {
        fixtures::record(
            "notes",
            fixtures::seeded_id(&mut rng),
            Some(author),
            json!({"title": format!("t{minute}")}),
            &[],
            at(minute),
        )
    };
    let mut mine = Vec::new();
    for (minute, author) in [(1, owner.id), (2, other.id), (3, owner.id)] {
        let record = tx.insert_record(note(author, minute)).await.unwrap();
        if author == owner.id {
            mine.push(record.id);
        }
    }
    tx.commit().await.unwrap();

    let owner_list = |owner: UserId| RecordQuery {
        limit: 100,
        owner: Some(owner),
        ..Default::default()
    };
    let ids = |records: Vec<Record>| {
        let mut ids: Vec<RecordId> = records.into_iter().map(|r| r.id).collect();
        ids.sort();
        ids
    };
    for (version, visibility) in [(1, "owner"), (2, "tenant"), (3, "owner")] {
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        let updated = tx
            .update_collection(fixtures::collection_change(
                "notes",
                &schema(visibility),
                version,
                at(10 + version),
            ))
            .await
            .unwrap();
        assert!(matches!(updated, Write::Done(_)), "{visibility}");
        // Written under this visibility, in the same transaction.
        let record = tx
            .insert_record(note(owner.id, 20 + version))
            .await
            .unwrap();
        mine.push(record.id);
        mine.sort();
        let listed = tx
            .list_records("notes", &owner_list(owner.id))
            .await
            .unwrap();
        assert_eq!(ids(listed), mine, "after the change to {visibility}");
        tx.commit().await.unwrap();
        let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
        let listed = tx
            .list_records("notes", &owner_list(owner.id))
            .await
            .unwrap();
        assert_eq!(ids(listed), mine, "committed, {visibility}");
        let theirs = tx
            .list_records("notes", &owner_list(other.id))
            .await
            .unwrap();
        assert_eq!(theirs.len(), 1, "{visibility}");
    }
}

pub async fn deleting_a_collection_removes_its_records_and_unique_values_only(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    let mut rng = StdRng::seed_from_u64(3);
    let mut kept = Vec::new();
    let mut doomed = Vec::new();
    for tenant in [acme.id, globex.id] {
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        for name in ["orders", "people"] {
            tx.insert_collection(fixtures::collection(name, orders_schema_named(name), at(0)))
                .await
                .unwrap();
            for code in ["A-1", "A-2"] {
                let record = tx
                    .insert_record(fixtures::record(
                        name,
                        fixtures::seeded_id(&mut rng),
                        Some(owner.id),
                        json!({"code": code, "total": "1"}),
                        &[("code", code)],
                        at(1),
                    ))
                    .await
                    .unwrap();
                if tenant == acme.id && name == "orders" {
                    doomed.push(record);
                } else {
                    kept.push(record);
                }
            }
        }
        tx.commit().await.unwrap();
    }

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert!(tx.delete_collection("orders").await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    for record in &doomed {
        assert!(tx.record("orders", record.id).await.unwrap().is_none());
    }
    assert!(
        tx.unique_value_holder("orders", "code", "A-1")
            .await
            .unwrap()
            .is_none()
    );
    // A new collection of the same name starts empty, with its values free.
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(2)))
        .await
        .unwrap();
    let query = RecordQuery {
        limit: 100,
        ..Default::default()
    };
    assert!(tx.list_records("orders", &query).await.unwrap().is_empty());
    let reborn = tx
        .insert_record(fixtures::record(
            "orders",
            fixtures::seeded_id(&mut rng),
            None,
            json!({"code": "A-1", "total": "2"}),
            &[("code", "A-1")],
            at(3),
        ))
        .await
        .unwrap();
    assert_eq!(
        tx.unique_value_holder("orders", "code", "A-1")
            .await
            .unwrap(),
        Some(reborn.id)
    );
    tx.commit().await.unwrap();

    // Every other record, of the other collection and the other tenant, and
    // its unique value, is still there.
    for record in &kept {
        let mut tx = store.tenant(record.tenant_id, Access::Read).await.unwrap();
        assert_eq!(
            tx.record(&record.collection, record.id)
                .await
                .unwrap()
                .as_ref(),
            Some(record)
        );
        let code = record.data.field("code").unwrap();
        let code = code.as_str().unwrap();
        assert_eq!(
            tx.unique_value_holder(&record.collection, "code", code)
                .await
                .unwrap(),
            Some(record.id)
        );
    }
}

// ---------------------------------------------------------------------------
// Records

pub async fn records_are_created_read_updated_and_deleted_with_versions(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let mut rng = StdRng::seed_from_u64(2);
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    for name in ["notes", "other"] {
        tx.insert_collection(fixtures::collection(name, people_schema(name), at(0)))
            .await
            .unwrap();
    }
    let id = fixtures::seeded_id(&mut rng);
    let data = json!({"email": "ada@example.com", "bio": "first"});
    let created = tx
        .insert_record(fixtures::record(
            "notes",
            id,
            Some(owner.id),
            data.clone(),
            &[],
            at(1),
        ))
        .await
        .unwrap();
    let expected = Record {
        tenant_id: acme.id,
        id,
        collection: "notes".into(),
        owner_id: Some(owner.id),
        version: 1,
        created_at: at(1),
        updated_at: at(1),
        data: Document::from_value(&data).unwrap(),
    };
    assert_eq!(created, expected);
    assert_eq!(
        tx.record("notes", id).await.unwrap(),
        Some(expected.clone())
    );
    assert!(tx.record("other", id).await.unwrap().is_none());
    assert!(tx.record("missing", id).await.unwrap().is_none());
    let unknown: RecordId = fixtures::seeded_id(&mut rng);
    assert!(tx.record("notes", unknown).await.unwrap().is_none());
    let ownerless = tx
        .insert_record(fixtures::record(
            "notes",
            fixtures::seeded_id(&mut rng),
            None,
            json!({"email": "nobody@example.com"}),
            &[],
            at(1),
        ))
        .await
        .unwrap();
    assert_eq!((ownerless.owner_id, ownerless.version), (None, 1));
    tx.commit().await.unwrap();

    // The same id twice is a conflict.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    expect_conflict(
        tx.insert_record(fixtures::record(
            "notes",
            id,
            None,
            json!({"email": "x@example.com"}),
            &[],
            at(2),
        ))
        .await,
        ConflictKind::Record,
    );
    drop(tx);

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let change = |expected_version: Option<i64>, bio: &str, minute: i64| RecordChange {
        collection: "notes".into(),
        id,
        expected_version,
        data: json!({"email": "ada@example.com", "bio": bio}),
        unique_values: Vec::new(),
        at: at(minute),
    };
    // Unconditional, then conditional on the current version.
    let v2 = expect_done(tx.update_record(change(None, "second", 2)).await.unwrap());
    assert_eq!(
        v2,
        Record {
            version: 2,
            updated_at: at(2),
            data: Document::from_value(&json!({"email": "ada@example.com", "bio": "second"}))
                .unwrap(),
            ..expected.clone()
        }
    );
    let v3 = expect_done(tx.update_record(change(Some(2), "third", 3)).await.unwrap());
    assert_eq!(
        (v3.version, v3.created_at, v3.updated_at),
        (3, at(1), at(3))
    );
    assert_eq!(v3.owner_id, Some(owner.id), "an update keeps the owner");
    // A stale version changes nothing and says where the record is now.
    assert_eq!(
        tx.update_record(change(Some(2), "stale", 4)).await.unwrap(),
        Write::VersionMismatch { current: 3 }
    );
    assert_eq!(tx.record("notes", id).await.unwrap(), Some(v3.clone()));
    // Not found in another collection, nor under an unknown id.
    for expected_version in [None, Some(3)] {
        let mut elsewhere = change(expected_version, "elsewhere", 4);
        elsewhere.collection = "other".into();
        assert_eq!(tx.update_record(elsewhere).await.unwrap(), Write::NotFound);
        let mut unknown_id = change(expected_version, "unknown", 4);
        unknown_id.id = unknown;
        assert_eq!(tx.update_record(unknown_id).await.unwrap(), Write::NotFound);
    }
    // A mismatch is an answer, not an error: the transaction goes on.
    let v4 = expect_done(
        tx.update_record(change(Some(3), "fourth", 5))
            .await
            .unwrap(),
    );
    assert_eq!(v4.version, 4);
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(tx.record("notes", id).await.unwrap(), Some(v4.clone()));
    assert_eq!(
        tx.delete_record("notes", id, Some(3)).await.unwrap(),
        Write::VersionMismatch { current: 4 }
    );
    assert_eq!(tx.record("notes", id).await.unwrap(), Some(v4.clone()));
    assert_eq!(
        tx.delete_record("other", id, None).await.unwrap(),
        Write::NotFound
    );
    assert_eq!(
        tx.delete_record("notes", unknown, Some(1)).await.unwrap(),
        Write::NotFound
    );
    // Deleting returns the record as it was.
    assert_eq!(
        tx.delete_record("notes", id, Some(4)).await.unwrap(),
        Write::Done(v4)
    );
    assert!(tx.record("notes", id).await.unwrap().is_none());
    assert_eq!(
        tx.delete_record("notes", id, None).await.unwrap(),
        Write::NotFound
    );
    assert_eq!(
        tx.delete_record("notes", ownerless.id, None).await.unwrap(),
        Write::Done(ownerless.clone())
    );
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert!(tx.record("notes", id).await.unwrap().is_none());
    assert!(tx.record("notes", ownerless.id).await.unwrap().is_none());
}

pub async fn record_documents_round_trip_exactly(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let schema = CollectionSchema::new(
        CollectionName::parse("docs").unwrap(),
        vec![
            field("name", text(), true, false),
            field("big", FieldType::Integer, false, false),
            field("amount", FieldType::Decimal, false, false),
            field("ratio", FieldType::Number, false, false),
            field("when", FieldType::Datetime, false, false),
            field("doc", FieldType::Json, false, false),
        ],
        Visibility::Owner,
        Vec::new(),
    )
    .unwrap();
    let documents = [
        json!({
            "name": "Ünïcødé ✓ 😀 日本語 \"quoted\" back\\slash\nnew line\ttab",
            "big": 9_007_199_254_740_993_i64,
            "amount": "12345678901234567890.123456789012345678",
            "ratio": 0.1,
            "when": "2026-06-01T14:00:00.123456+02:00",
            "doc": {
                "nested": {"deep": [1, 2.5, -0.125, true, false, null, "x", {"k": []}]},
                "empty_object": {},
                "empty_array": [],
                "min": i64::MIN,
                "max": i64::MAX,
                "minus_2_53_minus_1": -9_007_199_254_740_993_i64,
                "zero": 0,
                "ключ": "значение",
                "": "the empty key",
                "html": "<script>alert('x')</script>",
            },
        }),
        json!({"name": "", "big": i64::MIN, "amount": "-0.000000000000000001", "doc": [null, [], {}]}),
        json!({"name": "top-level json string", "big": i64::MAX, "doc": "just text", "ratio": -2.5}),
        json!({"name": "json number", "doc": 9_007_199_254_740_993_i64}),
    ];
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection(
        "docs",
        serde_json::to_value(&schema).unwrap(),
        at(0),
    ))
    .await
    .unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut stored = Vec::new();
    for document in &documents {
        let data = Value::Object(validate_record(&schema, document, WriteMode::Create).unwrap());
        let record = tx
            .insert_record(fixtures::record(
                "docs",
                fixtures::seeded_id(&mut rng),
                Some(owner.id),
                data.clone(),
                &[],
                at(1),
            ))
            .await
            .unwrap();
        assert_eq!(record.data, data);
        stored.push(record);
    }
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    for record in &stored {
        assert_eq!(
            tx.record("docs", record.id).await.unwrap().as_ref(),
            Some(record)
        );
    }
    let query = RecordQuery {
        limit: 100,
        ..Default::default()
    };
    let mut listed = tx.list_records("docs", &query).await.unwrap();
    listed.sort_by_key(|record| record.id);
    let mut expected = stored.clone();
    expected.sort_by_key(|record| record.id);
    assert_eq!(listed, expected);
    // An update stores the new document as exactly.
    let replacement = documents[0].clone();
    let data = Value::Object(validate_record(&schema, &replacement, WriteMode::Replace).unwrap());
    let updated = expect_done(
        tx.update_record(RecordChange {
            collection: "docs".into(),
            id: stored[3].id,
            expected_version: Some(1),
            data: data.clone(),
            unique_values: Vec::new(),
            at: at(2),
        })
        .await
        .unwrap(),
    );
    assert_eq!(updated.data, data);
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(
        tx.record("docs", stored[3].id).await.unwrap().unwrap().data,
        data
    );
}

// ---------------------------------------------------------------------------
// Unique values

pub async fn unique_values_are_enforced_per_tenant_collection_and_field(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    let mut rng = StdRng::seed_from_u64(4);
    for tenant in [acme.id, globex.id] {
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        for name in ["people", "teams"] {
            tx.insert_collection(fixtures::collection(name, people_schema(name), at(0)))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let person = |id: RecordId, email: &str, handle: Option<&str>| {
        let mut unique = vec![("email", email)];
        let mut data = json!({"email": email});
        if let Some(handle) = handle {
            unique.push(("handle", handle));
            data["handle"] = json!(handle);
        }
        fixtures::record("people", id, None, data, &unique, at(1))
    };

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let ada = tx
        .insert_record(person(
            fixtures::seeded_id(&mut rng),
            "ada@example.com",
            Some("ada"),
        ))
        .await
        .unwrap();
    // Records that lack the optional unique field do not collide.
    for email in ["x@example.com", "y@example.com"] {
        tx.insert_record(person(fixtures::seeded_id(&mut rng), email, None))
            .await
            .unwrap();
    }
    // The same text in another field, in another case, in another
    // collection: none is the value taken.
    tx.insert_record(person(
        fixtures::seeded_id(&mut rng),
        "ada",
        Some("ada@example.com"),
    ))
    .await
    .unwrap();
    let upper_case = tx
        .insert_record(person(
            fixtures::seeded_id(&mut rng),
            "Ada@example.com",
            Some("Ada"),
        ))
        .await
        .unwrap();
    let mut team = person(
        fixtures::seeded_id(&mut rng),
        "ada@example.com",
        Some("ada"),
    );
    team.collection = "teams".into();
    let team = tx.insert_record(team).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    for ((collection, field, value), expected) in [
        (("people", "email", "ada@example.com"), Some(ada.id)),
        (("people", "handle", "ada"), Some(ada.id)),
        (("people", "email", "Ada@example.com"), Some(upper_case.id)),
        (("teams", "email", "ada@example.com"), Some(team.id)),
        (("people", "bio", "ada"), None),
        (("people", "email", "nobody@example.com"), None),
        (("missing", "email", "ada@example.com"), None),
    ] {
        assert_eq!(
            tx.unique_value_holder(collection, field, value)
                .await
                .unwrap(),
            expected,
            "{collection}.{field} = {value}"
        );
    }
    drop(tx);

    // A taken value is a conflict, on either unique field, and aborts the
    // transaction: nothing of it is kept.
    for (email, handle) in [("ada@example.com", None), ("new@example.com", Some("ada"))] {
        let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
        let before = tx
            .insert_record(person(
                fixtures::seeded_id(&mut rng),
                "before@example.com",
                None,
            ))
            .await
            .unwrap();
        expect_conflict(
            tx.insert_record(person(fixtures::seeded_id(&mut rng), email, handle))
                .await,
            ConflictKind::UniqueValue,
        );
        let error = tx.commit().await.unwrap_err();
        assert!(matches!(error, StoreError::TransactionAborted), "{error:?}");
        let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
        assert!(tx.record("people", before.id).await.unwrap().is_none());
        assert!(
            tx.unique_value_holder("people", "email", "before@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }

    // Updating to a new value frees the old one; keeping a value is no
    // conflict with itself.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let moved = expect_done(
        tx.update_record(RecordChange {
            collection: "people".into(),
            id: ada.id,
            expected_version: Some(1),
            data: json!({"email": "ada@new.example", "handle": "ada"}),
            unique_values: fixtures::unique_values(&[
                ("email", "ada@new.example"),
                ("handle", "ada"),
            ]),
            at: at(2),
        })
        .await
        .unwrap(),
    );
    assert_eq!(moved.version, 2);
    assert!(
        tx.unique_value_holder("people", "email", "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        tx.unique_value_holder("people", "email", "ada@new.example")
            .await
            .unwrap(),
        Some(ada.id)
    );
    assert_eq!(
        tx.unique_value_holder("people", "handle", "ada")
            .await
            .unwrap(),
        Some(ada.id)
    );
    let successor = tx
        .insert_record(person(
            fixtures::seeded_id(&mut rng),
            "ada@example.com",
            None,
        ))
        .await
        .unwrap();
    // Dropping an optional unique field frees its value too.
    expect_done(
        tx.update_record(RecordChange {
            collection: "people".into(),
            id: ada.id,
            expected_version: None,
            data: json!({"email": "ada@new.example"}),
            unique_values: fixtures::unique_values(&[("email", "ada@new.example")]),
            at: at(3),
        })
        .await
        .unwrap(),
    );
    assert!(
        tx.unique_value_holder("people", "handle", "ada")
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();

    // Updating into a taken value is a conflict.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    expect_conflict(
        tx.update_record(RecordChange {
            collection: "people".into(),
            id: successor.id,
            expected_version: None,
            data: json!({"email": "ada@new.example"}),
            unique_values: fixtures::unique_values(&[("email", "ada@new.example")]),
            at: at(4),
        })
        .await,
        ConflictKind::UniqueValue,
    );
    drop(tx);

    // Deleting frees every value of the record.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    expect_done(tx.delete_record("people", ada.id, None).await.unwrap());
    assert!(
        tx.unique_value_holder("people", "email", "ada@new.example")
            .await
            .unwrap()
            .is_none()
    );
    let reuse = tx
        .insert_record(person(
            fixtures::seeded_id(&mut rng),
            "ada@new.example",
            Some("ada"),
        ))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Another tenant: the same values are free, and its holders are its own.
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    assert!(
        tx.unique_value_holder("people", "email", "ada@new.example")
            .await
            .unwrap()
            .is_none()
    );
    let theirs = tx
        .insert_record(person(
            fixtures::seeded_id(&mut rng),
            "ada@new.example",
            Some("ada"),
        ))
        .await
        .unwrap();
    assert_eq!(
        tx.unique_value_holder("people", "handle", "ada")
            .await
            .unwrap(),
        Some(theirs.id)
    );
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(
        tx.unique_value_holder("people", "handle", "ada")
            .await
            .unwrap(),
        Some(reuse.id)
    );
}

// ---------------------------------------------------------------------------
// Idempotency keys

pub async fn idempotency_keys_replay_their_first_answer(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    let body = json!({"id": "r-1", "nested": {"list": [1, "two", null, 2.5]}, "ü": "✓"});

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-1", &hash_of("request-1"), at(1))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    tx.complete_idempotency_key("key-1", 201, &body)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for minute in [2, 3] {
        let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
        assert_eq!(
            tx.claim_idempotency_key("key-1", &hash_of("request-1"), at(minute))
                .await
                .unwrap(),
            IdempotencyClaim::Replay {
                status: 201,
                body: body.clone()
            }
        );
        assert_eq!(
            tx.claim_idempotency_key("key-1", &hash_of("request-2"), at(minute))
                .await
                .unwrap(),
            IdempotencyClaim::Mismatch
        );
        tx.commit().await.unwrap();
    }

    // Keys are per tenant.
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-1", &hash_of("request-2"), at(4))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    tx.complete_idempotency_key("key-1", 422, &json!({"tenant": "globex"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-1", &hash_of("request-1"), at(5))
            .await
            .unwrap(),
        IdempotencyClaim::Replay {
            status: 201,
            body: body.clone()
        }
    );
    drop(tx);

    // A claim rolled back with its transaction leaves the key free, and so
    // does one whose transaction failed later.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-2", &hash_of("request-3"), at(6))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    tx.complete_idempotency_key("key-2", 200, &json!({"lost": true}))
        .await
        .unwrap();
    drop(tx);
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(7)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-2", &hash_of("request-4"), at(7))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    expect_conflict(
        tx.insert_collection(fixtures::collection("orders", orders_schema(), at(7)))
            .await,
        ConflictKind::Collection,
    );
    assert!(matches!(
        tx.commit().await.unwrap_err(),
        StoreError::TransactionAborted
    ));
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-2", &hash_of("request-5"), at(8))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    tx.complete_idempotency_key("key-2", 204, &Value::Null)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-2", &hash_of("request-5"), at(9))
            .await
            .unwrap(),
        IdempotencyClaim::Replay {
            status: 204,
            body: Value::Null
        }
    );
}

#[derive(Debug)]
enum ClaimOutcome {
    Created(RecordId),
    Replayed { status: u16, body: Value },
}

pub async fn an_idempotency_key_is_claimed_once_under_concurrency(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let tenant = fixtures::tenant(&*store, "acme", &owner).await.id;
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(0)))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let n_tasks = 16;
    let mut rng = StdRng::seed_from_u64(16);
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut tasks = Vec::new();
    for i in 0..n_tasks {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        let id: RecordId = fixtures::seeded_id(&mut rng);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
            let claim = tx
                .claim_idempotency_key("create-order", &hash_of("same body"), at(1))
                .await
                .unwrap();
            match claim {
                IdempotencyClaim::New => {
                    tx.insert_record(fixtures::record(
                        "orders",
                        id,
                        None,
                        json!({"code": "once", "total": "9.99"}),
                        &[("code", "once")],
                        at(1),
                    ))
                    .await
                    .unwrap();
                    tx.complete_idempotency_key(
                        "create-order",
                        201,
                        &json!({"id": id.to_string()}),
                    )
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                    ClaimOutcome::Created(id)
                }
                IdempotencyClaim::Replay { status, body } => {
                    tx.commit().await.unwrap();
                    ClaimOutcome::Replayed { status, body }
                }
                IdempotencyClaim::Mismatch => panic!("task {i}: the same request mismatched"),
            }
        }));
    }
    let mut created = Vec::new();
    let mut replayed = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            ClaimOutcome::Created(id) => created.push(id),
            ClaimOutcome::Replayed { status, body } => replayed.push((status, body)),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    let answer = (201, json!({"id": created[0].to_string()}));
    assert_eq!(replayed, vec![answer; n_tasks - 1]);
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let query = RecordQuery {
        limit: 100,
        ..Default::default()
    };
    let records = tx.list_records("orders", &query).await.unwrap();
    assert_eq!(
        records.iter().map(|r| r.id).collect::<Vec<_>>(),
        created,
        "exactly one record was created"
    );
}

// ---------------------------------------------------------------------------
// Record events

/// Appends `event` as a record change, with the audit entry the service
/// would write for it.
async fn append_change(
    tx: &mut dyn crate::TenantTx,
    event: crate::NewRecordEvent,
) -> crate::RecordEvent {
    let audit = fixtures::change_audit(&event);
    let (event, entry) = tx.append_record_change(event, audit).await.unwrap();
    assert_eq!(
        (entry.seq, entry.action.as_str(), entry.resource_id.clone()),
        (
            event.seq,
            format!("record.{}", event.kind.as_str()).as_str(),
            Some(event.record_id.to_string())
        ),
        "an event is numbered by its own audit entry"
    );
    event
}

pub async fn record_events_are_numbered_by_their_audit_entries(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    let mut rng = StdRng::seed_from_u64(6);
    let event = |record: &Record, kind: EventKind, minute: i64| {
        fixtures::record_event(
            &record.collection,
            record.id,
            kind,
            record.owner_id,
            json!({"kind": kind.as_str(), "record": record.data, "minute": minute}),
            at(minute),
        )
    };

    let mut appended = Vec::new();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(0)))
        .await
        .unwrap();
    let first = tx
        .insert_record(fixtures::record(
            "orders",
            fixtures::seeded_id(&mut rng),
            Some(owner.id),
            json!({"code": "A-1", "total": "1"}),
            &[("code", "A-1")],
            at(1),
        ))
        .await
        .unwrap();
    let second = tx
        .insert_record(fixtures::record(
            "orders",
            fixtures::seeded_id(&mut rng),
            None,
            json!({"code": "A-2", "total": "2"}),
            &[("code", "A-2")],
            at(1),
        ))
        .await
        .unwrap();
    let base = tx.record_event_position().await.unwrap();
    for (record, kind) in [(&first, EventKind::Create), (&second, EventKind::Create)] {
        appended.push(append_change(&mut *tx, event(record, kind, 1)).await);
    }
    // An audit entry that is no record change takes a number no event has.
    let other = tx
        .append_audit(fixtures::audit("members.add", None))
        .await
        .unwrap();
    assert_eq!(tx.record_event_position().await.unwrap(), other.seq);
    tx.commit().await.unwrap();
    // An event may name a record that no longer exists: the delete's own.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    expect_done(tx.delete_record("orders", second.id, None).await.unwrap());
    appended.push(append_change(&mut *tx, event(&second, EventKind::Delete, 2)).await);
    tx.commit().await.unwrap();
    assert_eq!(
        appended.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [base + 1, base + 2, base + 4]
    );
    let expected_first = crate::RecordEvent {
        tenant_id: acme.id,
        seq: base + 1,
        collection: "orders".into(),
        record_id: first.id,
        kind: EventKind::Create,
        owner_id: Some(owner.id),
        payload: json!({"kind": "create", "record": first.data, "minute": 1}),
        at: at(1),
    };
    assert_eq!(appended[0], expected_first);
    assert_eq!(
        (
            appended[2].kind,
            appended[2].owner_id,
            appended[2].record_id
        ),
        (EventKind::Delete, None, second.id)
    );

    // Another tenant's numbers are its own log's.
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(0)))
        .await
        .unwrap();
    let globex_base = tx.record_event_position().await.unwrap();
    for minute in [3, 4] {
        let appended = append_change(&mut *tx, event(&first, EventKind::Update, minute)).await;
        assert_eq!(
            (appended.tenant_id, appended.seq),
            (globex.id, globex_base + minute - 2)
        );
    }
    tx.commit().await.unwrap();

    // Events of a rolled-back or failed transaction never appear, and their
    // numbers are given again.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let lost = append_change(&mut *tx, event(&first, EventKind::Update, 5)).await;
    assert_eq!(lost.seq, base + 5);
    drop(tx);
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        append_change(&mut *tx, event(&first, EventKind::Update, 6))
            .await
            .seq,
        base + 5
    );
    expect_conflict(
        tx.insert_collection(fixtures::collection("orders", orders_schema(), at(6)))
            .await,
        ConflictKind::Collection,
    );
    let error = tx.commit().await.unwrap_err();
    assert!(matches!(error, StoreError::TransactionAborted), "{error:?}");
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    appended.push(append_change(&mut *tx, event(&first, EventKind::Update, 7)).await);
    assert_eq!(appended[3].seq, base + 5);
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(tx.record_event_position().await.unwrap(), base + 5);
    assert_eq!(tx.record_events_after(0, 100).await.unwrap(), appended);
    assert_eq!(
        tx.record_events_after(base + 1, 2).await.unwrap(),
        appended[1..3]
    );
    // From a number no event has (the other entry's), and from an event's.
    assert_eq!(
        tx.record_events_after(base + 3, 100).await.unwrap(),
        appended[2..]
    );
    assert_eq!(
        tx.record_events_after(base + 4, 100).await.unwrap(),
        appended[3..]
    );
    assert!(
        tx.record_events_after(base + 5, 100)
            .await
            .unwrap()
            .is_empty()
    );
    drop(tx);
    let mut tx = store.tenant(globex.id, Access::Read).await.unwrap();
    let theirs = tx.record_events_after(0, 100).await.unwrap();
    assert_eq!(
        theirs
            .iter()
            .map(|e| (e.tenant_id, e.seq, e.at))
            .collect::<Vec<_>>(),
        [
            (globex.id, globex_base + 1, at(3)),
            (globex.id, globex_base + 2, at(4))
        ]
    );
}

pub async fn record_events_are_numbered_apart_under_concurrency(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let tenant = fixtures::tenant(&*store, "acme", &owner).await.id;
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("orders", orders_schema(), at(0)))
        .await
        .unwrap();
    let base = tx.record_event_position().await.unwrap();
    tx.commit().await.unwrap();
    let n_tasks = 8;
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut rng = StdRng::seed_from_u64(8);
    let mut tasks = Vec::new();
    for i in 0..n_tasks {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        let record_id: RecordId = fixtures::seeded_id(&mut rng);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
            let mut seqs = Vec::new();
            for kind in [EventKind::Create, EventKind::Update] {
                let event = fixtures::record_event(
                    "orders",
                    record_id,
                    kind,
                    None,
                    json!({"task": i}),
                    at(1),
                );
                seqs.push(append_change(&mut *tx, event).await.seq);
            }
            tx.commit().await.unwrap();
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(seqs[0] < seqs[1], "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    // Only record changes were appended, so no number is skipped.
    assert_eq!(
        all,
        (base + 1..=base + 2 * n_tasks as i64).collect::<Vec<_>>()
    );
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let events = tx.record_events_after(0, 100).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        all,
        "oldest first, every committed event"
    );
}

// ---------------------------------------------------------------------------
// Listing: a collection with a field of every filterable type

const ITEMS: &str = "items";
const N_ITEMS: usize = 30;
/// Records created before the schema change that made `price` a decimal.
const N_LEGACY: usize = 5;

fn items_schema(price: FieldType) -> CollectionSchema {
    let select = FieldType::Select {
        values: vec!["open".into(), "paid".into(), "void".into()],
    };
    let relation = FieldType::Relation {
        collection: CollectionName::parse(ITEMS).unwrap(),
    };
    let name = |name: &str| FieldName::parse(name).unwrap();
    CollectionSchema::new(
        CollectionName::parse(ITEMS).unwrap(),
        vec![
            field("title", FieldType::Text { max_len: Some(40) }, true, false),
            field("note", text(), false, false),
            field("qty", FieldType::Integer, false, false),
            field("score", FieldType::Number, false, false),
            field("price", price, false, false),
            field("active", FieldType::Bool, false, false),
            field("due", FieldType::Datetime, false, false),
            field("status", select, false, false),
            field("parent", relation, false, false),
            field("meta", FieldType::Json, false, false),
        ],
        Visibility::Tenant,
        vec![vec![name("status"), name("qty")], vec![name("due")]],
    )
    .unwrap()
}

const TITLES: [&str; 12] = [
    "apple",
    "Apple",
    "banana",
    "Banana split",
    "cherry",
    "ápple",
    "100% natural",
    "a_b",
    "O'Brien",
    "zebra",
    "apple pie",
    "Cherry",
];

fn rfc3339(at: OffsetDateTime, offset_hours: i8) -> String {
    at.to_offset(UtcOffset::from_hms(offset_hours, 0, 0).unwrap())
        .format(&Rfc3339)
        .unwrap()
}

fn days(n: i64) -> OffsetDateTime {
    at(0) + Duration::days(n)
}

/// The values a data field takes in the generated records; `None` is
/// absent. Every value appears at least once among the first records.
fn pool(name: &str) -> Vec<Option<Value>> {
    let some = |values: Vec<Value>| values.into_iter().map(Some);
    let values: Vec<Option<Value>> = match name {
        "title" => some(TITLES.iter().map(|t| json!(t)).collect()).collect(),
        "note" => [None, None]
            .into_iter()
            .chain(some(vec![
                json!("first"),
                json!("second"),
                json!("x"),
                json!("contains x here"),
                json!(""),
                json!("Z"),
            ]))
            .collect(),
        "qty" => [None]
            .into_iter()
            .chain(some(vec![
                json!(0),
                json!(1),
                json!(2),
                json!(-5),
                json!(3),
                json!(9_007_199_254_740_993_i64),
                json!(9_007_199_254_740_992_i64),
                json!(-9_007_199_254_740_993_i64),
                json!(42),
                json!(i64::MAX),
                json!(i64::MIN),
            ]))
            .collect(),
        "score" => [None]
            .into_iter()
            .chain(some(vec![
                json!(0),
                json!(1.5),
                json!(-2.25),
                json!(10),
                json!(3),
                json!(2.5),
                json!(100.0),
                json!(0.1),
            ]))
            .collect(),
        // Written loosely; validation makes them canonical.
        "price" => [None]
            .into_iter()
            .chain(some(vec![
                json!("10"),
                json!("9.99"),
                json!("10.50"),
                json!("-3"),
                json!("0"),
                json!("100"),
                json!("2.5"),
                json!("1000000.01"),
                json!("0.001"),
                json!("007.0"),
                json!("-0.5"),
            ]))
            .collect(),
        "active" => vec![None, Some(json!(true)), Some(json!(false))],
        "due" => [None]
            .into_iter()
            .chain(some(vec![
                json!(rfc3339(days(-400), 0)),
                json!(rfc3339(days(-1), 2)),
                json!(rfc3339(days(0), -5)),
                json!(rfc3339(days(1), 0)),
                json!(rfc3339(days(30), 9)),
                json!(rfc3339(days(365), 0)),
                json!("1999-12-31T23:59:59.999999Z"),
                json!(rfc3339(days(0) + Duration::microseconds(1), 0)),
            ]))
            .collect(),
        "status" => vec![
            None,
            Some(json!("open")),
            Some(json!("paid")),
            Some(json!("void")),
        ],
        "meta" => vec![
            None,
            Some(json!({"k": 1})),
            Some(json!({"a": null, "b": [1, "two"]})),
            Some(json!("just text")),
        ],
        other => panic!("no pool for {other}"),
    };
    values
}

/// Prices of the records created while `price` was an integer field.
const LEGACY_PRICES: [Option<i64>; N_LEGACY] = [Some(7), Some(-12), Some(100), None, Some(0)];

const DATA_FIELDS: [&str; 8] = [
    "title", "note", "qty", "score", "price", "active", "due", "status",
];

/// `n` values of `name`'s pool: each at least once, the rest at random, in
/// random order.
fn spread(name: &str, n: usize, rng: &mut StdRng) -> Vec<Option<Value>> {
    let pool = pool(name);
    let mut values: Vec<Option<Value>> = (0..n)
        .map(|i| match pool.get(i) {
            Some(value) => value.clone(),
            None => pool[rng.gen_range(0..pool.len())].clone(),
        })
        .collect();
    values.shuffle(rng);
    values
}

/// The data and unique values of a record from one value per field.
fn item(values: &BTreeMap<&str, Option<Value>>) -> Value {
    let mut data = serde_json::Map::new();
    for (name, value) in values {
        if let Some(value) = value {
            data.insert((*name).to_owned(), value.clone());
        }
    }
    Value::Object(data)
}

/// The listing fixture: a tenant whose `items` collection holds records of
/// every shape, the first few written before `price` became a decimal, a
/// few later updated; and another tenant with an `items` collection too.
struct Listing {
    tenant: TenantId,
    schema: CollectionSchema,
    /// Three owners, ordered by id.
    owners: Vec<UserId>,
    /// The records as stored now.
    records: Vec<Record>,
    rng: StdRng,
    /// Minutes for the next write, so every write has its own time.
    clock: i64,
}

impl Listing {
    async fn new(store: &dyn Store) -> Self {
        let mut rng = StdRng::seed_from_u64(30);
        let mut owners = Vec::new();
        for i in 0..3 {
            let id = fixtures::seeded_id(&mut rng);
            owners.push(
                fixtures::user_with_id(store, &format!("owner-{i}@example.com"), id)
                    .await
                    .id,
            );
        }
        owners.sort();
        let admin = fixtures::user(store, "admin@example.com").await;
        let tenant = fixtures::tenant(store, "acme", &admin).await.id;
        let legacy = items_schema(FieldType::Integer);
        let schema = items_schema(FieldType::Decimal);
        assert!(schema_change_issues(&legacy, &schema).is_empty());

        let ids: Vec<RecordId> = (0..N_ITEMS)
            .map(|_| fixtures::seeded_id(&mut rng))
            .collect();
        let mut columns: BTreeMap<&str, Vec<Option<Value>>> = BTreeMap::new();
        for name in DATA_FIELDS.into_iter().chain(["meta"]) {
            let column = if name == "price" {
                let legacy = LEGACY_PRICES.iter().map(|price| price.map(Value::from));
                legacy
                    .chain(spread(name, N_ITEMS - N_LEGACY, &mut rng))
                    .collect()
            } else {
                spread(name, N_ITEMS, &mut rng)
            };
            columns.insert(name, column);
        }
        let mut listing = Self {
            tenant,
            schema: schema.clone(),
            owners,
            records: Vec::new(),
            rng,
            clock: 100,
        };

        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        tx.insert_collection(fixtures::collection(
            ITEMS,
            serde_json::to_value(&legacy).unwrap(),
            at(0),
        ))
        .await
        .unwrap();
        for i in 0..N_ITEMS {
            if i == N_LEGACY {
                // Integer to decimal: stored prices stay JSON numbers.
                expect_done(
                    tx.update_collection(fixtures::collection_change(
                        ITEMS,
                        &serde_json::to_value(&schema).unwrap(),
                        1,
                        at(0),
                    ))
                    .await
                    .unwrap(),
                );
            }
            let mut values: BTreeMap<&str, Option<Value>> = columns
                .iter()
                .map(|(name, column)| (*name, column[i].clone()))
                .collect();
            let current = if i < N_LEGACY { &legacy } else { &schema };
            // Relations are written in upper case; validation lower-cases.
            let parent = listing.rng.gen_bool(0.6).then(|| {
                let target = ids[listing.rng.gen_range(0..N_ITEMS)];
                json!(target.to_string().to_uppercase())
            });
            values.insert("parent", parent);
            let data = item(&values);
            let data = Value::Object(validate_record(current, &data, WriteMode::Create).unwrap());
            let owner = listing.random_owner();
            // Three records per minute, so creation times tie.
            let created_at = at((i / 3) as i64);
            let record = tx
                .insert_record(fixtures::record(
                    ITEMS,
                    ids[i],
                    owner,
                    data,
                    &[],
                    created_at,
                ))
                .await
                .unwrap();
            listing.records.push(record);
        }
        // Every fourth record is written again later (validated by the
        // current schema, so a legacy price becomes text), some of them
        // changing a value, some losing one.
        for i in (1..N_ITEMS).step_by(4) {
            let mut record = listing.records[i].clone();
            let mut document = record.data.to_value().unwrap();
            let data = document.as_object_mut().unwrap();
            match i % 3 {
                0 => {
                    data.insert("note".into(), json!(format!("updated {i}")));
                }
                1 => {
                    data.remove("active");
                }
                _ => {}
            }
            let data = validate_record(&schema, &document, WriteMode::Replace).unwrap();
            let document = Value::Object(data);
            record.data = Document::from_value(&document).unwrap();
            let updated = expect_done(
                tx.update_record(RecordChange {
                    collection: ITEMS.into(),
                    id: record.id,
                    expected_version: Some(1),
                    data: document,
                    unique_values: Vec::new(),
                    at: at(60 + i as i64),
                })
                .await
                .unwrap(),
            );
            record.version = 2;
            record.updated_at = at(60 + i as i64);
            assert_eq!(updated, record);
            listing.records[i] = updated;
        }
        for fields in listing.schema.indexes().to_vec() {
            let fields = listing.index_fields(&fields);
            tx.ensure_record_index(ITEMS, &fields).await.unwrap();
            tx.ensure_record_index(ITEMS, &fields).await.unwrap();
        }
        tx.commit().await.unwrap();

        // Another tenant's `items` must never show up.
        let globex = fixtures::tenant(store, "globex", &admin).await.id;
        let mut tx = store.tenant(globex, Access::Write).await.unwrap();
        tx.insert_collection(fixtures::collection(
            ITEMS,
            serde_json::to_value(&schema).unwrap(),
            at(0),
        ))
        .await
        .unwrap();
        for _ in 0..3 {
            let data = listing.random_data();
            let owner = Some(listing.owners[0]);
            let id = fixtures::seeded_id(&mut listing.rng);
            tx.insert_record(fixtures::record(ITEMS, id, owner, data, &[], at(0)))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        listing
    }

    fn index_fields(&self, names: &[FieldName]) -> Vec<(String, FieldType)> {
        names
            .iter()
            .map(|name| {
                let def = self.schema.field(name.as_str()).unwrap();
                (name.to_string(), def.field_type.clone())
            })
            .collect()
    }

    fn random_owner(&mut self) -> Option<UserId> {
        let i = self.rng.gen_range(0..=self.owners.len());
        self.owners.get(i).copied()
    }

    /// A valid document with every field drawn at random from its pool.
    fn random_data(&mut self) -> Value {
        let mut values = BTreeMap::new();
        for name in DATA_FIELDS.into_iter().chain(["meta"]) {
            let pool = pool(name);
            values.insert(name, pool[self.rng.gen_range(0..pool.len())].clone());
        }
        if self.rng.gen_bool(0.5) {
            let target = self.records[self.rng.gen_range(0..self.records.len())].id;
            values.insert("parent", Some(json!(target.to_string())));
        }
        Value::Object(validate_record(&self.schema, &item(&values), WriteMode::Create).unwrap())
    }

    fn tick(&mut self) -> OffsetDateTime {
        self.clock += 1;
        at(self.clock)
    }

    fn filter(&self, text: &str) -> TypedExpr {
        let expr = parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        typecheck(&expr, &self.schema).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn sort(&self, text: &str) -> Vec<SortKey> {
        if text.is_empty() {
            return Vec::new();
        }
        parse_sort(text, &self.schema).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn query(&self, sort: &str, filter: Option<&str>, owner: Option<UserId>) -> RecordQuery {
        RecordQuery {
            filter: filter.map(|text| self.filter(text)),
            sort: self.sort(sort),
            after: None,
            owner,
            limit: 1000,
        }
    }

    /// Record positions in creation order, for readable failures (new
    /// records count on from the fixture's).
    fn names(&self, records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|record| {
                let title = record.data.field("title");
                let title = title.as_ref().and_then(Value::as_str).unwrap_or("?");
                match self.records.iter().position(|r| r.id == record.id) {
                    Some(i) => format!("#{i} {title}"),
                    None => format!("{} {title}", record.id),
                }
            })
            .collect()
    }
}

async fn list(store: &dyn Store, tenant: TenantId, query: &RecordQuery) -> Vec<Record> {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    tx.list_records(ITEMS, query).await.unwrap()
}

fn ids(records: &[Record]) -> Vec<RecordId> {
    records.iter().map(|record| record.id).collect()
}

/// Whether a filter is expected to select some, none or all records: a
/// guard against a test table that checks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selects {
    Some,
    None,
    All,
}

pub async fn record_filters_agree_with_the_reference_evaluation(ts: &TestStore) {
    let store = &*ts.store;
    let fx = Listing::new(store).await;
    let record = |i: usize| fx.records[i].id.to_string();
    let parent = fx
        .records
        .iter()
        .find_map(|r| match r.data.field("parent") {
            Some(Value::String(parent)) => Some(parent),
            _ => None,
        })
        .unwrap();
    let other_parent = fx
        .records
        .iter()
        .rev()
        .find_map(|r| match r.data.field("parent") {
            Some(Value::String(parent)) => Some(parent),
            _ => None,
        })
        .unwrap();
    let (u0, u1, u2) = (fx.owners[0], fx.owners[1], fx.owners[2]);
    let dt = |at: OffsetDateTime, offset: i8| rfc3339(at, offset);
    use Selects::{All, None as Nothing, Some as Part};
    let table: Vec<(String, Selects)> = vec![
        // text: every operator, bytewise, `~` case-sensitive and literal.
        (r#"title = "apple""#.into(), Part),
        (r#"title != "apple""#.into(), Part),
        (r#"title < "b""#.into(), Part),
        (r#"title <= "apple""#.into(), Part),
        (r#"title > "Banana""#.into(), Part),
        (r#"title >= "cherry""#.into(), Part),
        (r#"title > "z""#.into(), Part),
        (r#"title = "ápple""#.into(), Part),
        (r#"title ~ "an""#.into(), Part),
        (r#"title ~ "App""#.into(), Part),
        (r#"title ~ "pp""#.into(), Part),
        (r#"title ~ "%""#.into(), Part),
        (r#"title ~ "_""#.into(), Part),
        (r#"title ~ "'""#.into(), Part),
        (r#"title = "O'Brien""#.into(), Part),
        (r#"title ~ """#.into(), All),
        (r#"title in ("apple", "cherry", "nope")"#.into(), Part),
        (r#"title != "no such title""#.into(), All),
        // Values are bound, never spliced into the query text.
        (r#"title = "x' OR '1'='1""#.into(), Nothing),
        (r#"title ~ "x' OR '1'='1""#.into(), Nothing),
        (r#"title = 'apple" OR "1"="1'"#.into(), Nothing),
        (r#"title ~ "' OR 1=1 --""#.into(), Nothing),
        (r#"note = "\"); DROP TABLE records; --""#.into(), Nothing),
        (
            r#"title in ("x') OR ('1'='1", "apple' --")"#.into(),
            Nothing,
        ),
        // An optional text field.
        ("note = null".into(), Part),
        ("note != null".into(), Part),
        (r#"note = """#.into(), Part),
        (r#"note ~ "x""#.into(), Part),
        (r#"note != "first""#.into(), Part),
        (r#"!(note = "first")"#.into(), Part),
        (r#"note < "a""#.into(), Part),
        // integer, exact beyond 2^53 and at the ends of i64.
        ("qty = 0".into(), Part),
        ("qty != 3".into(), Part),
        ("qty < 0".into(), Part),
        ("qty <= 2".into(), Part),
        ("qty > 9007199254740992".into(), Part),
        ("qty >= -5".into(), Part),
        ("qty = 9007199254740993".into(), Part),
        ("qty = 9007199254740992".into(), Part),
        ("qty in (1, 2, 9007199254740993)".into(), Part),
        ("qty = 2.0".into(), Part),
        ("qty < 1e1".into(), Part),
        ("qty = 9223372036854775807".into(), Part),
        ("qty < -9007199254740993".into(), Part),
        ("qty = null".into(), Part),
        // number
        ("score = 2.5".into(), Part),
        ("score > 1".into(), Part),
        ("score <= 0".into(), Part),
        ("score != 10".into(), Part),
        ("score in (1.5, 3)".into(), Part),
        ("score >= -2.25".into(), Part),
        ("score < 1e2".into(), Part),
        ("score = 100".into(), Part),
        ("score > 0.1".into(), Part),
        // decimal: by value, whether stored as text or as a JSON number.
        ("price = 7".into(), Part),
        ("price = 7.000".into(), Part),
        ("price = 10.50".into(), Part),
        ("price > 9.99".into(), Part),
        ("price < 10".into(), Part),
        ("price >= 100".into(), Part),
        ("price <= -3".into(), Part),
        ("price != 7".into(), Part),
        ("price in (7, 2.5, -12)".into(), Part),
        ("price > 1e1".into(), Part),
        ("price < 0.01".into(), Part),
        ("price > -1".into(), Part),
        ("price = null".into(), Part),
        // bool
        ("active = true".into(), Part),
        ("active = false".into(), Part),
        ("active != true".into(), Part),
        ("!(active = true)".into(), Part),
        ("active = null".into(), Part),
        // datetime: instants, whatever the offset written.
        (format!(r#"due < "{}""#, dt(days(0), 0)), Part),
        (format!(r#"due >= "{}""#, dt(days(0), 2)), Part),
        (format!(r#"due = "{}""#, dt(days(0), -5)), Part),
        (format!(r#"due > "{}""#, dt(days(0), 0)), Part),
        (format!(r#"due != "{}""#, dt(days(0), 3)), Part),
        (
            format!(
                r#"due in ("{}", "1999-12-31T23:59:59.999999Z")"#,
                dt(days(1), 1)
            ),
            Part,
        ),
        (r#"due <= "2000-01-01T00:59:59.999999+01:00""#.into(), Part),
        ("due = null".into(), Part),
        // select
        (r#"status = "open""#.into(), Part),
        (r#"status != "paid""#.into(), Part),
        (r#"status < "paid""#.into(), Part),
        (r#"status >= "paid""#.into(), Part),
        (r#"status in ("open", "void")"#.into(), Part),
        ("status = null".into(), Part),
        ("status != null".into(), Part),
        // relation, in whatever case the uuid is written.
        (format!(r#"parent = "{}""#, parent.to_uppercase()), Part),
        (format!(r#"parent != "{parent}""#), Part),
        (format!(r#"parent < "{parent}""#), Part),
        (format!(r#"parent in ("{parent}", "{other_parent}")"#), Part),
        ("parent = null".into(), Part),
        // system fields
        (format!(r#"id = "{}""#, record(5)), Part),
        (format!(r#"id = "{}""#, record(5).to_uppercase()), Part),
        (format!(r#"id > "{}""#, record(10)), Part),
        (format!(r#"id <= "{}""#, record(7)), Part),
        (format!(r#"id != "{}""#, record(3)), Part),
        (
            format!(
                r#"id in ("{}", "{}", "{}")"#,
                record(1),
                record(2),
                RecordId::from_uuid(uuid::Uuid::nil())
            ),
            Part,
        ),
        (format!(r#"owner_id = "{u0}""#), Part),
        (format!(r#"owner_id != "{u0}""#), Part),
        (format!(r#"owner_id in ("{u1}", "{u2}")"#), Part),
        (format!(r#"owner_id > "{u1}""#), Part),
        (format!(r#"created_at >= "{}""#, dt(at(3), 0)), Part),
        (format!(r#"created_at < "{}""#, dt(at(2), 0)), Part),
        (format!(r#"created_at = "{}""#, dt(at(2), 1)), Part),
        (
            format!(r#"created_at in ("{}", "{}")"#, dt(at(0), 0), dt(at(9), 0)),
            Part,
        ),
        (format!(r#"updated_at > "{}""#, dt(at(40), 0)), Part),
        (format!(r#"updated_at = "{}""#, dt(at(61), 0)), Part),
        (format!(r#"updated_at != "{}""#, dt(at(0), 0)), Part),
        // &&, ||, ! and unknown (absent) operands
        (r#"title ~ "a" && qty > 0"#.into(), Part),
        (r#"status = "open" || price > 50"#.into(), Part),
        ("!(qty = 1)".into(), Part),
        (r#"!(status = "open" || active = true)"#.into(), Part),
        ("!(note = null)".into(), Part),
        ("(qty > 0 || qty < 0) && !(active = false)".into(), Part),
        (
            r#"status = "open" && (note = null || score > 1)"#.into(),
            Part,
        ),
        ("!!(qty > 0)".into(), Part),
        ("qty > 0 || !(qty > 0)".into(), Part),
        ("!(qty > 0 && active = true)".into(), Part),
        ("!(qty > 0 || active = true)".into(), Part),
        (
            r#"price > 5 && price < 50 || status = null && !(due = null)"#.into(),
            Part,
        ),
        (
            format!(r#"owner_id = "{u0}" && (title ~ "a" || score < 0)"#),
            Part,
        ),
        (
            "qty = null && price = null || score = null && active = null".into(),
            Part,
        ),
    ];

    let total = fx.records.len();
    let mut tx = store.tenant(fx.tenant, Access::Read).await.unwrap();
    for (text, selects) in &table {
        let query = fx.query("", Some(text), None);
        let expected = reference::list(&fx.records, &query, None);
        let n = expected.len();
        let shape = match n {
            0 => Selects::None,
            n if n == total => Selects::All,
            _ => Selects::Some,
        };
        assert_eq!(
            shape, *selects,
            "{text}: the reference selects {n} of {total}"
        );
        let found = tx.list_records(ITEMS, &query).await.unwrap();
        assert_eq!(
            fx.names(&found),
            fx.names(&expected),
            "filter {text} (left: the store, right: the reference)"
        );
        assert_eq!(found, expected, "filter {text}: records differ");
    }
}

/// Orders the sort cases check, each with an optional filter and owner.
fn sort_table(fx: &Listing) -> Vec<(&'static str, Option<&'static str>, Option<UserId>)> {
    let every_field = [
        "",
        "title",
        "-title",
        "note",
        "-note",
        "qty",
        "-qty",
        "score",
        "-score",
        "price",
        "-price",
        "active",
        "-active",
        "due",
        "-due",
        "status",
        "-status",
        "parent",
        "-parent",
        "id",
        "-id",
        "owner_id",
        "-owner_id",
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
    ];
    let mut table: Vec<_> = every_field.into_iter().map(|s| (s, None, None)).collect();
    table.extend([
        ("status,-qty", None, None),
        ("active,-price,title", None, None),
        ("-note,created_at", None, None),
        ("-status,due,-id", None, None),
        ("id,title", None, None),
        ("-updated_at,title", Some("qty > 0 || note = null"), None),
        ("qty,title", Some(r#"status != "void""#), None),
        ("price", Some("price > 1"), None),
        ("-due", Some("active = true || active = false"), None),
        ("", None, Some(fx.owners[1])),
        (
            "-price,title",
            Some("price != null || note != null"),
            Some(fx.owners[0]),
        ),
        ("note,-status", None, Some(fx.owners[2])),
    ]);
    table
}

pub async fn record_sorts_and_keyset_pages_agree_with_the_reference_order(ts: &TestStore) {
    let store = &*ts.store;
    let fx = Listing::new(store).await;
    // Newest first by default, `id` descending among equal times.
    let default = fx.query("", None, None);
    let mut expected = fx.records.clone();
    expected.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    assert_eq!(
        fx.names(&list(store, fx.tenant, &default).await),
        fx.names(&expected)
    );
    // A limit cuts the list.
    let first_five = RecordQuery {
        limit: 5,
        ..default.clone()
    };
    assert_eq!(list(store, fx.tenant, &first_five).await, expected[..5]);

    for (sort, filter, owner) in sort_table(&fx) {
        let context = format!("sort {sort:?}, filter {filter:?}, owner {owner:?}");
        let query = fx.query(sort, filter, owner);
        let expected = reference::list(&fx.records, &query, None);
        assert!(!expected.is_empty(), "{context}: the table checks nothing");
        if let Some(owner) = owner {
            assert!(expected.iter().all(|r| r.owner_id == Some(owner)));
        }
        let found = list(store, fx.tenant, &query).await;
        assert_eq!(fx.names(&found), fx.names(&expected), "{context}");
        assert_eq!(found, expected, "{context}: records differ");

        // Keyset pages of 7, through encoded cursors, until an empty page.
        let order = query.order();
        let mut paged = Vec::new();
        let mut after = None;
        for page_number in 0.. {
            assert!(page_number <= N_ITEMS, "{context}: paging does not end");
            let page_query = RecordQuery {
                after: after.clone(),
                limit: 7,
                ..query.clone()
            };
            let page = list(store, fx.tenant, &page_query).await;
            assert!(page.len() <= 7, "{context}: page of {}", page.len());
            let Some(last) = page.last() else { break };
            let cursor = Cursor::after_record(last, &order);
            let decoded = Cursor::decode(&cursor.encode(), &order);
            assert_eq!(decoded.as_ref(), Some(&cursor), "{context}");
            after = decoded;
            paged.extend(page);
        }
        assert_eq!(
            fx.names(&paged),
            fx.names(&expected),
            "{context}: pages (left) against the whole list (right)"
        );
    }
}

/// One write between two pages: a new record, a deleted one (sometimes the
/// very record the cursor was made from) and a changed one.
async fn churn(
    store: &dyn Store,
    fx: &mut Listing,
    step: usize,
    cursor_record: RecordId,
    touched: &mut BTreeSet<RecordId>,
) {
    let mut tx = store.tenant(fx.tenant, Access::Write).await.unwrap();
    let data = fx.random_data();
    let owner = fx.random_owner();
    let id = fixtures::seeded_id(&mut fx.rng);
    let created_at = fx.tick();
    let created = tx
        .insert_record(fixtures::record(ITEMS, id, owner, data, &[], created_at))
        .await
        .unwrap();
    fx.records.push(created);

    let doomed = if step % 3 == 1 && fx.records.iter().any(|r| r.id == cursor_record) {
        cursor_record
    } else {
        fx.records[fx.rng.gen_range(0..fx.records.len())].id
    };
    expect_done(tx.delete_record(ITEMS, doomed, None).await.unwrap());
    fx.records.retain(|r| r.id != doomed);
    touched.insert(doomed);

    let i = fx.rng.gen_range(0..fx.records.len());
    let data = fx.random_data();
    let changed_at = fx.tick();
    let target = &fx.records[i];
    let changed = expect_done(
        tx.update_record(RecordChange {
            collection: ITEMS.into(),
            id: target.id,
            expected_version: Some(target.version),
            data,
            unique_values: Vec::new(),
            at: changed_at,
        })
        .await
        .unwrap(),
    );
    touched.insert(changed.id);
    fx.records[i] = changed;
    tx.commit().await.unwrap();
}

pub async fn keyset_pages_stay_exact_while_records_change(ts: &TestStore) {
    let store = &*ts.store;
    let mut fx = Listing::new(store).await;
    let owner = fx.owners[0];
    let cases: [(&str, Option<&str>, Option<UserId>); 5] = [
        ("qty", None, None),
        (
            "-price,title",
            Some(r#"status != "void" || price = null"#),
            None,
        ),
        ("", None, None),
        ("note,-due", None, None),
        ("-updated_at", None, Some(owner)),
    ];
    for (sort, filter, owner) in cases {
        let context = format!("sort {sort:?}, filter {filter:?}, owner {owner:?}");
        let query = fx.query(sort, filter, owner);
        let order = query.order();
        let at_start = ids(&reference::list(&fx.records, &query, None));
        let mut touched = BTreeSet::new();
        let mut seen: Vec<RecordId> = Vec::new();
        let mut after: Option<Cursor> = None;
        let mut after_key: Option<Key> = None;
        for step in 0.. {
            assert!(step <= 2 * N_ITEMS, "{context}: paging does not end");
            let page_query = RecordQuery {
                after: after.clone(),
                limit: 7,
                ..query.clone()
            };
            let page = list(store, fx.tenant, &page_query).await;
            // Exactly the first 7 records after the cursor's position in
            // the data as it is now.
            let expected = reference::list(&fx.records, &page_query, after_key.as_ref());
            assert_eq!(
                fx.names(&page),
                fx.names(&expected),
                "{context}, page {step}"
            );
            assert_eq!(page, expected, "{context}, page {step}: records differ");
            let Some(last) = page.last() else { break };
            after_key = Some(reference::key(last, &order));
            let cursor = Cursor::after_record(last, &order);
            after = Some(Cursor::decode(&cursor.encode(), &order).unwrap());
            seen.extend(ids(&page));
            let last_id = last.id;
            churn(store, &mut fx, step, last_id, &mut touched).await;
        }
        // Records there throughout and never changed show up exactly once;
        // only changed ones may move past the cursor (either way).
        for id in &at_start {
            if !touched.contains(id) {
                let n = seen.iter().filter(|seen| *seen == id).count();
                assert_eq!(n, 1, "{context}: an unchanged record seen {n} times");
            }
        }
        let mut distinct = BTreeSet::new();
        for id in &seen {
            assert!(
                distinct.insert(*id) || touched.contains(id),
                "{context}: an unchanged record seen twice"
            );
        }
    }
}
