//! Group commit: concurrent write transactions share one SQLite commit, each
//! is acknowledged only once that commit returned, and one transaction's
//! rollback or abandonment never touches the others.
//!
//! These run on a current-thread runtime, so "queued for the writer" is
//! reached deterministically: a spawned task runs up to its first wait when
//! the test yields.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::time::Duration;

use bulkhead_store::Store;
use bulkhead_store_conformance::fixtures::{new_tenant, t0};
use bulkhead_store_sqlite::SqliteStore;

/// Tenant slugs committed, read through a connection of its own (what a
/// new process would see after the commits returned).
fn committed_slugs(path: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT slug FROM tenants ORDER BY slug")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Lets every spawned task run until it waits (for the writer).
async fn let_spawned_tasks_queue() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

fn open() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    (dir, path, store)
}

#[tokio::test]
async fn writers_queued_together_share_one_commit_and_each_is_durable_when_acknowledged() {
    let (_dir, path, store) = open();
    let before = store.group_commits().await;
    // Hold the writer so the others queue behind it.
    let first = store.create_tenant(new_tenant("first")).await.unwrap();
    let mut writers = Vec::new();
    for n in 0..10 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let tx = store
                .create_tenant(new_tenant(&format!("queued-{n:02}")))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            // Acknowledged: a fresh connection must see it now.
            assert!(
                committed_slugs(store.path()).contains(&format!("queued-{n:02}")),
                "queued-{n:02} acknowledged before it was committed"
            );
        }));
    }
    let_spawned_tasks_queue().await;
    first.commit().await.unwrap();
    assert!(committed_slugs(&path).contains(&"first".to_owned()));
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        store.group_commits().await - before,
        1,
        "eleven queued transactions, one commit"
    );
    assert_eq!(committed_slugs(&path).len(), 11);
}

#[tokio::test]
async fn a_rolled_back_member_leaves_the_rest_of_its_group_committed() {
    let (_dir, path, store) = open();
    let first = store.create_tenant(new_tenant("kept-a")).await.unwrap();
    let doomed = {
        let store = store.clone();
        tokio::spawn(async move {
            let tx = store.create_tenant(new_tenant("doomed")).await.unwrap();
            drop(tx); // rolled back, between two members of the same group
        })
    };
    let kept = {
        let store = store.clone();
        tokio::spawn(async move {
            let tx = store.create_tenant(new_tenant("kept-b")).await.unwrap();
            tx.commit().await.unwrap();
        })
    };
    let_spawned_tasks_queue().await;
    first.commit().await.unwrap();
    doomed.await.unwrap();
    kept.await.unwrap();
    assert_eq!(committed_slugs(&path), ["kept-a", "kept-b"]);
}

#[tokio::test]
async fn a_failed_member_does_not_fail_its_group() {
    let (_dir, path, store) = open();
    let first = store.create_tenant(new_tenant("taken")).await.unwrap();
    let failing = {
        let store = store.clone();
        tokio::spawn(async move {
            // The same slug again: refused inside the group.
            store.create_tenant(new_tenant("taken")).await.err()
        })
    };
    let_spawned_tasks_queue().await;
    first.commit().await.unwrap();
    assert!(failing.await.unwrap().is_some());
    let later = store.create_tenant(new_tenant("later")).await.unwrap();
    later.commit().await.unwrap();
    assert_eq!(committed_slugs(&path), ["later", "taken"]);
}

#[tokio::test]
async fn a_commit_whose_caller_stopped_waiting_is_still_committed() {
    let (_dir, path, store) = open();
    let tx = store.create_tenant(new_tenant("abandoned")).await.unwrap();
    // Polled once (the savepoint is released into the group), then dropped,
    // as when a client disconnects while its request waits for the disk.
    tokio::select! {
        biased;
        _ = tx.commit() => panic!("a lone commit cannot finish before its flusher ran"),
        () = std::future::ready(()) => {}
    }
    // The flusher that commit started runs without its caller.
    let next = store.create_tenant(new_tenant("next")).await.unwrap();
    next.commit().await.unwrap();
    assert_eq!(committed_slugs(&path), ["abandoned", "next"]);
}

#[tokio::test]
async fn closing_commits_what_is_pending() {
    let (_dir, path, store) = open();
    let tx = store.create_tenant(new_tenant("pending")).await.unwrap();
    tokio::select! {
        biased;
        _ = tx.commit() => panic!("a lone commit cannot finish before its flusher ran"),
        () = std::future::ready(()) => {}
    }
    store.close().await;
    assert_eq!(committed_slugs(&path), ["pending"]);
}

/// Another process writing the same file holds SQLite's write lock: a write
/// of the store waits for it (up to the busy timeout) instead of failing with
/// BUSY, and goes through once the lock is released. Multi-threaded, as the
/// store runs: only there does the wait hand its worker off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_another_process_holding_the_write_lock() {
    let (_dir, path, store) = open();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut writer = tokio::spawn({
        let store = store.clone();
        async move {
            let tx = store.create_tenant(new_tenant("after-the-other")).await?;
            tx.commit().await
        }
    });
    // While the other holds the lock the write cannot finish, neither with
    // success nor with an error: an error here is the bug this looks for.
    let unfinished = tokio::time::timeout(Duration::from_millis(200), &mut writer).await;
    assert!(
        unfinished.is_err(),
        "finished under another's lock: {unfinished:?}"
    );
    other.execute_batch("COMMIT").unwrap();
    writer.await.unwrap().unwrap();
    assert!(committed_slugs(&path).contains(&"after-the-other".to_owned()));
}
