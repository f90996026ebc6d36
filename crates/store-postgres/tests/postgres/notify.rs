//! Invalidations across server processes: two stores on one database stand
//! in for two server processes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkhead_domain::{TenantId, UserId};
use bulkhead_store::{Access, Invalidation, Notice, Store};
use bulkhead_store_postgres::PgStore;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::TestDatabase;

/// Two stores on the database, the sender and the receiver, and what the
/// receiver hears: each invalidation and when it arrived.
async fn two_processes(
    database: &TestDatabase,
) -> (PgStore, PgStore, UnboundedReceiver<(Invalidation, Instant)>) {
    let receiver_store = database.store(2).await;
    let sender_store = database.store(2).await;
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    receiver_store.on_notice(Arc::new(move |notice| {
        if let Notice::Invalidated(invalidation) = notice {
            let _ = sender.send((invalidation, Instant::now()));
        }
    }));
    (sender_store, receiver_store, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_committed_by_one_process_reaches_the_other() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let (sender_store, receiver_store, mut received) = two_processes(&database).await;

    let mut latencies = Vec::new();
    for _ in 0..50 {
        let user = UserId::new();
        let mut tx = sender_store.platform(Access::Write).await.unwrap();
        tx.invalidate(Invalidation::User(user));
        let committing = Instant::now();
        tx.commit().await.unwrap();
        let arrived = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match received.recv().await {
                    Some((Invalidation::User(id), at)) if id == user => return at,
                    Some(_) => continue,
                    None => panic!("listener gone"),
                }
            }
        })
        .await
        .expect("the other process never heard of the commit");
        latencies.push(arrived.saturating_duration_since(committing));
    }
    latencies.sort();
    // A figure for the notes, not an assertion: how stale another process
    // can be after a commit returns.
    eprintln!(
        "cross-process invalidation latency over {} commits: median {:?}, max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    receiver_store.close().await;
    sender_store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_transaction_tells_no_other_process() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let (sender_store, receiver_store, mut received) = two_processes(&database).await;
    let ghost = Invalidation::User(UserId::new());
    let mut tx = sender_store.platform(Access::Write).await.unwrap();
    tx.invalidate(ghost);
    drop(tx);
    // A committed marker after the rollback: once it arrives, anything the
    // rolled-back transaction could have sent would have arrived before it.
    let marker = Invalidation::User(UserId::new());
    let mut tx = sender_store.platform(Access::Write).await.unwrap();
    tx.invalidate(marker);
    tx.commit().await.unwrap();
    let mut before_marker = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some((invalidation, _)) = received.recv().await {
            if invalidation == marker {
                break;
            }
            before_marker.push(invalidation);
        }
    })
    .await
    .unwrap();
    assert!(!before_marker.contains(&ghost));
    receiver_store.close().await;
    sender_store.close().await;
    database.drop_database().await;
}

/// Realtime wake-ups go out after the commit, batched by a task of the
/// sending process, not with the commit: every committed one still reaches
/// the other process (each tenant at least once, a batch may merge them),
/// and a rolled-back transaction's never does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_ups_reach_the_other_process_once_committed() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let (sender_store, receiver_store, mut received) = two_processes(&database).await;
    let sender_store = Arc::new(sender_store);
    let tenants: Vec<TenantId> = (0..10).map(|_| TenantId::new()).collect();
    let ghost = TenantId::new();
    let mut tx = sender_store.platform(Access::Write).await.unwrap();
    tx.invalidate(Invalidation::RecordEvents(ghost));
    drop(tx);
    // Four writers at once, ten commits each, cycling through the tenants.
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let store = Arc::clone(&sender_store);
            let tenants = tenants.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let mut tx = store.platform(Access::Write).await.unwrap();
                    tx.invalidate(Invalidation::RecordEvents(tenants[(writer + i) % 10]));
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut woken = HashSet::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while woken.len() < tenants.len() {
            match received.recv().await {
                Some((Invalidation::RecordEvents(tenant), _)) => {
                    assert_ne!(tenant, ghost, "a rolled-back transaction woke a process");
                    woken.insert(tenant);
                }
                Some(_) => continue,
                None => panic!("listener gone"),
            }
        }
    })
    .await
    .expect("a committed wake-up never reached the other process");
    assert_eq!(woken, tenants.iter().copied().collect::<HashSet<_>>());
    receiver_store.close().await;
    sender_store.close().await;
    database.drop_database().await;
}
