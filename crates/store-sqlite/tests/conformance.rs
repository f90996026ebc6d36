//! The store conformance suite on SQLite, plus SQLite-only checks.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulkhead_store::{Access, Store};
use bulkhead_store_conformance::TestStore;
use bulkhead_store_conformance::fixtures::{self, t0};
use bulkhead_store_conformance::plans;
use bulkhead_store_sqlite::SqliteStore;

/// Tables with a `tenant_id` column, from SQLite's own catalog.
fn tenant_tables(path: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    bulkhead_store_sqlite::tenant_tables(&connection).unwrap()
}

/// A temporary directory and the path of a database file in it.
fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulkhead.db");
    (dir, path)
}

async fn fresh() -> Option<TestStore> {
    let (dir, path) = temp_db();
    let store = SqliteStore::open(&path, t0()).unwrap();
    let tables = tenant_tables(&path);
    Some(TestStore::new(Arc::new(store), tables).with_cleanup(async move { drop(dir) }))
}

bulkhead_store_conformance::conformance_suite!(fresh);

fn raw(path: &Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch("PRAGMA foreign_keys = ON")
        .unwrap();
    connection
}

fn assert_no_foreign_key_violations(path: &Path) {
    let violations: i64 = raw(path)
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pooled_connection_has_the_durability_profile() {
    let (_dir, path) = temp_db();
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
        if role == "writer" {
            let checkpoint: i64 = connection
                .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .unwrap();
            assert_eq!(
                checkpoint, 30_000,
                "the writer checkpoints every 30,000 pages"
            );
        }
        // Negative: KiB. The writer 16 MiB, each reader 8 MiB.
        let cache: i64 = connection
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        let expected = if role == "writer" { -16_384 } else { -8_192 };
        assert_eq!(cache, expected, "{role}: page cache size");
    }
    store.close().await;
    assert_no_foreign_key_violations(&path);
}

#[tokio::test]
async fn opening_twice_applies_no_migration_again() {
    let (_dir, path) = temp_db();
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
    let (_dir, path) = temp_db();
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

    let (_dir, path) = temp_db();
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
    let (_dir, path) = temp_db();
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
    let (_dir, path) = temp_db();
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

/// Tenant tables whose primary key is their global write order, `entry`:
/// the audit log, and what is stored under its entries.
const LOGS_IN_WRITE_ORDER: &[&str] = &["audit_log", "audit_personal", "record_events"];

#[test]
fn every_tenant_table_leads_its_keys_and_indexes_with_tenant_id() {
    let (_dir, path) = temp_db();
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
        // The append-only audit log, its personal rows and the record events
        // are keyed by their global write order (migrations 0003 and 0006);
        // every index on them is still led by tenant_id, and every
        // statement names the tenant.
        let expected_pk = if LOGS_IN_WRITE_ORDER.contains(&table.as_str()) {
            "entry"
        } else {
            "tenant_id"
        };
        assert_eq!(first_pk, expected_pk, "{table}: primary key");
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
            if ["memberships", "api_keys", "invitations"].contains(&target.as_str()) {
                assert_eq!(column, "tenant_id", "{table} -> {target}");
            }
            // What is stored under an audit entry references it by the
            // entry, which is the entry's tenant's.
            if target == "audit_log" {
                assert!(
                    LOGS_IN_WRITE_ORDER.contains(&table.as_str()) && column == "entry",
                    "{table}.{column} -> {target}"
                );
            }
        }
    }
}

/// The columns `Records::list_records` (tenant/records.rs) selects.
const RECORD_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";

/// The SQL `Records::list_records` (tenant/records.rs) builds for a list: the tenant and
/// collection as ?1 and ?2, then the owner, the compiled filter, the keyset
/// condition after a cursor, `ORDER BY` from `record_query::order_by` and
/// the limit, numbered in that order. It is reproduced here (the compiler is
/// private); `the_common_list_queries_use_an_index` checks it returns what
/// the store returns.
fn list_sql(owner: bool, filter: Option<&str>, after: Option<&str>, order_by: &str) -> String {
    let mut sql =
        format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = ?1 AND collection = ?2");
    let mut n = 2;
    if owner {
        // Owner lists here are of an owner-visibility collection, where the
        // store adds the partial index's condition.
        n += 1;
        sql.push_str(&format!(" AND owner_id = ?{n} AND owner_only = 1"));
    }
    if let Some(filter) = filter {
        n += 1;
        sql.push_str(&format!(
            " AND ({})",
            filter.replace("?N", &format!("?{n}"))
        ));
    }
    if let Some(after) = after {
        // Two placeholders for the first key (?A, ?B) and one for the id (?C).
        sql.push_str(&format!(
            " AND {}",
            after
                .replace("?A", &format!("?{}", n + 1))
                .replace("?B", &format!("?{}", n + 2))
                .replace("?C", &format!("?{}", n + 3))
        ));
        n += 3;
    }
    sql.push_str(&format!(" ORDER BY {order_by} LIMIT ?{}", n + 1));
    sql
}

/// The `EXPLAIN QUERY PLAN` rows of `sql` with `params`, one detail a line.
fn query_plan(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> Vec<String> {
    let mut statement = connection
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    statement
        .query_map(rusqlite::params_from_iter(params), |row| {
            row.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn record_ids(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> Vec<uuid::Uuid> {
    let mut statement = connection.prepare(sql).unwrap();
    statement
        .query_map(rusqlite::params_from_iter(params), |row| {
            row.get::<_, Vec<u8>>(1)
        })
        .unwrap()
        .map(|id| uuid::Uuid::from_slice(&id.unwrap()).unwrap())
        .collect()
}

/// The common list queries use an index, not a scan of `records`: the
/// default list (newest first) and its next page through
/// `ix_records_created`, a filter and sort on a declared integer field
/// through its expression index, owner-restricted lists (owner visibility)
/// through `ix_records_owner`, a range filter on a declared field under the
/// default order through `ix_records_created` (walking the order's index
/// stops after a page; the field's index would find and sort every match). Over 20,000 records of three tenants, after
/// `ANALYZE`. The plans are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_common_list_queries_use_an_index() {
    use bulkhead_domain::RecordId;
    use bulkhead_domain::collection::FieldType;
    use bulkhead_domain::filter::{FieldRef, SortKey, parse, typecheck};
    use bulkhead_store::{Cursor, RecordQuery};
    use rusqlite::types::Value as Sql;

    let started = std::time::Instant::now();
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path, t0()).unwrap();
    let schema = plans::tasks_schema();
    let index_name = bulkhead_store::record_index_name(&plans::index_fields());
    let tenants = plans::seed(&store).await;
    let inserted = started.elapsed();
    let (tenant, owners) = &tenants[0];
    let connection = raw(&path);
    connection.execute_batch("ANALYZE").unwrap();

    // The shapes, with the values the store binds.
    let tenant_param = Sql::Blob(tenant.id.as_bytes().to_vec());
    let tasks = Sql::Text("tasks".into());
    let newest_first = "created_at DESC NULLS LAST, id DESC NULLS LAST";
    let by_priority = "json_extract(data, '$.priority') ASC NULLS FIRST, id ASC NULLS FIRST";
    let priority_filter = "json_extract(data, '$.priority') >= ?N";
    let after_newest = "(((created_at < ?A OR created_at IS NULL)) OR (created_at = ?B AND (id < ?C OR id IS NULL)))";
    let after_priority = "((json_extract(data, '$.priority') > ?A) OR (json_extract(data, '$.priority') = ?B AND id > ?C))";

    // The cursor of the first page's last record, for the second pages.
    let first_page = record_ids(
        &connection,
        &list_sql(false, None, None, newest_first),
        &[
            tenant_param.clone(),
            tasks.clone(),
            Sql::Integer(plans::LIMIT),
        ],
    );
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let last = tx
        .record("tasks", RecordId::from_uuid(*first_page.last().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let last_micros = (last.created_at.unix_timestamp_nanos() / 1_000) as i64;
    let owner_param = Sql::Blob(owners[3].as_bytes().to_vec());

    struct Case {
        what: &'static str,
        sql: String,
        params: Vec<Sql>,
        index: String,
        /// Whether the index also gives the order, so no temporary b-tree
        /// sorts the whole collection for one page.
        ordered: bool,
        query: RecordQuery,
    }
    let filter = typecheck(&parse("priority >= 3").unwrap(), &schema).unwrap();
    let sort_priority = vec![SortKey {
        field: FieldRef::Data {
            name: bulkhead_domain::collection::FieldName::parse("priority").unwrap(),
            field_type: FieldType::Integer,
        },
        descending: false,
    }];
    let default_query = RecordQuery {
        limit: plans::LIMIT as u32,
        ..RecordQuery::default()
    };
    let cursor_after = |query: &RecordQuery, record: &bulkhead_store::Record| {
        Some(Cursor::after_record(record, &query.order()))
    };
    let second_page_query = RecordQuery {
        after: cursor_after(&default_query, &last),
        ..default_query.clone()
    };
    let priority_query = RecordQuery {
        filter: Some(filter.clone()),
        sort: sort_priority.clone(),
        limit: plans::LIMIT as u32,
        ..RecordQuery::default()
    };
    let owner_query = RecordQuery {
        owner: Some(owners[3]),
        limit: plans::LIMIT as u32,
        ..RecordQuery::default()
    };
    let priority_last = tx.list_records("tasks", &priority_query).await.unwrap();
    let priority_last = priority_last.last().unwrap().clone();
    let priority_second_query = RecordQuery {
        after: cursor_after(&priority_query, &priority_last),
        ..priority_query.clone()
    };
    let owner_last = tx.list_records("tasks", &owner_query).await.unwrap();
    let owner_last = owner_last.last().unwrap().clone();
    let owner_second_query = RecordQuery {
        after: cursor_after(&owner_query, &owner_last),
        ..owner_query.clone()
    };
    let owner_last_micros = (owner_last.created_at.unix_timestamp_nanos() / 1_000) as i64;
    let priority_of =
        |record: &bulkhead_store::Record| record.data.field("priority").unwrap().as_i64().unwrap();

    let cases = [
        Case {
            what: "(a) the default list: newest first",
            sql: list_sql(false, None, None, newest_first),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                Sql::Integer(plans::LIMIT),
            ],
            index: "ix_records_created".into(),
            ordered: true,
            query: default_query.clone(),
        },
        Case {
            what: "(a') the default list, the page after a cursor",
            sql: list_sql(false, None, Some(after_newest), newest_first),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                Sql::Integer(last_micros),
                Sql::Integer(last_micros),
                Sql::Blob(last.id.as_bytes().to_vec()),
                Sql::Integer(plans::LIMIT),
            ],
            index: "ix_records_created".into(),
            ordered: true,
            query: second_page_query,
        },
        Case {
            what: "(b) priority >= 3, sorted by priority",
            sql: list_sql(false, Some(priority_filter), None, by_priority),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                Sql::Integer(3),
                Sql::Integer(plans::LIMIT),
            ],
            index: index_name.clone(),
            ordered: false,
            query: priority_query.clone(),
        },
        Case {
            what: "(b') priority >= 3, sorted by priority, the page after a cursor",
            sql: list_sql(
                false,
                Some(priority_filter),
                Some(after_priority),
                by_priority,
            ),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                Sql::Integer(3),
                Sql::Integer(priority_of(&priority_last)),
                Sql::Integer(priority_of(&priority_last)),
                Sql::Blob(priority_last.id.as_bytes().to_vec()),
                Sql::Integer(plans::LIMIT),
            ],
            index: index_name.clone(),
            ordered: false,
            query: priority_second_query,
        },
        Case {
            what: "(c) an owner's records (owner visibility), newest first",
            sql: list_sql(true, None, None, newest_first),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                owner_param.clone(),
                Sql::Integer(plans::LIMIT),
            ],
            index: "ix_records_owner".into(),
            ordered: true,
            query: owner_query.clone(),
        },
        Case {
            what: "(c') an owner's records, the page after a cursor",
            sql: list_sql(true, None, Some(after_newest), newest_first),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                owner_param.clone(),
                Sql::Integer(owner_last_micros),
                Sql::Integer(owner_last_micros),
                Sql::Blob(owner_last.id.as_bytes().to_vec()),
                Sql::Integer(plans::LIMIT),
            ],
            index: "ix_records_owner".into(),
            ordered: true,
            query: owner_second_query,
        },
        Case {
            what: "(d) priority >= 3, newest first: the range does not pick the priority index",
            sql: list_sql(
                false,
                Some(&format!("+{priority_filter}")),
                None,
                newest_first,
            ),
            params: vec![
                tenant_param.clone(),
                tasks.clone(),
                Sql::Integer(3),
                Sql::Integer(plans::LIMIT),
            ],
            index: "ix_records_created".into(),
            ordered: true,
            query: RecordQuery {
                filter: Some(filter.clone()),
                ..default_query.clone()
            },
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        // The reproduced SQL answers what the store answers.
        let from_store = plans::listed_ids(&mut *tx, &case.query).await;
        let from_sql = record_ids(&connection, &case.sql, &case.params);
        assert_eq!(from_sql.len(), plans::LIMIT as usize, "{}", case.what);
        assert_eq!(
            from_sql, from_store,
            "{}: the reproduced SQL no longer matches tenant/records.rs (list_records)",
            case.what
        );
        let plan = query_plan(&connection, &case.sql, &case.params);
        eprintln!(
            "SQLite, {}:\n  {}\n  plan:\n    {}",
            case.what,
            case.sql,
            plan.join("\n    ")
        );
        let uses_index = plan.iter().any(|line| {
            line.contains(&format!("INDEX {} ", case.index))
                || line.ends_with(&format!("INDEX {}", case.index))
        });
        let scans = plan.iter().any(|line| line.starts_with("SCAN records"));
        if !uses_index || scans {
            failures.push(format!(
                "{}: expected {} and no SCAN records: {plan:?}",
                case.what, case.index
            ));
        }
        let sorts = plan.iter().any(|line| line.contains("TEMP B-TREE"));
        if sorts {
            eprintln!("  note: sorts in a temporary b-tree");
        }
        if case.ordered && sorts {
            failures.push(format!(
                "{}: expected {} to give the order, not a temporary b-tree",
                case.what, case.index
            ));
        }
        // At most the tie-breaker may be sorted apart: never the whole order.
        if plan
            .iter()
            .any(|line| line == "USE TEMP B-TREE FOR ORDER BY")
        {
            failures.push(format!("{}: sorts every match: {plan:?}", case.what));
        }
    }
    drop(tx);
    eprintln!(
        "SQLite plans over {} records: {:.1?} to insert, {:.1?} in all",
        plans::RECORDS,
        inserted,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The rows of a two-column query (a name and a number), read directly.
fn named_counts(path: &Path, sql: &str) -> Vec<(String, i64)> {
    let connection = raw(path);
    let mut statement = connection.prepare(sql).unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A tenant row written by hand, for databases migrated only part way
/// (the store itself works on the current schema only).
fn insert_tenant_row(connection: &rusqlite::Connection, tenant: bulkhead_domain::TenantId) {
    connection
        .execute(
            "INSERT INTO tenants (id, slug, name, plan, created_at, updated_at)
             VALUES (?1, 'acme', 'Acme', 'free', 0, 0)",
            [tenant.as_uuid().as_bytes()],
        )
        .unwrap();
}

/// An audit entry's row as versions 2 to 5 of the schema take it (the
/// `entry` of versions 3 to 5 is given by SQLite).
fn insert_audit_row(
    connection: &rusqlite::Connection,
    tenant: bulkhead_domain::TenantId,
    entry: &bulkhead_store::AuditEntry,
) {
    connection
        .execute(
            "INSERT INTO audit_log (tenant_id, seq, id, at, actor_kind, actor_id, action,
                 resource_type, resource_id, outcome, request_id, details,
                 personal_digest, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            rusqlite::params![
                tenant.as_uuid().as_bytes(),
                entry.seq,
                entry.id.as_uuid().as_bytes(),
                micros(entry.at),
                entry.actor_kind.name(),
                entry.action,
                entry.resource_type,
                entry.resource_id,
                entry.outcome.name(),
                entry.request_id,
                entry.details.to_string(),
                entry.personal_digest,
                entry.prev_hash,
                entry.hash,
            ],
        )
        .unwrap();
}

/// A record event's row as versions 2 to 5 of the schema take it.
fn insert_event_row(
    connection: &rusqlite::Connection,
    tenant: bulkhead_domain::TenantId,
    seq: i64,
    event: &bulkhead_store::NewRecordEvent,
) {
    connection
        .execute(
            "INSERT INTO record_events (tenant_id, seq, collection, record_id, kind, payload, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                tenant.as_uuid().as_bytes(),
                seq,
                event.collection,
                event.record_id.as_uuid().as_bytes(),
                event.kind.as_str(),
                event.payload.to_string(),
                micros(event.at),
            ],
        )
        .unwrap();
}

fn micros(at: time::OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

/// Migration 3 moves the audit log, its personal rows and the record events
/// into write order. A database written at version 2 keeps every entry, its
/// chain and personal fields, and every event (numbered by its entry since
/// migration 6); both logs go on from where they were.
#[tokio::test]
async fn the_logs_written_before_migration_3_survive_it() {
    use bulkhead_domain::TenantId;
    use bulkhead_store::audit::{seal, verify};
    use bulkhead_store::records::EventKind;

    let (_dir, path) = temp_db();
    let tenant = TenantId::new();
    {
        let connection = raw(&path);
        bulkhead_store_sqlite::migrate::run_through(&connection, 2, 0).unwrap();
        insert_tenant_row(&connection, tenant);
        let mut previous = None;
        for i in 1..=3 {
            let event = fixtures::record_event(
                "notes",
                bulkhead_domain::RecordId::new(),
                EventKind::Create,
                None,
                serde_json::json!({ "i": i }),
                t0(),
            );
            let entry = seal(Some(tenant), previous, fixtures::change_audit(&event));
            insert_audit_row(&connection, tenant, &entry);
            let personal = entry.personal.as_ref().unwrap();
            connection
                .execute(
                    "INSERT INTO audit_personal (tenant_id, seq, salt, ip, user_agent)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![
                        tenant.as_uuid().as_bytes(),
                        entry.seq,
                        personal.salt,
                        personal.ip,
                        personal.user_agent
                    ],
                )
                .unwrap();
            insert_event_row(&connection, tenant, i, &event);
            previous = Some((entry.seq, entry.hash));
        }
    }

    let store = SqliteStore::open(&path, t0()).unwrap();
    store.readiness().await.unwrap();
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    let chain = tx.audit_chain(0, 10).await.unwrap();
    assert_eq!(chain.len(), 3);
    assert!(verify(None, &chain).is_ok());
    assert!(chain.iter().all(|entry| entry.personal.is_some()));
    let events = tx.record_events_after(0, 10).await.unwrap();
    let payloads: Vec<_> = events.iter().map(|e| (e.seq, e.payload.clone())).collect();
    assert_eq!(
        payloads,
        (1..=3)
            .map(|i| (i, serde_json::json!({ "i": i })))
            .collect::<Vec<_>>()
    );
    // Both logs go on from where they were.
    let fourth = tx.append_audit(fixtures::audit("a.4", None)).await.unwrap();
    assert_eq!(fourth.seq, 4);
    let event = fixtures::record_event(
        "notes",
        bulkhead_domain::RecordId::new(),
        EventKind::Create,
        None,
        serde_json::json!({ "i": 5 }),
        t0(),
    );
    let audit = fixtures::change_audit(&event);
    let (event, _) = tx.append_record_change(event, audit).await.unwrap();
    assert_eq!(event.seq, 5);
    assert!(tx.erase_audit_personal(2).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let chain = tx.audit_chain(0, 10).await.unwrap();
    assert_eq!(chain.len(), 5);
    assert!(verify(None, &chain).is_ok());
    assert!(chain[1].personal.is_none());
    assert!(chain[0].personal.is_some() && chain[4].personal.is_some());
    drop(tx);
    store.close().await;
    assert_no_foreign_key_violations(&path);
}

/// Migration 6 stores each event under its audit entry and numbers it by
/// that entry. Events written at version 5 pair with their entries: the k-th
/// event of a record and kind with the k-th successful entry of that record
/// and action, past entries of other actions, outcomes and tenants; an event
/// with no entry (not written by the services) is not carried over.
#[tokio::test]
async fn events_written_before_migration_6_are_numbered_by_their_audit_entries() {
    use bulkhead_domain::audit::Outcome;
    use bulkhead_domain::{RecordId, TenantId};
    use bulkhead_store::audit::{seal, verify};
    use bulkhead_store::records::EventKind;

    let (_dir, path) = temp_db();
    let (acme, globex) = (TenantId::new(), TenantId::new());
    let (note, other) = (RecordId::new(), RecordId::new());
    let event = |record: RecordId, kind: EventKind, n: i64| {
        fixtures::record_event(
            "notes",
            record,
            kind,
            None,
            serde_json::json!({ "n": n }),
            t0(),
        )
    };
    // What each tenant's log holds, in order.
    enum Step {
        /// A record write: its entry and its event.
        Change(bulkhead_store::NewRecordEvent),
        /// An entry with no event.
        Other(bulkhead_store::AuditDraft),
    }
    let mut denied = fixtures::change_audit(&event(note, EventKind::Update, 0));
    denied.outcome = Outcome::Denied;
    let acme_log = vec![
        Step::Change(event(note, EventKind::Create, 1)),
        Step::Other(fixtures::audit("members.add", None)),
        Step::Change(event(note, EventKind::Update, 2)),
        Step::Other(denied),
        Step::Change(event(other, EventKind::Create, 3)),
        Step::Change(event(note, EventKind::Update, 4)),
        Step::Change(event(note, EventKind::Delete, 5)),
    ];
    {
        let connection = raw(&path);
        bulkhead_store_sqlite::migrate::run_through(&connection, 5, 0).unwrap();
        for (tenant, slug) in [(acme, "acme"), (globex, "globex")] {
            connection
                .execute(
                    "INSERT INTO tenants (id, slug, name, plan, created_at, updated_at)
                     VALUES (?1, ?2, 'T', 'free', 0, 0)",
                    rusqlite::params![tenant.as_uuid().as_bytes(), slug],
                )
                .unwrap();
        }
        // Globex's one write lands between two of Acme's, as a writer shared
        // by tenants stores them.
        let mut steps: Vec<(TenantId, Step)> = acme_log.into_iter().map(|s| (acme, s)).collect();
        steps.insert(2, (globex, Step::Change(event(note, EventKind::Create, 6))));
        // Per tenant: the chain's last (seq, hash) and its events so far.
        type Written = (Option<(i64, [u8; 32])>, i64);
        let mut written: std::collections::HashMap<TenantId, Written> = Default::default();
        for (tenant, step) in steps {
            let (previous, n_events) = written.entry(tenant).or_default();
            let draft = match &step {
                Step::Change(event) => fixtures::change_audit(event),
                Step::Other(draft) => draft.clone(),
            };
            let entry = seal(Some(tenant), *previous, draft);
            insert_audit_row(&connection, tenant, &entry);
            if let Step::Change(event) = &step {
                *n_events += 1;
                insert_event_row(&connection, tenant, *n_events, event);
            }
            *previous = Some((entry.seq, entry.hash));
        }
        // An event no entry pairs with.
        insert_event_row(&connection, acme, 6, &event(other, EventKind::Update, 7));
    }

    let store = SqliteStore::open(&path, t0()).unwrap();
    store.readiness().await.unwrap();
    let mut tx = store.tenant(acme, Access::Write).await.unwrap();
    let events = tx.record_events_after(0, 100).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.seq, e.record_id, e.kind, e.payload.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, note, EventKind::Create, serde_json::json!({ "n": 1 })),
            (3, note, EventKind::Update, serde_json::json!({ "n": 2 })),
            (5, other, EventKind::Create, serde_json::json!({ "n": 3 })),
            (6, note, EventKind::Update, serde_json::json!({ "n": 4 })),
            (7, note, EventKind::Delete, serde_json::json!({ "n": 5 })),
        ]
    );
    assert_eq!(tx.record_event_position().await.unwrap(), 7);
    let (next, _) = tx
        .append_record_change(
            event(other, EventKind::Update, 8),
            fixtures::change_audit(&event(other, EventKind::Update, 8)),
        )
        .await
        .unwrap();
    assert_eq!(next.seq, 8);
    tx.commit().await.unwrap();
    let mut tx = store.tenant(globex, Access::Read).await.unwrap();
    let theirs = tx.record_events_after(0, 100).await.unwrap();
    assert_eq!(
        theirs
            .iter()
            .map(|e| (e.tenant_id, e.seq, e.payload.clone()))
            .collect::<Vec<_>>(),
        [(globex, 1, serde_json::json!({ "n": 6 }))]
    );
    assert!(verify(None, &tx.audit_chain(0, 100).await.unwrap()).is_ok());
    drop(tx);
    store.close().await;
    assert_no_foreign_key_violations(&path);
}

/// Migration 4 indexes owners only in owner-visibility collections: records
/// written before it are marked by their collection's visibility, and an
/// owner's list finds them through the partial index; so does a record
/// written after migration 5 moved the visibility into a column.
#[tokio::test]
async fn records_written_before_migration_4_stay_listed_for_their_owners() {
    use bulkhead_domain::{RecordId, TenantId, UserId};
    use bulkhead_store::RecordQuery;

    let (_dir, path) = temp_db();
    let tenant = TenantId::new();
    let owner = UserId::new();
    let mut mine = Vec::new();
    {
        let connection = raw(&path);
        bulkhead_store_sqlite::migrate::run_through(&connection, 3, 0).unwrap();
        insert_tenant_row(&connection, tenant);
        for (name, visibility) in [("private", "owner"), ("shared", "tenant")] {
            let mut schema = fixtures::schema_json(name, &[("title", "text", false, false)]);
            schema["visibility"] = serde_json::json!(visibility);
            connection
                .execute(
                    "INSERT INTO collections (tenant_id, name, schema, version, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 1, 0, 0)",
                    rusqlite::params![tenant.as_uuid().as_bytes(), name, schema.to_string()],
                )
                .unwrap();
            for i in 0..3 {
                let id = RecordId::new();
                connection
                    .execute(
                        "INSERT INTO records (tenant_id, id, collection, owner_id, version,
                             created_at, updated_at, data)
                         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, '{}')",
                        rusqlite::params![
                            tenant.as_uuid().as_bytes(),
                            id.as_uuid().as_bytes(),
                            name,
                            owner.as_uuid().as_bytes(),
                            i
                        ],
                    )
                    .unwrap();
                if name == "private" {
                    mine.push(id);
                }
            }
        }
    }

    let store = SqliteStore::open(&path, t0()).unwrap();
    let marked = named_counts(
        &path,
        "SELECT collection, sum(owner_only) FROM records GROUP BY collection ORDER BY collection",
    );
    assert_eq!(
        marked,
        [("private".to_owned(), 3), ("shared".to_owned(), 0)]
    );
    // Migration 5 keeps the visibility on the collection, where inserts read it.
    let collections = named_counts(
        &path,
        "SELECT name, owner_only FROM collections ORDER BY name",
    );
    assert_eq!(
        collections,
        [("private".to_owned(), 1), ("shared".to_owned(), 0)]
    );
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    let written_after = tx
        .insert_record(bulkhead_store::NewRecord {
            id: RecordId::new(),
            collection: "private".into(),
            owner_id: Some(owner),
            data: serde_json::json!({}),
            unique_values: Vec::new(),
            at: t0(),
        })
        .await
        .unwrap();
    mine.push(written_after.id);
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    for collection in ["private", "shared"] {
        let listed = tx
            .list_records(
                collection,
                &RecordQuery {
                    limit: 10,
                    owner: Some(owner),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let expected = if collection == "private" { 4 } else { 3 };
        assert_eq!(listed.len(), expected, "{collection}");
        if collection == "private" {
            let mut ids: Vec<_> = listed.iter().map(|r| r.id).collect();
            ids.sort();
            mine.sort();
            assert_eq!(ids, mine);
        }
    }
    drop(tx);
    store.close().await;
}

/// Migration 7 keys every account. Accounts written at version 6 whose
/// addresses share a key are all kept: each is found by its own stored
/// address, the oldest holds the key (another spelling finds it), the
/// group is reported, and the key is taken for a new account.
#[tokio::test]
async fn accounts_sharing_an_email_key_before_migration_7_are_kept_and_reported() {
    use bulkhead_domain::{EmailLookup, UserId};
    use bulkhead_store::{ConflictKind, StoreError};

    let (_dir, path) = temp_db();
    let emails = [
        "Ada@example.com",
        "carol\u{200b}@example.com",
        "ada@example.com",
        "carol@example.com",
        "dan@example.com",
    ];
    let ids: Vec<UserId> = emails.iter().map(|_| UserId::new()).collect();
    {
        let connection = raw(&path);
        bulkhead_store_sqlite::migrate::run_through(&connection, 6, 0).unwrap();
        for (i, (email, id)) in emails.iter().zip(&ids).enumerate() {
            connection
                .execute(
                    "INSERT INTO users (id, email, password_hash, created_at, updated_at)
                     VALUES (?1, ?2, 'x', ?3, ?3)",
                    rusqlite::params![id.as_uuid().as_bytes(), email, i as i64],
                )
                .unwrap();
        }
    }

    let store = SqliteStore::open(&path, t0()).unwrap();
    let mut tx = store.platform(Access::Write).await.unwrap();
    for (email, id) in emails.iter().zip(&ids) {
        let found = tx.user_by_email(&EmailLookup::of(email)).await.unwrap();
        assert_eq!(found.map(|user| user.id), Some(*id), "{email:?}");
    }
    let holder = tx.user_by_email(&EmailLookup::of("ADA@example.com")).await;
    assert_eq!(holder.unwrap().map(|user| user.id), Some(ids[0]));

    let collisions = tx.email_key_collisions().await.unwrap();
    let groups: Vec<(String, Vec<UserId>)> = collisions
        .into_iter()
        .map(|c| (c.key, c.users.into_iter().map(|u| u.id).collect()))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("ada@example.com".to_owned(), vec![ids[0], ids[2]]),
            ("carol@example.com".to_owned(), vec![ids[1], ids[3]]),
        ]
    );

    let error = tx
        .insert_user(fixtures::bare_user("ADA@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::UserEmail)),
        "{error:?}"
    );
}
