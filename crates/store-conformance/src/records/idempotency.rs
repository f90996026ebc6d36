//! Idempotency keys: the first answer replayed, a key claimed once
//! however many writers race for it, a claim in flight seen as such, and
//! the retention sweep.

use std::sync::Arc;
use std::time::Duration;

use bulkhead_domain::RecordId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::{acme_with_orders, expect_conflict, orders_schema};
use crate::TestStore;
use crate::fixtures::{self, at, hash_of};
use bulkhead_domain::TenantId;
use bulkhead_store::{
    Access, Backend, ConflictKind, IdempotencyClaim, RecordQuery, Store, StoreError,
};

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
    Replayed {
        status: u16,
        body: Value,
    },
    /// Only on PostgreSQL, for a racer that claimed while the creator's
    /// transaction was open.
    InFlight,
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
                IdempotencyClaim::InFlight => ClaimOutcome::InFlight,
                IdempotencyClaim::Mismatch => panic!("task {i}: the same request mismatched"),
            }
        }
    })
    .await;
    let mut created = Vec::new();
    let mut replayed = Vec::new();
    let mut n_in_flight = 0;
    for outcome in outcomes {
        match outcome {
            ClaimOutcome::Created(id) => created.push(id),
            ClaimOutcome::Replayed { status, body } => replayed.push((status, body)),
            ClaimOutcome::InFlight => n_in_flight += 1,
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    if store.backend() == Backend::Sqlite {
        assert_eq!(n_in_flight, 0, "SQLite runs one writer at a time");
    }
    let answer = (201, json!({"id": created[0].to_string()}));
    assert_eq!(replayed, vec![answer.clone(); n_tasks - 1 - n_in_flight]);
    // Every racer told to come back later now gets the one answer.
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("create-order", &hash_of("same body"), at(2))
            .await
            .unwrap(),
        IdempotencyClaim::Replay {
            status: answer.0,
            body: answer.1
        }
    );
    drop(tx);
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

pub async fn a_key_claimed_by_an_open_transaction_is_in_flight(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let acme = fixtures::tenant(&*store, "acme", &owner).await.id;
    let body = json!({"id": "first"});

    let mut first = store.tenant(acme, Access::Write).await.unwrap();
    assert_eq!(
        first
            .claim_idempotency_key("key-1", &hash_of("request-1"), at(1))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    first
        .complete_idempotency_key("key-1", 201, &body)
        .await
        .unwrap();
    match store.backend() {
        Backend::Postgres => {
            // The first request's answer is not committed: neither a replay
            // nor a mismatch can be told yet, and the second does not wait.
            let mut second = store.tenant(acme, Access::Write).await.unwrap();
            for request in ["request-1", "request-2"] {
                assert_eq!(
                    second
                        .claim_idempotency_key("key-1", &hash_of(request), at(1))
                        .await
                        .unwrap(),
                    IdempotencyClaim::InFlight,
                    "{request}"
                );
            }
            // Other keys are not held up, and the transaction is usable.
            assert_eq!(
                second
                    .claim_idempotency_key("key-2", &hash_of("request-1"), at(1))
                    .await
                    .unwrap(),
                IdempotencyClaim::New
            );
            second
                .complete_idempotency_key("key-2", 202, &body)
                .await
                .unwrap();
            second.commit().await.unwrap();
            first.commit().await.unwrap();
        }
        Backend::Sqlite => {
            // One writer at a time: the second write transaction does not
            // begin until the first has ended, so its claim sees the
            // committed answer and in-flight is never observed.
            let second = tokio::spawn({
                let store = Arc::clone(&store);
                async move {
                    let mut second = store.tenant(acme, Access::Write).await.unwrap();
                    let claim = second
                        .claim_idempotency_key("key-1", &hash_of("request-1"), at(1))
                        .await
                        .unwrap();
                    second.commit().await.unwrap();
                    claim
                }
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                !second.is_finished(),
                "a second write transaction began while the first was open"
            );
            first.commit().await.unwrap();
            assert_eq!(
                second.await.unwrap(),
                IdempotencyClaim::Replay {
                    status: 201,
                    body: body.clone()
                }
            );
        }
    }
    // Once the first has committed, its answer is replayed.
    let mut tx = store.tenant(acme, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-1", &hash_of("request-1"), at(2))
            .await
            .unwrap(),
        IdempotencyClaim::Replay { status: 201, body }
    );
    assert_eq!(
        tx.claim_idempotency_key("key-1", &hash_of("request-2"), at(2))
            .await
            .unwrap(),
        IdempotencyClaim::Mismatch
    );
    drop(tx);

    // A claim whose transaction is rolled back frees the key for the next.
    let mut first = store.tenant(acme, Access::Write).await.unwrap();
    assert_eq!(
        first
            .claim_idempotency_key("key-3", &hash_of("request-3"), at(3))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    drop(first);
    let mut tx = store.tenant(acme, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("key-3", &hash_of("request-4"), at(3))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
}

pub async fn idempotency_keys_older_than_the_cutoff_are_swept_oldest_first(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await.id;
    let globex = fixtures::tenant(store, "globex", &owner).await.id;
    // Claimed out of order, so "oldest first" is not insertion order.
    let acme_keys = [("k-3", 3), ("k-1", 1), ("k-10", 10), ("k-2", 2)];
    let mut tx = store.tenant(acme, Access::Write).await.unwrap();
    for (key, minute) in acme_keys {
        tx.claim_idempotency_key(key, &hash_of(key), at(minute))
            .await
            .unwrap();
        tx.complete_idempotency_key(key, 201, &json!({"key": key}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.tenant(globex, Access::Write).await.unwrap();
    tx.claim_idempotency_key("k-1", &hash_of("k-1"), at(1))
        .await
        .unwrap();
    tx.complete_idempotency_key("k-1", 201, &json!({"key": "k-1"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let sweep = |tenant: TenantId, before: i64, limit: u32| async move {
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        let n = tx.sweep_idempotency_keys(at(before), limit).await.unwrap();
        tx.commit().await.unwrap();
        n
    };
    // At most `limit`, the oldest first.
    assert_eq!(sweep(acme, 5, 2).await, 2);
    assert_eq!(
        kept(store, acme, &["k-1", "k-2", "k-3", "k-10"]).await,
        [false, false, true, true]
    );
    // Only keys older than the cutoff: one created at it is kept.
    assert_eq!(sweep(acme, 10, 100).await, 1);
    assert_eq!(sweep(acme, 10, 100).await, 0);
    assert_eq!(
        kept(store, acme, &["k-1", "k-2", "k-3", "k-10"]).await,
        [false, false, false, true]
    );
    // Only this tenant's: globex's key as old as acme's first is still there.
    assert_eq!(kept(store, globex, &["k-1"]).await, [true]);
    // A swept key is free for a new request.
    let mut tx = store.tenant(acme, Access::Write).await.unwrap();
    assert_eq!(
        tx.claim_idempotency_key("k-1", &hash_of("another request"), at(20))
            .await
            .unwrap(),
        IdempotencyClaim::New
    );
    drop(tx);
    assert_eq!(sweep(globex, 60, 100).await, 1);
    assert_eq!(kept(store, globex, &["k-1"]).await, [false]);
    assert_eq!(
        kept(store, acme, &["k-10"]).await,
        [true],
        "sweeping globex left acme alone"
    );
}

/// Whether each key (claimed with its own name as the request) still holds
/// its answer; asked in a transaction that is rolled back.
async fn kept(store: &dyn Store, tenant: TenantId, keys: &[&str]) -> Vec<bool> {
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    let mut found = Vec::new();
    for key in keys {
        let claim = tx
            .claim_idempotency_key(key, &hash_of(key), at(30))
            .await
            .unwrap();
        found.push(match claim {
            IdempotencyClaim::Replay { status: 201, body } => {
                assert_eq!(body, json!({"key": key}));
                true
            }
            IdempotencyClaim::New => false,
            other => panic!("{key}: {other:?}"),
        });
    }
    drop(tx);
    found
}
