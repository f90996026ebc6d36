//! On a Citus cluster only (`BULKHEAD_TEST_CITUS_URL`): row-level security
//! holds on the workers themselves, shard by shard, where a query that
//! bypasses the coordinator would land.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use bulkhead_store::{Store, TenantTable};
use sqlx::{Connection, PgConnection};

use crate::rls::seed;
use crate::server::{citus, node_url};
use crate::support::{APP_ROLE, TestDatabase};
use crate::urls::with_user_and_database;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_every_shard_the_runtime_role_sees_only_the_tenant_it_names() {
    if !citus() {
        return;
    }
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(2).await;
    let (a, _b) = seed(&store).await;
    let shards: Vec<(String, String, String, i32)> = sqlx::query_as(
        "SELECT table_name::text, shard_name::text, nodename::text, nodeport
         FROM citus_shards WHERE citus_table_type = 'distributed' ORDER BY shard_name",
    )
    .fetch_all(&mut database.owner().await)
    .await
    .unwrap();
    for table in TenantTable::names() {
        assert!(
            shards.iter().any(|(t, ..)| t == table),
            "{table} is not distributed"
        );
    }

    // One connection per worker as the superuser and one as the runtime
    // role, both straight to the worker, in this test's database.
    let mut connections: HashMap<(String, i32), (PgConnection, PgConnection)> = HashMap::new();
    let mut rows_of_a = 0;
    for (table, shard, host, port) in &shards {
        if let Entry::Vacant(vacant) = connections.entry((host.clone(), *port)) {
            let node = node_url(&database.admin_url, host, *port);
            let superuser =
                PgConnection::connect(&with_user_and_database(&node, None, &database.name))
                    .await
                    .unwrap();
            let app = PgConnection::connect(&with_user_and_database(
                &node,
                Some(APP_ROLE),
                &database.name,
            ))
            .await
            .unwrap();
            vacant.insert((superuser, app));
        }
        let (superuser, app) = connections.get_mut(&(host.clone(), *port)).unwrap();
        let of_a: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {shard} WHERE tenant_id = '{a}'"
        ))
        .fetch_one(&mut *superuser)
        .await
        .unwrap();
        rows_of_a += of_a;

        let unset: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {shard}"))
            .fetch_one(&mut *app)
            .await
            .unwrap();
        assert_eq!(unset, 0, "{table} ({shard}) without a tenant");

        let mut tx = app.begin().await.unwrap();
        sqlx::raw_sql(&format!("SET LOCAL bulkhead.tenant_id = '{a}'"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let seen: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {shard}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen, of_a, "{table} ({shard}) as tenant a");
        tx.rollback().await.unwrap();
    }
    assert!(
        rows_of_a >= TenantTable::ALL.len() as i64,
        "the seed reached every table"
    );
    drop(connections);
    store.close().await;
    database.drop_database().await;
}
