//! Idempotency keys: the first answer replayed, and a key claimed once
//! however many writers race for it.

use std::sync::Arc;

use bulkhead_domain::RecordId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::{acme_with_orders, expect_conflict, orders_schema};
use crate::TestStore;
use crate::fixtures::{self, at, hash_of};
use bulkhead_store::{Access, ConflictKind, IdempotencyClaim, RecordQuery, StoreError};

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
    let tenant = acme_with_orders(&*store).await;

    let n_tasks = 16;
    let mut rng = StdRng::seed_from_u64(16);
    let outcomes = fixtures::all_at_once(n_tasks, |i| {
        let store = Arc::clone(&store);
        let id: RecordId = fixtures::seeded_id(&mut rng);
        async move {
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
        }
    })
    .await;
    let mut created = Vec::new();
    let mut replayed = Vec::new();
    for outcome in outcomes {
        match outcome {
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
