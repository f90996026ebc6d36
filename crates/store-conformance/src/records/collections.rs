//! Collections: created, read, listed, updated and deleted, with their
//! names unique within a tenant and owner lists that follow visibility.

use bulkhead_domain::{RecordId, UserId};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::{expect_conflict, expect_done, orders_schema, orders_schema_named, people_schema};
use crate::TestStore;
use crate::fixtures::{self, at};
use bulkhead_store::{Access, ConflictKind, Record, RecordQuery, StoreError, TenantTx, Write};

/// The names of the tenant's collections, in the order listed.
async fn collection_names(tx: &mut dyn TenantTx) -> Vec<String> {
    let collections = tx.list_collections().await.unwrap();
    collections.into_iter().map(|c| c.name).collect()
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
    let names = collection_names(&mut *tx).await;
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
    let names = collection_names(&mut *tx).await;
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
