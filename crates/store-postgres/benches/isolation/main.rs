//! What the tenant boundary costs on PostgreSQL: the store's record reads
//! under forced row-level security, against the same reads of a
//! deliberately unscoped baseline that exists only in this benchmark.
//!
//! It creates a fresh database `bulkhead_bench_<uuid>` on the server at
//! `BULKHEAD_BENCH_DATABASE_URL` (or `BULKHEAD_TEST_DATABASE_URL`, or
//! `postgres://postgres@127.0.0.1:5432/postgres`; a superuser, trust
//! authentication), migrates it with the real `migrate` (runtime role
//! `bulkhead_app`), and drops it at the end. Without a reachable server it
//! prints why and measures nothing.
//!
//! # The data
//!
//! As in the SQLite benchmark (both seed through
//! `bulkhead_store_conformance::bench`): `TENANTS` tenants with a
//! collection `notes` (`title`, `body`, `n`; an index declared on `n`) of
//! `RECORDS_PER_TENANT` records each, written through `PgStore` (as the
//! runtime role, under row-level security) in turns of `RECORDS_PER_TURN`
//! records per tenant, so tenants' rows interleave in the heap. Then
//! `VACUUM (ANALYZE)` of the store's and the baselines' tables, as
//! autovacuum would have done on a live database.
//!
//! # The cases
//!
//! `get_record` (one record by id, cycling through the tenant's records),
//! `list_newest_20` (the default order) and `list_filtered_20` (`n > 500`).
//!
//! # The variants, and why these baselines
//!
//! On PostgreSQL the boundary is three things: `SET LOCAL
//! bulkhead.tenant_id` at the start of every tenant transaction, the
//! `tenant_isolation` policy that FORCE ROW LEVEL SECURITY adds to every
//! statement on a tenant table, and the `tenant_id = $1` the statements name
//! themselves (plus the `tenant_id` column leading every key). Dropping
//! `tenant_id = $1` alone measures nothing useful (the policy still filters)
//! and dropping the policy from the shared table changes the answers (every
//! tenant's notes), so the baselines are what an application without tenants
//! would have: tables without a `tenant_id` column, without row-level
//! security (so no policy applies to any role), whose keys and indexes are
//! the store's minus `tenant_id`, holding the same rows (copied from
//! `records`, so ids, times and documents are identical):
//!
//! - `raw_unscoped_one_tenant`: only the measured tenant's notes (the
//!   single-tenant application, a database per customer).
//! - `raw_unscoped_all_tenants`: every tenant's notes, each tenant's as its
//!   own collection `notes_<k>`, in the order the store wrote them: the same
//!   table size and the same 1,000-record collection per query, so its
//!   difference from `raw_scoped` is the boundary alone.
//! - `raw_scoped`: the statement the store issues (its text copied from the
//!   private `tenant/records.rs`/`record_query.rs`; the start-up check compares
//!   answers, not text, so a change to the store's SQL must be copied into
//!   [`cases`] by hand) in a transaction begun as `PgStore::begin` begins
//!   one: `BEGIN READ ONLY; SET LOCAL bulkhead.tenant_id = '…';` in one
//!   round trip (`begin_with`), the query, `COMMIT`.
//! - The unscoped variants run in the same transaction shape without the
//!   `SET LOCAL` (`BEGIN READ ONLY;`, query, `COMMIT`): the same three round
//!   trips, on the same connection, as the same runtime role (the baseline
//!   tables have no row-level security, so it does not apply to it).
//! - `store_tenant_tx`: the real path of a request through `PgStore`
//!   (`Store::tenant(…, Access::Read)`, the `TenantTx` method, `commit`).
//!   Its difference from `raw_scoped` is the store's own machinery (the
//!   pool, which pings each connection as it comes back, building the SQL,
//!   decoding into `Record`), not the boundary.
//!
//! Every raw variant decodes every column as the store does. Before
//! measuring, the plan of each raw statement is printed (`EXPLAIN`, run as
//! the runtime role inside its transaction, so under the policy).
//!
//! After criterion, under `cargo bench` only, each comparison is measured
//! once more with the two variants interleaved (see
//! `bulkhead_store_conformance::bench`): its `paired:` lines give the
//! overhead, criterion's the times. `benches/isolation.sh` at the repository
//! root runs this and prints the overhead table.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "benchmark code: a failed setup stops the run, and it prints its plans, or why it skips"
)]

use std::hint::black_box;
use std::time::Instant;

use bulkhead_domain::TenantId;
use bulkhead_store::Store;
use bulkhead_store_conformance::bench::{
    COLLECTION, Target, UNSCOPED_COLUMNS, baseline_schema, full_run, measured, paired,
    print_paired, seed, sizes,
};
use bulkhead_store_postgres::{MigrateOptions, PgStore, PoolSettings, migrate};
use criterion::Criterion;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

mod raw;
#[path = "../../tests/postgres/urls.rs"]
mod urls;

use raw::{begin_sql, cases, explain, raw_variant, run_raw};
use urls::{DEFAULT_ADMIN_URL, redact, with_user_and_database};

/// The baselines' columns: `records` minus `tenant_id`, with no row-level
/// security (their tables and indexes are `bench::baseline_schema`, with
/// the index `bulkhead_ensure_record_index` makes for an integer `n`).
const BASELINE_COLUMNS: &str = "
    id         uuid        NOT NULL PRIMARY KEY,
    collection text        NOT NULL,
    owner_id   uuid,
    version    bigint      NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    data       jsonb       NOT NULL
";

#[allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads where its database is, like the tests"
)]
fn admin_url() -> String {
    ["BULKHEAD_BENCH_DATABASE_URL", "BULKHEAD_TEST_DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()))
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// Builds both baselines as the owner (a superuser, so the policy does not
/// hide `records` from it), rows in the order the store wrote them.
async fn build_baselines(owner: &mut PgConnection, tenants: &[TenantId], app_role: &str) {
    sqlx::raw_sql(&baseline_schema(
        BASELINE_COLUMNS,
        "",
        "((data ->> 'n')::bigint)",
    ))
    .execute(&mut *owner)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO one_tenant_records ({UNSCOPED_COLUMNS})
         SELECT {UNSCOPED_COLUMNS} FROM records WHERE tenant_id = $1 ORDER BY created_at"
    ))
    .bind(measured(tenants).as_uuid())
    .execute(&mut *owner)
    .await
    .unwrap();
    let ids: Vec<Uuid> = tenants.iter().map(|t| *t.as_uuid()).collect();
    sqlx::query(&format!(
        "INSERT INTO all_tenants_records ({UNSCOPED_COLUMNS})
         SELECT r.id, r.collection || '_' || (m.k - 1), r.owner_id, r.version, r.created_at,
                r.updated_at, r.data
         FROM records r JOIN unnest($1::uuid[]) WITH ORDINALITY AS m (tenant_id, k)
              ON m.tenant_id = r.tenant_id
         ORDER BY r.created_at"
    ))
    .bind(&ids)
    .execute(&mut *owner)
    .await
    .unwrap();
    for statement in [
        format!("GRANT SELECT ON one_tenant_records, all_tenants_records TO {app_role}"),
        "VACUUM (ANALYZE) records".to_owned(),
        "VACUUM (ANALYZE) one_tenant_records".to_owned(),
        "VACUUM (ANALYZE) all_tenants_records".to_owned(),
    ] {
        owner.execute(statement.as_str()).await.unwrap();
    }
}

/// The fresh database, the store on it, and which tenant is measured.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    admin_url: String,
    database: String,
    store: PgStore,
    /// A plain connection as the runtime role, for every raw variant.
    raw: PgConnection,
    target: Target,
}

impl Fixture {
    /// `None` (after saying why) when there is no server to measure.
    fn new(tenants: usize, records_per_tenant: usize) -> Option<Self> {
        // A current-thread runtime: `block_on` drives the sockets itself, so
        // a round trip costs no wake-up of another thread, whose latency on
        // a busy machine would swamp what is measured (it is the same for
        // every variant, and not part of the boundary).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let admin_url = admin_url();
        let mut admin = match runtime.block_on(PgConnection::connect(&admin_url)) {
            Ok(admin) => admin,
            Err(error) => {
                let shown = redact(&admin_url);
                println!(
                    "SKIPPED: PostgreSQL at {shown} is not reachable ({error}); \
                     set BULKHEAD_BENCH_DATABASE_URL to a superuser URL to measure it"
                );
                return None;
            }
        };
        let database = format!("bulkhead_bench_{}", Uuid::now_v7().simple());
        let options = MigrateOptions::default();
        let owner_url = with_user_and_database(&admin_url, None, &database);
        let app_url = with_user_and_database(&admin_url, Some(&options.app_role), &database);
        let started = Instant::now();
        let (store, raw, seeded) = runtime.block_on(async {
            admin
                .execute(format!("CREATE DATABASE {database}").as_str())
                .await
                .unwrap();
            admin.close().await.unwrap();
            migrate(&owner_url, &options).await.unwrap();
            let store = PgStore::connect(&app_url, &PoolSettings::default())
                .await
                .unwrap();
            let seeded = seed(&store, tenants, records_per_tenant).await;
            let tenant_ids: Vec<TenantId> = seeded.iter().map(|(id, _)| *id).collect();
            let mut owner = PgConnection::connect(&owner_url).await.unwrap();
            build_baselines(&mut owner, &tenant_ids, &options.app_role).await;
            owner.close().await.unwrap();
            let raw = PgConnection::connect(&app_url).await.unwrap();
            (store, raw, seeded)
        });
        println!(
            "seeded {tenants} tenants x {records_per_tenant} records through PgStore as {}, \
             and the baselines, in {:.1} s (database {database})",
            options.app_role,
            started.elapsed().as_secs_f64()
        );
        Some(Self {
            runtime,
            admin_url,
            database,
            store,
            raw,
            target: Target::of(&seeded),
        })
    }

    /// Closes everything and drops the database.
    fn finish(self) {
        let Self {
            runtime,
            admin_url,
            database,
            store,
            raw,
            ..
        } = self;
        runtime.block_on(async {
            let _ = raw.close().await;
            store.close().await;
            let mut admin = PgConnection::connect(&admin_url).await.unwrap();
            admin
                .execute(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)").as_str())
                .await
                .unwrap();
            let _ = admin.close().await;
        });
    }
}

impl Fixture {
    /// Every variant must give the same answer, or the comparison is void.
    fn check_and_explain(&mut self) {
        println!("query plans (EXPLAIN, as the runtime role in the variant's transaction):");
        let tenant = *self.target.tenant.as_uuid();
        for case in cases() {
            let one_sql = (case.unscoped_sql)("one_tenant_records");
            let all_sql = (case.unscoped_sql)("all_tenants_records");
            let probes = self.target.probes(case.name).to_vec();
            for (n, id) in probes.iter().enumerate() {
                let expected = self
                    .target
                    .expected(&self.runtime, &self.store, case.name, *id);
                let variants = [
                    (
                        "raw_scoped",
                        raw_variant(&case, &case.scoped_sql, Some(tenant), *id, COLLECTION),
                    ),
                    (
                        "raw_unscoped_one_tenant",
                        raw_variant(&case, &one_sql, None, *id, COLLECTION),
                    ),
                    (
                        "raw_unscoped_all_tenants",
                        raw_variant(
                            &case,
                            &all_sql,
                            None,
                            *id,
                            &self.target.all_tenants_collection,
                        ),
                    ),
                ];
                if n == 0 {
                    println!("{}:", case.name);
                }
                for (variant, raw) in &variants {
                    let begin = begin_sql(raw.tenant);
                    let got: Vec<Uuid> = self
                        .runtime
                        .block_on(run_raw(&mut self.raw, raw, &begin))
                        .iter()
                        .map(|row| row.id)
                        .collect();
                    assert_eq!(
                        got, expected,
                        "{} {variant} differs from the store",
                        case.name
                    );
                    if n == 0 {
                        let plan = self.runtime.block_on(explain(&mut self.raw, raw));
                        println!("  {variant:<26} {plan}");
                    }
                }
            }
        }
    }
}

fn bench(c: &mut Criterion, fixture: &mut Fixture) {
    let tenant = *fixture.target.tenant.as_uuid();
    for case in cases() {
        let mut group = c.benchmark_group(format!("postgres_{}", case.name));
        let ids = fixture.target.record_ids.clone();
        let name = case.name;

        let mut timed = fixture
            .target
            .store_calls_timed(&fixture.runtime, &fixture.store, name);
        group.bench_function("store_tenant_tx", |b| b.iter_custom(&mut timed));

        let one_sql = (case.unscoped_sql)("one_tenant_records");
        let all_sql = (case.unscoped_sql)("all_tenants_records");
        let all_tenants_collection = fixture.target.all_tenants_collection.clone();
        for (variant, sql, scope, collection) in [
            (
                "raw_scoped",
                case.scoped_sql.as_str(),
                Some(tenant),
                COLLECTION,
            ),
            (
                "raw_unscoped_one_tenant",
                one_sql.as_str(),
                None,
                COLLECTION,
            ),
            (
                "raw_unscoped_all_tenants",
                all_sql.as_str(),
                None,
                all_tenants_collection.as_str(),
            ),
        ] {
            let begin = begin_sql(scope);
            let runtime = &fixture.runtime;
            let connection = &mut fixture.raw;
            let mut i = 0;
            group.bench_function(variant, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for _ in 0..iters {
                            i = (i + 1) % ids.len();
                            let raw = raw_variant(&case, sql, scope, ids[i], collection);
                            black_box(run_raw(connection, &raw, &begin).await);
                        }
                        started.elapsed()
                    })
                })
            });
        }
        group.finish();
    }
}

/// One side of an interleaved comparison: a statement, whether it binds the
/// tenant, the transaction's first statements, the collection it lists.
struct Side<'a> {
    label: &'a str,
    sql: &'a str,
    tenant: Option<Uuid>,
    begin: &'a str,
    collection: &'a str,
}

/// The interleaved check of the raw comparisons (see [`paired`]), and the
/// boundary taken apart: `raw_unscoped_all_tenants+set_local` is the
/// unscoped statement in a transaction begun with the scoped one's
/// `SET LOCAL`, so it splits the boundary into the `SET LOCAL` and the rest
/// (the policy, the predicate, the wider keys).
fn bench_paired(fixture: &mut Fixture) {
    let tenant = *fixture.target.tenant.as_uuid();
    let ids = fixture.target.record_ids.clone();
    let all_tenants_collection = fixture.target.all_tenants_collection.clone();
    let scoped_begin = begin_sql(Some(tenant));
    let unscoped_begin = begin_sql(None);
    for case in cases() {
        let group = format!("postgres_{}", case.name);
        let one_sql = (case.unscoped_sql)("one_tenant_records");
        let all_sql = (case.unscoped_sql)("all_tenants_records");
        let scoped = || Side {
            label: "raw_scoped",
            sql: &case.scoped_sql,
            tenant: Some(tenant),
            begin: &scoped_begin,
            collection: COLLECTION,
        };
        let all = |label, begin| Side {
            label,
            sql: &all_sql,
            tenant: None,
            begin,
            collection: &all_tenants_collection,
        };
        let one = Side {
            label: "raw_unscoped_one_tenant",
            sql: &one_sql,
            tenant: None,
            begin: &unscoped_begin,
            collection: COLLECTION,
        };
        for (a, b) in [
            (scoped(), one),
            (
                scoped(),
                all("raw_unscoped_all_tenants", unscoped_begin.as_str()),
            ),
            (
                scoped(),
                all("raw_unscoped_all_tenants+set_local", scoped_begin.as_str()),
            ),
            (
                all("raw_unscoped_all_tenants+set_local", scoped_begin.as_str()),
                all("raw_unscoped_all_tenants", unscoped_begin.as_str()),
            ),
        ] {
            let runtime = &fixture.runtime;
            let connection = &mut fixture.raw;
            let ratio = paired(|first, calls| {
                let side = if first { &a } else { &b };
                runtime.block_on(async {
                    for i in calls {
                        let id = ids[i % ids.len()];
                        let raw = raw_variant(&case, side.sql, side.tenant, id, side.collection);
                        black_box(run_raw(&mut *connection, &raw, side.begin).await);
                    }
                });
            });
            print_paired(&group, a.label, b.label, ratio);
        }
        // The store's own machinery: the real path against its statement.
        let (runtime, connection) = (&fixture.runtime, &mut fixture.raw);
        let (store, target) = (&fixture.store, &fixture.target);
        let ratio = paired(|through_store, calls| {
            runtime.block_on(async {
                for i in calls {
                    let id = ids[i % ids.len()];
                    if through_store {
                        black_box(target.store_call(store, case.name, id).await);
                    } else {
                        let raw =
                            raw_variant(&case, &case.scoped_sql, Some(tenant), id, COLLECTION);
                        black_box(run_raw(&mut *connection, &raw, &scoped_begin).await);
                    }
                }
            });
        });
        print_paired(&group, "store_tenant_tx", "raw_scoped", ratio);
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let full = full_run();
    let (tenants, records_per_tenant) = sizes(full);
    let Some(mut fixture) = Fixture::new(tenants, records_per_tenant) else {
        return;
    };
    fixture.check_and_explain();
    bench(&mut criterion, &mut fixture);
    if full {
        bench_paired(&mut fixture);
    }
    fixture.finish();
    criterion.final_summary();
}
