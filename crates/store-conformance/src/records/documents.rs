//! Records: created, read, updated and deleted with versions, and their
//! documents stored and read back to the byte.

use bulkhead_domain::{
    CollectionName, CollectionSchema, FieldType, RecordId, UserId, Visibility, WriteMode,
    validate_record,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::{expect_conflict, expect_done, field, people_schema, text};
use crate::TestStore;
use crate::fixtures::{self, at};
use bulkhead_store::{
    Access, ConflictKind, Document, NewRecord, Record, RecordChange, RecordQuery, Write,
};

/// A record of `owner`, without unique values, written at minute 1.
fn owned(collection: &str, id: RecordId, owner: UserId, data: Value) -> NewRecord {
    fixtures::record(collection, id, Some(owner), data, &[], at(1))
}

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
        .insert_record(owned("notes", id, owner.id, data.clone()))
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
            .insert_record(owned(
                "docs",
                fixtures::seeded_id(&mut rng),
                owner.id,
                data.clone(),
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
