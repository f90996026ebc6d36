//! A transaction whose caller goes away while its BEGIN is in flight must
//! not leave the connection inside that transaction for the next borrower.
//! An HTTP handler is dropped at whatever await it is in when its client
//! disconnects, so under load this happens at every BEGIN sooner or later
//! (sqlx 0.8.6 leaves the session in the transaction: transact-rs/sqlx#4393;
//! the next borrower's writes then fail with "cannot execute INSERT in a
//! read-only transaction").

use bulkhead_store::{Access, Store};
use bulkhead_store_conformance::fixtures::{new_tenant, t0};
use futures_util::FutureExt as _;

use crate::support::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_abandoned_while_it_begins_leaves_nothing_open_behind() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    // One connection: every transaction below gets the one the abandoned
    // BEGIN was sent on.
    let store = database.store(1).await;
    let tenant = new_tenant("acme");
    let id = tenant.id;
    store
        .create_tenant(tenant)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    for round in 0..300 {
        // Abandoned after 1 to 3 polls, with a yield between them, so that
        // some rounds drop it with BEGIN on the wire and its answer unread.
        {
            let begin = store.tenant(id, Access::Read);
            tokio::pin!(begin);
            for _ in 0..=(round % 3) {
                if begin.as_mut().now_or_never().is_some() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        // The next transaction on that connection is a write of its own.
        let mut tx = store.tenant(id, Access::Write).await.unwrap();
        let renamed = tx.rename_tenant(&format!("round {round}"), t0()).await;
        assert!(renamed.is_ok(), "round {round}: {renamed:?}");
        tx.commit().await.unwrap();
    }
    store.close().await;
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut database.owner().await)
    .await
    .unwrap();
    assert_eq!(open, 0, "sessions left inside a transaction");
    database.drop_database().await;
}
