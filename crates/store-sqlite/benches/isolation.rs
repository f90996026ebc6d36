//! What the tenant boundary costs on SQLite: the store's record reads with
//! the tenant predicate, against the same reads of a deliberately unscoped
//! baseline that exists only in this benchmark.
//!
//! # The data
//!
//! [`TENANTS`] tenants, each with a collection `notes` (fields `title`,
//! `body`, `n`; an index declared on `n`) of [`RECORDS_PER_TENANT`] records,
//! all written through the public store API (`SqliteStore::open`,
//! `create_tenant`, `insert_collection`, `ensure_record_index`,
//! `insert_record`). Tenants write in turns of [`RECORDS_PER_TURN`] records,
//! so their rows interleave in the shared table as they would in production.
//! `n` is uniform in 0..1000, so `n > 500` keeps about half.
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
//! Criterion measures one variant after the other, seconds apart, and on a
//! shared machine the load (and with it the cost of a context switch or a
//! round trip) can change in between, by more than the few per cent this
//! looks for. So after criterion (under `cargo bench` only) each comparison
//! (`raw_scoped` against each baseline, `store_tenant_tx` against
//! `raw_scoped`) is measured once more with the two variants alternating in
//! ~2 ms batches, and the median ratio is printed as a `paired:` line: read
//! those for the overhead, criterion's for the times.
//!
//! `benches/isolation.sh` at the repository root runs this and prints the
//! overhead table. Run as a test (`cargo test --benches`), it seeds a tenth
//! of the data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "benchmark code: a failed setup stops the run, and it prints its plans"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bulkhead_domain::collection::{CollectionSchema, FieldDraft, FieldType, SchemaDraft};
use bulkhead_domain::filter::{TypedExpr, parse, typecheck};
use bulkhead_domain::{RecordId, TenantId, TenantSlug};
use bulkhead_store::{Access, NewCollection, NewRecord, NewTenant, RecordQuery, Store};
use bulkhead_store_sqlite::{SqliteStore, open_for_inspection};
use criterion::Criterion;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, ToSql};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// Tenants in the shared database.
const TENANTS: usize = 100;
/// Records of each tenant's `notes`.
const RECORDS_PER_TENANT: usize = 1_000;
/// Records a tenant writes per transaction before the next tenant's turn.
const RECORDS_PER_TURN: usize = 100;
/// The page size of the lists.
const LIMIT: i64 = 20;
/// The filter of `list_filtered_20`, and its threshold for the raw SQL.
const FILTER: &str = "n > 500";
const THRESHOLD: i64 = 500;
const COLLECTION: &str = "notes";

/// The store's `rows::RECORD_COLUMNS`.
const SCOPED_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";
/// The same without the tenant.
const UNSCOPED_COLUMNS: &str = "id, collection, owner_id, version, created_at, updated_at, data";
/// `record_query::order_by` for the default order.
const NEWEST_FIRST: &str = "created_at DESC NULLS LAST, id DESC NULLS LAST";

/// The baselines' tables: `records` minus `tenant_id`, with the store's
/// indexes minus `tenant_id` (`ix_records_created`, `ix_records_owner`, and
/// the index `ensure_record_index` creates for `n`).
const BASELINE_SCHEMA: &str = "
CREATE TABLE one_tenant_records (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    collection TEXT    NOT NULL,
    owner_id   BLOB,
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data       TEXT    NOT NULL
) STRICT;
CREATE INDEX one_tenant_created ON one_tenant_records (collection, created_at, id);
CREATE INDEX one_tenant_owner ON one_tenant_records (collection, owner_id, created_at, id);
CREATE INDEX one_tenant_n ON one_tenant_records (collection, json_extract(data, '$.n'));

CREATE TABLE all_tenants_records (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    collection TEXT    NOT NULL,
    owner_id   BLOB,
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data       TEXT    NOT NULL
) STRICT;
CREATE INDEX all_tenants_created ON all_tenants_records (collection, created_at, id);
CREATE INDEX all_tenants_owner ON all_tenants_records (collection, owner_id, created_at, id);
CREATE INDEX all_tenants_n ON all_tenants_records (collection, json_extract(data, '$.n'));
";

/// A record as the raw variants decode it: the same conversions as the
/// store's `rows::record` (blob ids, microsecond times, the JSON document).
#[derive(Debug, PartialEq)]
struct Row {
    tenant_id: Option<Uuid>,
    id: Uuid,
    collection: String,
    owner_id: Option<Uuid>,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    data: bulkhead_store::Document,
}

fn time_at(micros: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Decodes a row of `SCOPED_COLUMNS` (`scoped`) or `UNSCOPED_COLUMNS`.
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

/// The ids of rows, to compare the variants' answers.
fn ids(rows: &[Row]) -> Vec<Uuid> {
    rows.iter().map(|row| row.id).collect()
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
    tenant: TenantId,
    /// The measured tenant's collection in `all_tenants_records`.
    all_tenants_collection: String,
    record_ids: Vec<RecordId>,
    /// The store's queries of the two list cases.
    newest: RecordQuery,
    filtered: RecordQuery,
}

fn notes_schema() -> CollectionSchema {
    let field = |name: &str, field_type: &str| FieldDraft {
        name: name.into(),
        field_type: field_type.into(),
        required: true,
        unique: false,
        max_len: None,
        values: None,
        collection: None,
    };
    CollectionSchema::from_draft(SchemaDraft {
        name: COLLECTION.into(),
        fields: vec![
            field("title", "text"),
            field("body", "text"),
            field("n", "integer"),
        ],
        visibility: "tenant".into(),
        indexes: vec![vec!["n".into()]],
    })
    .unwrap()
}

const WORDS: &[&str] = &[
    "tenant", "boundary", "record", "index", "query", "page", "cursor", "schema", "note", "audit",
    "member", "invoice", "order", "status", "owner", "plan", "field", "value", "filter", "sort",
];

fn body(rng: &mut StdRng) -> String {
    let words: Vec<&str> = (0..rng.gen_range(20..40))
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    words.join(" ")
}

/// Seeds the store through its public API; returns every tenant and the
/// ids of its records.
async fn seed(
    store: &SqliteStore,
    tenants: usize,
    records_per_tenant: usize,
) -> Vec<(TenantId, Vec<RecordId>)> {
    let t0: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);
    let schema = notes_schema();
    let stored = serde_json::to_value(&schema).unwrap();
    let index = [("n".to_owned(), FieldType::Integer)];
    let mut seeded = Vec::with_capacity(tenants);
    for k in 0..tenants {
        let id = TenantId::new();
        let mut tx = store
            .create_tenant(NewTenant {
                id,
                slug: TenantSlug::parse(&format!("tenant-{k:03}")).unwrap(),
                name: format!("Tenant {k}"),
                plan: "free".into(),
                at: t0,
            })
            .await
            .unwrap();
        tx.insert_collection(NewCollection {
            name: COLLECTION.into(),
            schema: stored.clone(),
            visibility: bulkhead_domain::collection::Visibility::Tenant,
            at: t0,
        })
        .await
        .unwrap();
        tx.ensure_record_index(COLLECTION, &index).await.unwrap();
        tx.commit().await.unwrap();
        seeded.push((id, Vec::with_capacity(records_per_tenant)));
    }
    let mut rng = StdRng::seed_from_u64(0x6275_6c6b_6865_6164);
    let turns = records_per_tenant.div_ceil(RECORDS_PER_TURN);
    let mut tick: i64 = 0;
    for turn in 0..turns {
        for (k, (tenant, record_ids)) in seeded.iter_mut().enumerate() {
            let mut tx = store.tenant(*tenant, Access::Write).await.unwrap();
            let start = turn * RECORDS_PER_TURN;
            for i in start..(start + RECORDS_PER_TURN).min(records_per_tenant) {
                tick += 1;
                let id = RecordId::new();
                let data = serde_json::json!({
                    "title": format!("Note {i} of tenant {k}"),
                    "body": body(&mut rng),
                    "n": rng.gen_range(0..1000_i64),
                });
                tx.insert_record(NewRecord {
                    id,
                    collection: COLLECTION.into(),
                    owner_id: None,
                    data,
                    unique_values: Vec::new(),
                    at: t0 + time::Duration::milliseconds(tick),
                })
                .await
                .unwrap();
                record_ids.push(id);
            }
            tx.commit().await.unwrap();
        }
    }
    seeded
}

/// Builds both baselines from the store's file, rows in the store's order.
fn build_baselines(shared_path: &Path, baseline_path: &Path, tenants: &[TenantId]) {
    let connection = open_for_inspection(baseline_path, false).unwrap();
    connection.execute_batch(BASELINE_SCHEMA).unwrap();
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

/// The measured tenant: one in the middle of the key order.
fn measured<T>(tenants: &[T]) -> &T {
    &tenants[tenants.len() / 2]
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
        let store = SqliteStore::open(&shared_path, datetime!(2026-06-01 12:00:00 UTC)).unwrap();
        let started = Instant::now();
        let seeded = runtime.block_on(seed(&store, tenants, records_per_tenant));
        let tenant_ids: Vec<TenantId> = seeded.iter().map(|(id, _)| *id).collect();
        build_baselines(&shared_path, &baseline_path, &tenant_ids);
        println!(
            "seeded {tenants} tenants x {records_per_tenant} records through the store API, \
             and the baselines, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let k = seeded.len() / 2;
        let (tenant, record_ids) = measured(&seeded).clone();
        let filter: TypedExpr = typecheck(&parse(FILTER).unwrap(), &notes_schema()).unwrap();
        let query = |filter| RecordQuery {
            filter,
            limit: LIMIT as u32,
            ..RecordQuery::default()
        };
        Self {
            shared: open_for_inspection(&shared_path, true).unwrap(),
            baseline: open_for_inspection(&baseline_path, true).unwrap(),
            _dir: dir,
            runtime,
            store,
            tenant,
            all_tenants_collection: format!("{COLLECTION}_{k}"),
            record_ids,
            newest: query(None),
            filtered: query(Some(filter)),
        }
    }

    fn t(&self) -> &[u8; 16] {
        self.tenant.as_bytes()
    }
}

/// One case: the scoped statement and its unscoped form on a table.
struct Case {
    name: &'static str,
    scoped_sql: String,
    unscoped_sql: fn(table: &str) -> String,
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
    /// One call of the case through the store, as a request makes it: a
    /// read transaction of the tenant, the method, the commit. Returns how
    /// many records it found.
    async fn store_call(&self, case: &str, id: RecordId) -> usize {
        let mut tx = self.store.tenant(self.tenant, Access::Read).await.unwrap();
        let found = match case {
            "get_record" => usize::from(tx.record(COLLECTION, id).await.unwrap().is_some()),
            "list_newest_20" => tx
                .list_records(COLLECTION, &self.newest)
                .await
                .unwrap()
                .len(),
            _ => tx
                .list_records(COLLECTION, &self.filtered)
                .await
                .unwrap()
                .len(),
        };
        tx.commit().await.unwrap();
        found
    }

    /// The case through the real store: a read transaction of the tenant.
    fn through_store(&self, case: &str, id: RecordId) -> Vec<Uuid> {
        self.runtime.block_on(async {
            let mut tx = self.store.tenant(self.tenant, Access::Read).await.unwrap();
            let records = match case {
                "get_record" => tx
                    .record(COLLECTION, id)
                    .await
                    .unwrap()
                    .into_iter()
                    .collect(),
                "list_newest_20" => tx.list_records(COLLECTION, &self.newest).await.unwrap(),
                _ => tx.list_records(COLLECTION, &self.filtered).await.unwrap(),
            };
            tx.commit().await.unwrap();
            records.iter().map(|record| *record.id.as_uuid()).collect()
        })
    }

    /// Every variant must give the same answer, or the comparison is void.
    fn check_and_explain(&self) {
        println!("query plans (EXPLAIN QUERY PLAN):");
        for case in cases() {
            let probes: &[RecordId] = if case.name == "get_record" {
                &self.record_ids[..self.record_ids.len().min(50)]
            } else {
                &self.record_ids[..1]
            };
            for id in probes {
                let expected = self.through_store(case.name, *id);
                assert!(
                    !expected.is_empty(),
                    "{}: the store found nothing",
                    case.name
                );
                let scoped = with_tenant(
                    self.t(),
                    &case_params(case.name, id.as_bytes(), &COLLECTION),
                );
                let one = case_params(case.name, id.as_bytes(), &COLLECTION);
                let all = case_params(case.name, id.as_bytes(), &self.all_tenants_collection);
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
        let ids = &fixture.record_ids;
        let name = case.name;

        let mut i = 0;
        // One `block_on` per batch of iterations, not per call, so what the
        // store leaves to the runtime (sqlx returns a connection to its pool
        // in a spawned task) runs between calls as it would in a server.
        group.bench_function("store_tenant_tx", |b| {
            b.iter_custom(|iters| {
                fixture.runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        i = (i + 1) % ids.len();
                        black_box(fixture.store_call(name, ids[i]).await);
                    }
                    started.elapsed()
                })
            })
        });

        let mut i = 0;
        group.bench_function("raw_scoped", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let rest = case_params(name, ids[i].as_bytes(), &COLLECTION);
                let params = with_tenant(fixture.t(), &rest);
                black_box(query(&fixture.shared, &case.scoped_sql, &params, true))
            })
        });

        let all_tenants_collection: &dyn ToSql = &fixture.all_tenants_collection;
        for (variant, table, collection) in [
            (
                "raw_unscoped_one_tenant",
                "one_tenant_records",
                &COLLECTION as &dyn ToSql,
            ),
            (
                "raw_unscoped_all_tenants",
                "all_tenants_records",
                all_tenants_collection,
            ),
        ] {
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
    let ids = &fixture.record_ids;
    let all_tenants_collection: &dyn ToSql = &fixture.all_tenants_collection;
    for case in cases() {
        let group = format!("sqlite_{}", case.name);
        for (variant, table, collection) in [
            (
                "raw_unscoped_one_tenant",
                "one_tenant_records",
                &COLLECTION as &dyn ToSql,
            ),
            (
                "raw_unscoped_all_tenants",
                "all_tenants_records",
                all_tenants_collection,
            ),
        ] {
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

/// Rounds of the interleaved comparison.
const PAIRED_ROUNDS: usize = 301;

/// The median, over [`PAIRED_ROUNDS`] rounds, of the time of a batch of
/// `run(true, …)` over the time of the same batch of `run(false, …)` (each
/// call runs the calls numbered by its range), the two batches of a round
/// run back to back in alternating order. Criterion
/// measures one variant after the other, seconds apart, so load that comes
/// and goes on a shared machine can tilt its comparison; here it weighs on
/// both sides of every ratio alike. A batch lasts about 2 ms.
fn paired(mut run: impl FnMut(bool, std::ops::Range<usize>)) -> f64 {
    let mut batch = 1;
    loop {
        let started = Instant::now();
        run(false, 0..batch);
        if started.elapsed() >= std::time::Duration::from_millis(2) || batch >= 1 << 16 {
            break;
        }
        batch *= 2;
    }
    let mut time = |side: bool, round: usize| {
        let started = Instant::now();
        run(side, round * batch..(round + 1) * batch);
        started.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..PAIRED_ROUNDS)
        .map(|round| {
            if round % 2 == 0 {
                let a = time(true, round);
                a / time(false, round)
            } else {
                let b = time(false, round);
                time(true, round) / b
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[PAIRED_ROUNDS / 2]
}

fn print_paired(group: &str, scoped: &str, unscoped: &str, ratio: f64) {
    println!(
        "paired: {group} {scoped} / {unscoped} = {:+.1} % (median of {PAIRED_ROUNDS} interleaved rounds)",
        (ratio - 1.0) * 100.0
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    // `cargo bench` passes --bench; run as a test, seed a tenth.
    let full = std::env::args().any(|arg| arg == "--bench");
    let scale = if full { 1 } else { 10 };
    let fixture = Fixture::new(TENANTS / scale, RECORDS_PER_TENANT / scale);
    fixture.check_and_explain();
    bench(&mut criterion, &fixture);
    if full {
        bench_paired(&fixture);
    }
    criterion.final_summary();
}
