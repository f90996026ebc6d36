//! What the tenant boundary costs on SQLite: the store's record reads with
//! the tenant predicate, against the same reads of a deliberately unscoped
//! baseline that exists only in this benchmark.
//!
//! # The data
//!
//! `TENANTS` tenants, each with a collection `notes` (fields `title`,
//! `body`, `n`; an index declared on `n`) of `RECORDS_PER_TENANT` records,
//! all written through the public store API (`SqliteStore::open`,
//! `create_tenant`, `insert_collection`, `ensure_record_index`,
//! `insert_record`). Tenants write in turns of `RECORDS_PER_TURN` records,
//! so their rows interleave in the shared table as they would in production.
//! `n` is uniform in 0..1000, so `n > 500` keeps about half. The data, its
//! seeding and the store's own calls are `bulkhead_store_conformance::bench`,
//! shared with the PostgreSQL benchmark.
//!
//! # The cases
//!
//! - `get_record`: one record by id (cycling through the tenant's records).
//! - `list_newest_20`: the 20 newest records of the collection (the default
//!   order, `-created_at`, then `id`).
//! - `list_filtered_20`: the same with the filter `n > 500`.
//!
//! # The variants, and why these baselines
//!
//! On SQLite the tenant boundary is the `tenant_id = ?1` that every
//! statement of the `tenant/` area files binds, and the `tenant_id`
//! column that leads every key and index of a table shared by all tenants.
//! Dropping the predicate from the shared table is *not* a fair baseline:
//! `records` is keyed by `(tenant_id, id)`, so `WHERE id = ?` has no index
//! and scans every tenant's rows, and "the newest notes" without a tenant
//! are all tenants' notes, another answer. The unscoped baselines are
//! therefore what an application without tenants would have, holding the
//! same rows (copied from the store's file, so ids, times and documents are
//! identical) in a table without a `tenant_id` column whose keys and
//! indexes are the store's minus that column:
//!
//! - `raw_unscoped_one_tenant`: a database of the measured tenant's notes
//!   only, the single-tenant application (a database per customer) that a
//!   shared, isolated store is compared against. Its difference from
//!   `raw_scoped` is the boundary *and* sharing one file with the other
//!   tenants (a bigger table, interleaved rows).
//! - `raw_unscoped_all_tenants`: every tenant's notes in one table without
//!   a tenant column, each tenant's as its own collection `notes_<k>`, in
//!   the order the store wrote them. Same table size, same page splits,
//!   same 1,000-record collection per query: its difference from
//!   `raw_scoped` is the tenant column and predicate alone.
//! - `raw_scoped`: the statement the store issues, on a plain connection to
//!   the store's file opened with the store's own connection profile. The
//!   text is copied from `tenant/records.rs` and `record_query.rs` (which are
//!   private): the start-up check compares answers, not text, so a change to
//!   the store's SQL must be copied into [`cases`] by hand (the unscoped
//!   statements follow it, being what the same compiler would write without
//!   a tenant).
//! - `store_tenant_tx`: the real path of a request, `Store::tenant(…,
//!   Access::Read)`, the `TenantTx` method and `commit`. Its difference from
//!   `raw_scoped` is the store's own machinery (the reader pool, `BEGIN` and
//!   `COMMIT`, the async call, building the SQL text, decoding into
//!   `Record`), which a single-tenant store would have as well; it is not
//!   the boundary.
//!
//! Raw variants run in autocommit on one connection per database, with the
//! statement cache, and decode every column the way the store does
//! (ids, times, the JSON document), so all variants do the same work but
//! for what is being measured. Before measuring, the query plan of every
//! raw statement is printed.
//!
//! After criterion, under `cargo bench` only, each comparison is measured
//! once more with the two variants interleaved (see
//! `bulkhead_store_conformance::bench`): its `paired:` lines give the
//! overhead, criterion's the times. `benches/isolation.sh` at the repository
//! root runs this and prints the overhead table.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "benchmark code: a failed setup stops the run, and it prints its query plans"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bulkhead_domain::{RecordId, TenantId};
use bulkhead_store_conformance::bench::{
    COLLECTION, Case, LIMIT, Row, SCOPED_COLUMNS, T0, THRESHOLD, Target, UNSCOPED_COLUMNS,
    baseline_schema, full_run, ids, measured, paired, print_paired, seed, sizes,
};
use bulkhead_store_sqlite::{SqliteStore, open_for_inspection};
use criterion::Criterion;
use rusqlite::{Connection, ToSql};
use time::OffsetDateTime;
use uuid::Uuid;

/// `record_query::order_by` for the default order.
const NEWEST_FIRST: &str = "created_at DESC NULLS LAST, id DESC NULLS LAST";

/// The baselines' columns: `records` minus `tenant_id` (their tables and
/// indexes are `bench::baseline_schema`, with the index `ensure_record_index`
/// creates for `n`).
const BASELINE_COLUMNS: &str = "
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    collection TEXT    NOT NULL,
    owner_id   BLOB,
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data       TEXT    NOT NULL
";

fn time_at(micros: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Decodes a row of `SCOPED_COLUMNS` (`scoped`) or `UNSCOPED_COLUMNS`, with
/// the conversions of the store's `rows::record` (blob ids, microsecond
/// times, the JSON document).
fn decode(row: &rusqlite::Row<'_>, scoped: bool) -> rusqlite::Result<Row> {
    let first = usize::from(scoped);
    let tenant_id = if scoped {
        Some(Uuid::from_bytes(row.get::<_, [u8; 16]>(0)?))
    } else {
        None
    };
    let data: String = row.get(first + 6)?;
    Ok(Row {
        tenant_id,
        id: Uuid::from_bytes(row.get(first)?),
        collection: row.get(first + 1)?,
        owner_id: row
            .get::<_, Option<[u8; 16]>>(first + 2)?
            .map(Uuid::from_bytes),
        version: row.get(first + 3)?,
        created_at: time_at(row.get(first + 4)?)?,
        updated_at: time_at(row.get(first + 5)?)?,
        data: bulkhead_store::Document::from_text(data)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
    })
}

/// Runs a cached statement and decodes every row.
fn query(connection: &Connection, sql: &str, params: &[&dyn ToSql], scoped: bool) -> Vec<Row> {
    let mut statement = connection.prepare_cached(sql).unwrap();
    statement
        .query_map(params, |row| decode(row, scoped))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn print_plan(connection: &Connection, label: &str, sql: &str, params: &[&dyn ToSql]) {
    let mut statement = connection
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let details: Vec<String> = statement
        .query_map(params, |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    println!("  {label:<26} {}", details.join(" | "));
}

/// The shared store, the baseline database, and which tenant is measured.
struct Fixture {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    /// A plain connection to the store's file, with the store's profile.
    shared: Connection,
    /// A plain connection to the baselines' file, with the same profile.
    baseline: Connection,
    target: Target,
}

/// Builds both baselines from the store's file, rows in the store's order.
fn build_baselines(shared_path: &Path, baseline_path: &Path, tenants: &[TenantId]) {
    let connection = open_for_inspection(baseline_path, false).unwrap();
    connection
        .execute_batch(&baseline_schema(
            BASELINE_COLUMNS,
            " STRICT",
            "json_extract(data, '$.n')",
        ))
        .unwrap();
    connection
        .execute(
            "ATTACH DATABASE ?1 AS shared",
            [shared_path.to_str().unwrap()],
        )
        .unwrap();
    connection
        .execute_batch(
            "CREATE TEMP TABLE tenant_numbers (tenant_id BLOB PRIMARY KEY, k INTEGER NOT NULL)",
        )
        .unwrap();
    for (k, tenant) in tenants.iter().enumerate() {
        connection
            .execute(
                "INSERT INTO tenant_numbers (tenant_id, k) VALUES (?1, ?2)",
                rusqlite::params![tenant.as_bytes(), k],
            )
            .unwrap();
    }
    connection.execute_batch("BEGIN").unwrap();
    connection
        .execute(
            &format!(
                "INSERT INTO one_tenant_records ({UNSCOPED_COLUMNS})
                 SELECT {UNSCOPED_COLUMNS} FROM shared.records WHERE tenant_id = ?1 ORDER BY rowid"
            ),
            [measured(tenants).as_bytes()],
        )
        .unwrap();
    connection
        .execute_batch(&format!(
            "INSERT INTO all_tenants_records ({UNSCOPED_COLUMNS})
             SELECT r.id, r.collection || '_' || m.k, r.owner_id, r.version, r.created_at,
                    r.updated_at, r.data
             FROM shared.records r JOIN tenant_numbers m ON m.tenant_id = r.tenant_id
             ORDER BY r.rowid"
        ))
        .unwrap();
    connection.execute_batch("COMMIT").unwrap();
    connection.execute_batch("DETACH DATABASE shared").unwrap();
}

impl Fixture {
    fn new(tenants: usize, records_per_tenant: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shared_path = dir.path().join("bulkhead.db");
        let baseline_path = dir.path().join("baseline.db");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = SqliteStore::open(&shared_path, T0).unwrap();
        let started = Instant::now();
        let seeded = runtime.block_on(seed(&store, tenants, records_per_tenant));
        let tenant_ids: Vec<TenantId> = seeded.iter().map(|(id, _)| *id).collect();
        build_baselines(&shared_path, &baseline_path, &tenant_ids);
        println!(
            "seeded {tenants} tenants x {records_per_tenant} records through the store API, \
             and the baselines, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Self {
            shared: open_for_inspection(&shared_path, true).unwrap(),
            baseline: open_for_inspection(&baseline_path, true).unwrap(),
            _dir: dir,
            runtime,
            store,
            target: Target::of(&seeded),
        }
    }

    fn t(&self) -> &[u8; 16] {
        self.target.tenant.as_bytes()
    }

    async fn store_call(&self, case: &str, id: RecordId) -> usize {
        self.target.store_call(&self.store, case, id).await
    }

    /// The unscoped variants: their name, their table, and the collection
    /// the measured tenant's notes are in there.
    fn baselines(&self) -> [(&'static str, &'static str, &dyn ToSql); 2] {
        [
            (
                "raw_unscoped_one_tenant",
                "one_tenant_records",
                &COLLECTION as &dyn ToSql,
            ),
            (
                "raw_unscoped_all_tenants",
                "all_tenants_records",
                &self.target.all_tenants_collection,
            ),
        ]
    }
}

fn cases() -> [Case; 3] {
    [
        Case {
            name: "get_record",
            // Records::record
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = ?1 AND id = ?2 AND collection = ?3"
            ),
            unscoped_sql: |table| {
                format!("SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE id = ?1 AND collection = ?2")
            },
        },
        Case {
            name: "list_newest_20",
            // Records::list_records with no filter, owner or cursor
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = ?1 AND collection = ?2 \
                 ORDER BY {NEWEST_FIRST} LIMIT ?3"
            ),
            unscoped_sql: |table| {
                format!(
                    "SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE collection = ?1 \
                     ORDER BY {NEWEST_FIRST} LIMIT ?2"
                )
            },
        },
        Case {
            name: "list_filtered_20",
            // Records::list_records with record_query::filter of `n > 500`
            // (the unary `+` keeps a range on a field other than the leading
            // sort key from choosing that field's index)
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = ?1 AND collection = ?2 \
                 AND (+json_extract(data, '$.n') > ?3) ORDER BY {NEWEST_FIRST} LIMIT ?4"
            ),
            unscoped_sql: |table| {
                format!(
                    "SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE collection = ?1 \
                     AND (+json_extract(data, '$.n') > ?2) ORDER BY {NEWEST_FIRST} LIMIT ?3"
                )
            },
        },
    ]
}

/// The parameters of a case after the tenant (scoped) or alone (unscoped).
fn case_params<'a>(case: &str, id: &'a [u8; 16], collection: &'a dyn ToSql) -> Vec<&'a dyn ToSql> {
    match case {
        "get_record" => vec![id, collection],
        "list_newest_20" => vec![collection, &LIMIT],
        _ => vec![collection, &THRESHOLD, &LIMIT],
    }
}

fn with_tenant<'a>(tenant: &'a [u8; 16], rest: &[&'a dyn ToSql]) -> Vec<&'a dyn ToSql> {
    let mut params: Vec<&dyn ToSql> = vec![tenant];
    params.extend_from_slice(rest);
    params
}

impl Fixture {
    /// Every variant must give the same answer, or the comparison is void.
    fn check_and_explain(&self) {
        println!("query plans (EXPLAIN QUERY PLAN):");
        for case in cases() {
            let probes = self.target.probes(case.name);
            for id in probes {
                let expected = self
                    .target
                    .expected(&self.runtime, &self.store, case.name, *id);
                let scoped = with_tenant(
                    self.t(),
                    &case_params(case.name, id.as_bytes(), &COLLECTION),
                );
                let one = case_params(case.name, id.as_bytes(), &COLLECTION);
                let all = case_params(
                    case.name,
                    id.as_bytes(),
                    &self.target.all_tenants_collection,
                );
                let one_sql = (case.unscoped_sql)("one_tenant_records");
                let all_sql = (case.unscoped_sql)("all_tenants_records");
                for (variant, got) in [
                    (
                        "raw_scoped",
                        ids(&query(&self.shared, &case.scoped_sql, &scoped, true)),
                    ),
                    (
                        "raw_unscoped_one_tenant",
                        ids(&query(&self.baseline, &one_sql, &one, false)),
                    ),
                    (
                        "raw_unscoped_all_tenants",
                        ids(&query(&self.baseline, &all_sql, &all, false)),
                    ),
                ] {
                    assert_eq!(
                        got, expected,
                        "{} {variant} differs from the store",
                        case.name
                    );
                }
                if id == &probes[0] {
                    println!("{}:", case.name);
                    print_plan(&self.shared, "raw_scoped", &case.scoped_sql, &scoped);
                    print_plan(&self.baseline, "raw_unscoped_one_tenant", &one_sql, &one);
                    print_plan(&self.baseline, "raw_unscoped_all_tenants", &all_sql, &all);
                }
            }
        }
    }
}

fn bench(c: &mut Criterion, fixture: &Fixture) {
    for case in cases() {
        let mut group = c.benchmark_group(format!("sqlite_{}", case.name));
        let ids = &fixture.target.record_ids;
        let name = case.name;

        let mut timed = fixture
            .target
            .store_calls_timed(&fixture.runtime, &fixture.store, name);
        group.bench_function("store_tenant_tx", |b| b.iter_custom(&mut timed));

        let mut i = 0;
        group.bench_function("raw_scoped", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let rest = case_params(name, ids[i].as_bytes(), &COLLECTION);
                let params = with_tenant(fixture.t(), &rest);
                black_box(query(&fixture.shared, &case.scoped_sql, &params, true))
            })
        });

        for (variant, table, collection) in fixture.baselines() {
            let sql = (case.unscoped_sql)(table);
            let mut i = 0;
            group.bench_function(variant, |b| {
                b.iter(|| {
                    i = (i + 1) % ids.len();
                    let params = case_params(name, ids[i].as_bytes(), collection);
                    black_box(query(&fixture.baseline, &sql, &params, false))
                })
            });
        }
        group.finish();
    }
}

/// The interleaved check of the raw comparisons (see [`paired`]).
fn bench_paired(fixture: &Fixture) {
    let ids = &fixture.target.record_ids;
    for case in cases() {
        let group = format!("sqlite_{}", case.name);
        for (variant, table, collection) in fixture.baselines() {
            let sql = (case.unscoped_sql)(table);
            let ratio = paired(|scoped, calls| {
                for i in calls {
                    let id = ids[i % ids.len()].as_bytes();
                    if scoped {
                        let rest = case_params(case.name, id, &COLLECTION);
                        let params = with_tenant(fixture.t(), &rest);
                        black_box(query(&fixture.shared, &case.scoped_sql, &params, true));
                    } else {
                        let params = case_params(case.name, id, collection);
                        black_box(query(&fixture.baseline, &sql, &params, false));
                    }
                }
            });
            print_paired(&group, "raw_scoped", variant, ratio);
        }
        // The store's own machinery: the real path against its statement.
        let ratio = paired(|through_store, calls| {
            if through_store {
                fixture.runtime.block_on(async {
                    for i in calls {
                        black_box(fixture.store_call(case.name, ids[i % ids.len()]).await);
                    }
                });
            } else {
                for i in calls {
                    let rest = case_params(case.name, ids[i % ids.len()].as_bytes(), &COLLECTION);
                    let params = with_tenant(fixture.t(), &rest);
                    black_box(query(&fixture.shared, &case.scoped_sql, &params, true));
                }
            }
        });
        print_paired(&group, "store_tenant_tx", "raw_scoped", ratio);
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let full = full_run();
    let (tenants, records_per_tenant) = sizes(full);
    let fixture = Fixture::new(tenants, records_per_tenant);
    fixture.check_and_explain();
    bench(&mut criterion, &fixture);
    if full {
        bench_paired(&fixture);
    }
    criterion.final_summary();
}
