//! Losing the server's connections and getting them back: what the store
//! tells its listeners, and that no request inherits a dead pooled
//! connection. The connections are ended with `pg_terminate_backend`, as an
//! administrator (or a server restart) would end them; the server itself
//! keeps running, since other tests share it.

use std::sync::Arc;
use std::time::Duration;

use bulkhead_domain::UserId;
use bulkhead_store::{Access, Invalidation, Notice, Store};
use sqlx::PgConnection;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::{APP_ROLE, TestDatabase};

/// Far beyond the listener's reconnect backoff: a bound on a hang, not a
/// measure of speed.
const PATIENCE: Duration = Duration::from_secs(20);

fn notices(store: &dyn Store) -> UnboundedReceiver<Notice> {
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    store.on_notice(Arc::new(move |notice| {
        let _ = sender.send(notice);
    }));
    received
}

/// Waits for `wanted`, returning the notices that came before it.
async fn until(received: &mut UnboundedReceiver<Notice>, wanted: Notice) -> Vec<Notice> {
    let mut before = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        loop {
            match received.recv().await {
                Some(notice) if notice == wanted => return,
                Some(notice) => before.push(notice),
                None => panic!("the store dropped its listeners"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within {PATIENCE:?}; got {before:?}"));
    before
}

/// Ends every connection the runtime role has to `database`, the
/// invalidation listener's included; returns how many there were.
async fn terminate_app_connections(owner: &mut PgConnection, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = $1 AND usename = $2",
    )
    .bind(database)
    .bind(APP_ROLE)
    .fetch_one(owner)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_connection_interrupts_until_listen_is_back() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(2).await;
    let mut received = notices(&store);
    let mut owner = database.owner().await;

    assert!(terminate_app_connections(&mut owner, &database.name).await >= 1);
    until(&mut received, Notice::Interrupted).await;
    until(&mut received, Notice::Resumed).await;

    // LISTEN is back: a commit made now reaches this process.
    let user = UserId::new();
    sqlx::query("SELECT pg_notify('bulkhead_invalidation', $1)")
        .bind(Invalidation::User(user).encode())
        .execute(&mut owner)
        .await
        .unwrap();
    let before = until(&mut received, Notice::Invalidated(Invalidation::User(user))).await;
    assert!(
        !before.contains(&Notice::Interrupted),
        "interrupted again: {before:?}"
    );
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_transaction_gets_a_connection_that_died_while_pooled() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    const N: usize = 8;
    let store = database.store(N as u32).await;
    let mut received = notices(&store);
    // Fill the pool: N transactions open at once need N connections.
    let mut open = Vec::new();
    for _ in 0..N {
        open.push(store.platform(Access::Read).await.unwrap());
    }
    drop(open);

    let mut owner = database.owner().await;
    assert!(terminate_app_connections(&mut owner, &database.name).await > N as i64);
    until(&mut received, Notice::Resumed).await;

    let attempts = (0..N).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.platform(Access::Read).await?;
            let keys = tx.signing_keys().await?;
            tx.commit().await?;
            Ok::<_, bulkhead_store::StoreError>(keys.len())
        })
    });
    let mut failures = Vec::new();
    for attempt in attempts {
        if let Err(error) = attempt.await.unwrap() {
            failures.push(error.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {N} failed: {failures:?}",
        failures.len()
    );
    store.close().await;
    database.drop_database().await;
}
