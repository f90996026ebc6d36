//! The store conformance suite on SQLite, plus SQLite-only checks.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::sync::Arc;

use bulkhead_store::conformance::TestStore;
use bulkhead_store::conformance::fixtures::{self, t0};
use bulkhead_store::{Access, Store};
use bulkhead_store_sqlite::SqliteStore;

/// Tables with a `tenant_id` column, from SQLite's own catalog.
fn tenant_tables(path: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn fresh() -> Option<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    let tables = tenant_tables(&path);
    Some(TestStore::new(Arc::new(store), tables).with_cleanup(async move { drop(dir) }))
}

bulkhead_store::conformance_suite!(fresh);

fn raw(path: &Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch("PRAGMA foreign_keys = ON")
        .unwrap();
    connection
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pooled_connection_has_the_durability_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    // A write transaction uses the writer; several concurrent reads open
    // fresh reader connections.
    let owner = fixtures::user(&store, "owner@example.com").await;
    let tenant = fixtures::tenant(&store, "acme", &owner).await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(store.tenant(tenant.id, Access::Read).await.unwrap());
    }
    drop(readers);
    // The profile is per connection: check it the way the store opens them.
    for role in ["writer", "reader"] {
        let connection =
            bulkhead_store_sqlite::open_for_inspection(&path, role == "reader").unwrap();
        let journal: String = connection
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let synchronous: i64 = connection
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        let foreign_keys: i64 = connection
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        let busy: i64 = connection
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal", "{role}");
        assert_eq!(synchronous, 2, "{role}: synchronous must be FULL");
        assert_eq!(foreign_keys, 1, "{role}");
        assert!(busy >= 1000, "{role}");
    }
    store.close().await;
    let violations: i64 = raw(&path)
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
}

#[tokio::test]
async fn opening_twice_applies_no_migration_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    store.close().await;
    let store = SqliteStore::open(&path, t0()).unwrap();
    store.readiness().await.unwrap();
    let n: i64 = raw(&path)
        .query_row("SELECT count(*) FROM bulkhead_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, bulkhead_store_sqlite::migrate::MIGRATIONS.len() as i64);
}

#[tokio::test]
async fn a_changed_or_unknown_migration_makes_the_store_unready() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    raw(&path)
        .execute(
            "UPDATE bulkhead_migrations SET checksum = x'00' WHERE version = 1",
            [],
        )
        .unwrap();
    let error = store.readiness().await.unwrap_err();
    assert!(error.to_string().contains("different contents"), "{error}");
    store.close().await;
    assert!(SqliteStore::open(&path, t0()).is_err());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    drop(SqliteStore::open(&path, t0()).unwrap());
    raw(&path)
        .execute(
            "INSERT INTO bulkhead_migrations VALUES (999, 'future', x'00', 0)",
            [],
        )
        .unwrap();
    let error = SqliteStore::open(&path, t0()).unwrap_err();
    assert!(error.to_string().contains("newer Bulkhead"), "{error}");
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    let owner = fixtures::user(&store, "owner@example.com").await;
    let tenant = fixtures::tenant(&store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.append_audit(fixtures::audit("x", None)).await.unwrap();
    tx.commit().await.unwrap();
    let connection = raw(&path);
    let update = connection
        .execute("UPDATE audit_log SET action = 'y'", [])
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = connection.execute("DELETE FROM audit_log", []).unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
}

#[tokio::test]
async fn tampering_with_a_stored_audit_entry_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    let store = SqliteStore::open(&path, t0()).unwrap();
    let owner = fixtures::user(&store, "owner@example.com").await;
    let tenant = fixtures::tenant(&store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    for i in 0..3 {
        tx.append_audit(fixtures::audit(&format!("a.{i}"), None))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // Someone with the file drops the trigger and edits an entry.
    raw(&path)
        .execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'denied' WHERE seq = 2;")
        .unwrap();
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let chain = tx.audit_chain(0, 10).await.unwrap();
    assert_eq!(
        bulkhead_store::audit::verify(None, &chain),
        Err(bulkhead_store::audit::ChainBreak::Content { seq: 2 })
    );
}

#[test]
fn every_tenant_table_leads_its_keys_and_indexes_with_tenant_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    drop(SqliteStore::open(&path, t0()).unwrap());
    let connection = raw(&path);
    for table in tenant_tables(&path) {
        let first_pk: String = connection
            .query_row(
                &format!("SELECT name FROM pragma_table_info('{table}') WHERE pk = 1"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(first_pk, "tenant_id", "{table}: primary key");
        let mut indexes = connection
            .prepare(&format!("SELECT name FROM pragma_index_list('{table}')"))
            .unwrap();
        let names: Vec<String> = indexes
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for index in names {
            // The one documented exception: a user's own memberships.
            if index == "ix_memberships_user" {
                continue;
            }
            let first: String = connection
                .query_row(
                    &format!("SELECT name FROM pragma_index_info('{index}') WHERE seqno = 0"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(first, "tenant_id", "{table}: index {index}");
        }
        let mut keys = connection
            .prepare(&format!(
                "SELECT \"table\", \"from\" FROM pragma_foreign_key_list('{table}')"
            ))
            .unwrap();
        let fks: Vec<(String, String)> = keys
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (target, column) in fks {
            // References into tenant tables carry tenant_id; references to
            // platform tables (users) are by the platform id.
            if ["memberships", "api_keys", "invitations", "audit_log"].contains(&target.as_str()) {
                assert!(
                    column == "tenant_id" || column == "seq",
                    "{table} -> {target} via {column}"
                );
            }
        }
    }
}
