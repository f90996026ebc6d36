//! Unique values: enforced per tenant, collection and field.

use bulkhead_domain::RecordId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::{expect_conflict, expect_done, people_schema};
use crate::TestStore;
use crate::fixtures::{self, at};
use bulkhead_store::{Access, ConflictKind, RecordChange, StoreError, TenantTx};

/// Which record of `people` holds `value` of `field`.
async fn holder(tx: &mut dyn TenantTx, field: &str, value: &str) -> Option<RecordId> {
    tx.unique_value_holder("people", field, value)
        .await
        .unwrap()
}

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
    let mut person = |email: &str, handle: Option<&str>| {
        let id = fixtures::seeded_id(&mut rng);
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
        .insert_record(person("ada@example.com", Some("ada")))
        .await
        .unwrap();
    // Records that lack the optional unique field do not collide.
    for email in ["x@example.com", "y@example.com"] {
        tx.insert_record(person(email, None)).await.unwrap();
    }
    // The same text in another field, in another case, in another
    // collection: none is the value taken.
    tx.insert_record(person("ada", Some("ada@example.com")))
        .await
        .unwrap();
    let upper_case = tx
        .insert_record(person("Ada@example.com", Some("Ada")))
        .await
        .unwrap();
    let mut team = person("ada@example.com", Some("ada"));
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
            .insert_record(person("before@example.com", None))
            .await
            .unwrap();
        expect_conflict(
            tx.insert_record(person(email, handle)).await,
            ConflictKind::UniqueValue,
        );
        let error = tx.commit().await.unwrap_err();
        assert!(matches!(error, StoreError::TransactionAborted), "{error:?}");
        let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
        assert!(tx.record("people", before.id).await.unwrap().is_none());
        assert!(
            holder(&mut *tx, "email", "before@example.com")
                .await
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
    assert!(holder(&mut *tx, "email", "ada@example.com").await.is_none());
    assert_eq!(
        holder(&mut *tx, "email", "ada@new.example").await,
        Some(ada.id)
    );
    assert_eq!(holder(&mut *tx, "handle", "ada").await, Some(ada.id));
    let successor = tx
        .insert_record(person("ada@example.com", None))
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
    assert!(holder(&mut *tx, "handle", "ada").await.is_none());
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
    assert!(holder(&mut *tx, "email", "ada@new.example").await.is_none());
    let reuse = tx
        .insert_record(person("ada@new.example", Some("ada")))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Another tenant: the same values are free, and its holders are its own.
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    assert!(holder(&mut *tx, "email", "ada@new.example").await.is_none());
    let theirs = tx
        .insert_record(person("ada@new.example", Some("ada")))
        .await
        .unwrap();
    assert_eq!(holder(&mut *tx, "handle", "ada").await, Some(theirs.id));
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(holder(&mut *tx, "handle", "ada").await, Some(reuse.id));
}
