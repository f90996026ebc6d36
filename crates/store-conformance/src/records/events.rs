//! Record events: numbered by their audit entries, and apart under
//! concurrent writers.

use std::sync::Arc;

use bulkhead_domain::RecordId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::{acme_with_orders, expect_conflict, expect_done, orders_schema};
use crate::TestStore;
use crate::fixtures::{self, at};
use bulkhead_store::{Access, ConflictKind, EventKind, Record, StoreError};

/// Appends `event` as a record change, with the audit entry the service
/// would write for it.
async fn append_change(
    tx: &mut dyn bulkhead_store::TenantTx,
    event: bulkhead_store::NewRecordEvent,
) -> bulkhead_store::RecordEvent {
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
    let expected_first = bulkhead_store::RecordEvent {
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
    let tenant = acme_with_orders(&*store).await;
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let base = tx.record_event_position().await.unwrap();
    drop(tx);
    let n_tasks = 8;
    let mut rng = StdRng::seed_from_u64(8);
    let results = fixtures::all_at_once(n_tasks, |i| {
        let store = Arc::clone(&store);
        let record_id: RecordId = fixtures::seeded_id(&mut rng);
        async move {
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
        }
    })
    .await;
    let mut all = Vec::new();
    for seqs in results {
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
