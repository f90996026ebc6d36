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
//! As in the SQLite benchmark: [`TENANTS`] tenants with a collection `notes`
//! (`title`, `body`, `n`; an index declared on `n`) of
//! [`RECORDS_PER_TENANT`] records each, written through `PgStore` (as the
//! runtime role, under row-level security) in turns of [`RECORDS_PER_TURN`]
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
use std::time::Instant;

use bulkhead_domain::collection::{CollectionSchema, FieldDraft, FieldType, SchemaDraft};
use bulkhead_domain::filter::{TypedExpr, parse, typecheck};
use bulkhead_domain::{RecordId, TenantId, TenantSlug};
use bulkhead_store::{Access, NewCollection, NewRecord, NewTenant, RecordQuery, Store};
use bulkhead_store_postgres::{MigrateOptions, PgStore, PoolSettings, migrate};
use criterion::Criterion;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgRow;
use sqlx::{Connection, Executor, PgConnection, Row as _};
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

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The store's `RECORD_COLUMNS`.
const SCOPED_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";
/// The same without the tenant.
const UNSCOPED_COLUMNS: &str = "id, collection, owner_id, version, created_at, updated_at, data";
/// `record_query::order_by` for the default order (never-null columns get
/// no `NULLS` clause).
const NEWEST_FIRST: &str = "created_at DESC, id DESC";

/// The baselines' tables: `records` minus `tenant_id`, no row-level
/// security, the store's indexes minus `tenant_id` (`ix_records_created`,
/// `ix_records_owner`, and the one `bulkhead_ensure_record_index` makes for
/// an integer `n`).
const BASELINE_SCHEMA: &str = "
CREATE TABLE one_tenant_records (
    id         uuid        NOT NULL PRIMARY KEY,
    collection text        NOT NULL,
    owner_id   uuid,
    version    bigint      NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    data       jsonb       NOT NULL
);
CREATE INDEX one_tenant_created ON one_tenant_records (collection, created_at, id);
CREATE INDEX one_tenant_owner ON one_tenant_records (collection, owner_id, created_at, id);
CREATE INDEX one_tenant_n ON one_tenant_records (collection, ((data ->> 'n')::bigint));

CREATE TABLE all_tenants_records (
    id         uuid        NOT NULL PRIMARY KEY,
    collection text        NOT NULL,
    owner_id   uuid,
    version    bigint      NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    data       jsonb       NOT NULL
);
CREATE INDEX all_tenants_created ON all_tenants_records (collection, created_at, id);
CREATE INDEX all_tenants_owner ON all_tenants_records (collection, owner_id, created_at, id);
CREATE INDEX all_tenants_n ON all_tenants_records (collection, ((data ->> 'n')::bigint));
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

/// `url` with another user (and no password) and another database.
fn with_user_and_database(url: &str, user: Option<&str>, database: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    if let Some(user) = user {
        parsed.set_username(user).unwrap();
        parsed.set_password(None).unwrap();
    }
    parsed.set_path(database);
    parsed.to_string()
}

/// A record as the raw variants decode it: the store's `record_row`.
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

fn decode(row: &PgRow, scoped: bool) -> sqlx::Result<Row> {
    Ok(Row {
        tenant_id: if scoped {
            Some(row.try_get("tenant_id")?)
        } else {
            None
        },
        id: row.try_get("id")?,
        collection: row.try_get("collection")?,
        owner_id: row.try_get("owner_id")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        data: bulkhead_store::Document::from_raw(
            row.try_get::<sqlx::types::Json<Box<serde_json::value::RawValue>>, _>("data")?
                .0,
        ),
    })
}

/// A bound parameter of the raw statements.
#[derive(Debug, Clone, Copy)]
enum Param<'a> {
    Uuid(Uuid),
    Text(&'a str),
    Int(i64),
}

/// One raw variant: the statement, its parameters, and the transaction
/// setting it begins with (the tenant, for the scoped variant).
#[derive(Debug)]
struct Raw<'a> {
    sql: &'a str,
    params: Vec<Param<'a>>,
    tenant: Option<Uuid>,
    /// `get_record` filters the collection after reading by primary key,
    /// as the store's `record` does.
    collection: Option<&'a str>,
}

fn bound<'q>(
    sql: &'q str,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(sql);
    for param in params {
        query = match *param {
            Param::Uuid(uuid) => query.bind(uuid),
            Param::Text(text) => query.bind(text),
            Param::Int(n) => query.bind(n),
        };
    }
    query
}

/// The statements that begin the transaction, in one round trip, as
/// `PgStore::begin` sends them for a read.
fn begin_sql(tenant: Option<Uuid>) -> String {
    match tenant {
        Some(tenant) => format!(
            "BEGIN READ ONLY; SET LOCAL bulkhead.tenant_id = '{}';",
            tenant.hyphenated()
        ),
        None => "BEGIN READ ONLY;".to_owned(),
    }
}

/// Runs a raw variant in its own read-only transaction.
async fn run_raw(connection: &mut PgConnection, raw: &Raw<'_>, begin: &str) -> Vec<Row> {
    let scoped = raw.tenant.is_some();
    let mut tx = connection.begin_with(begin.to_owned()).await.unwrap();
    let mut rows = bound(raw.sql, &raw.params)
        .try_map(|row: PgRow| decode(&row, scoped))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    if let Some(collection) = raw.collection {
        rows.retain(|row| row.collection == collection);
    }
    rows
}

async fn explain(connection: &mut PgConnection, raw: &Raw<'_>) -> String {
    let mut tx = connection.begin_with(begin_sql(raw.tenant)).await.unwrap();
    let sql = format!("EXPLAIN (COSTS OFF) {}", raw.sql);
    let lines: Vec<String> = bound(&sql, &raw.params)
        .try_map(|row: PgRow| row.try_get::<String, _>(0))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    lines
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join(" | ")
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
    store: &PgStore,
    tenants: usize,
    records_per_tenant: usize,
) -> Vec<(TenantId, Vec<RecordId>)> {
    let t0: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);
    let stored = serde_json::to_value(notes_schema()).unwrap();
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

/// Builds both baselines as the owner (a superuser, so the policy does not
/// hide `records` from it), rows in the order the store wrote them.
async fn build_baselines(owner: &mut PgConnection, tenants: &[TenantId], app_role: &str) {
    sqlx::raw_sql(BASELINE_SCHEMA)
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

/// One call of a case through the store, as a request makes it: a read
/// transaction of the tenant, the method, the commit. `queries` are the
/// list cases' queries (newest, filtered). Returns how many records it found.
async fn store_call(
    store: &PgStore,
    tenant: TenantId,
    queries: [&RecordQuery; 2],
    case: &str,
    id: RecordId,
) -> usize {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let found = match case {
        "get_record" => usize::from(tx.record(COLLECTION, id).await.unwrap().is_some()),
        "list_newest_20" => tx.list_records(COLLECTION, queries[0]).await.unwrap().len(),
        _ => tx.list_records(COLLECTION, queries[1]).await.unwrap().len(),
    };
    tx.commit().await.unwrap();
    found
}

/// The measured tenant: one in the middle of the key order.
fn measured<T>(tenants: &[T]) -> &T {
    &tenants[tenants.len() / 2]
}

/// The fresh database, the store on it, and which tenant is measured.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    admin_url: String,
    database: String,
    store: PgStore,
    /// A plain connection as the runtime role, for every raw variant.
    raw: PgConnection,
    tenant: TenantId,
    /// The measured tenant's collection in `all_tenants_records`.
    all_tenants_collection: String,
    record_ids: Vec<RecordId>,
    newest: RecordQuery,
    filtered: RecordQuery,
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
                let shown = url::Url::parse(&admin_url)
                    .map(|mut url| {
                        let _ = url.set_password(None);
                        url.to_string()
                    })
                    .unwrap_or_default();
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
        let k = seeded.len() / 2;
        let (tenant, record_ids) = measured(&seeded).clone();
        let filter: TypedExpr = typecheck(&parse(FILTER).unwrap(), &notes_schema()).unwrap();
        let query = |filter| RecordQuery {
            filter,
            limit: LIMIT as u32,
            ..RecordQuery::default()
        };
        Some(Self {
            runtime,
            admin_url,
            database,
            store,
            raw,
            tenant,
            all_tenants_collection: format!("{COLLECTION}_{k}"),
            record_ids,
            newest: query(None),
            filtered: query(Some(filter)),
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

    async fn store_call(&self, case: &str, id: RecordId) -> usize {
        store_call(
            &self.store,
            self.tenant,
            [&self.newest, &self.filtered],
            case,
            id,
        )
        .await
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
            // Records::record: by primary key, the collection checked after
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = $1 AND id = $2"
            ),
            unscoped_sql: |table| format!("SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE id = $1"),
        },
        Case {
            name: "list_newest_20",
            // Records::list_records with no filter, owner or cursor
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = $1 AND collection = $2 \
                 ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
            ),
            unscoped_sql: |table| {
                format!(
                    "SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE collection = $1 \
                     ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
                )
            },
        },
        Case {
            name: "list_filtered_20",
            // Records::list_records with record_query::push_filter of `n > 500`
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = $1 AND collection = $2 \
                 AND (((data ->> 'n')::bigint) > $3) ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
            ),
            unscoped_sql: |table| {
                format!(
                    "SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE collection = $1 \
                     AND (((data ->> 'n')::bigint) > $2) ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
                )
            },
        },
    ]
}

/// A raw variant of a case: scoped when `tenant` is given.
fn raw_variant<'a>(
    case: &'a Case,
    sql: &'a str,
    tenant: Option<Uuid>,
    id: RecordId,
    collection: &'a str,
) -> Raw<'a> {
    let mut params: Vec<Param<'a>> = tenant.map(Param::Uuid).into_iter().collect();
    match case.name {
        "get_record" => params.push(Param::Uuid(*id.as_uuid())),
        // LIMIT is a literal in the SQL, as in Records::list_records.
        "list_newest_20" => params.push(Param::Text(collection)),
        _ => params.extend([Param::Text(collection), Param::Int(THRESHOLD)]),
    }
    Raw {
        sql,
        params,
        tenant,
        collection: (case.name == "get_record").then_some(collection),
    }
}

impl Fixture {
    /// Every variant must give the same answer, or the comparison is void.
    fn check_and_explain(&mut self) {
        println!("query plans (EXPLAIN, as the runtime role in the variant's transaction):");
        let tenant = *self.tenant.as_uuid();
        for case in cases() {
            let one_sql = (case.unscoped_sql)("one_tenant_records");
            let all_sql = (case.unscoped_sql)("all_tenants_records");
            let probes: Vec<RecordId> = if case.name == "get_record" {
                self.record_ids.iter().take(50).copied().collect()
            } else {
                self.record_ids[..1].to_vec()
            };
            for (n, id) in probes.iter().enumerate() {
                let expected = self.through_store(case.name, *id);
                assert!(
                    !expected.is_empty(),
                    "{}: the store found nothing",
                    case.name
                );
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
                        raw_variant(&case, &all_sql, None, *id, &self.all_tenants_collection),
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
    let tenant = *fixture.tenant.as_uuid();
    for case in cases() {
        let mut group = c.benchmark_group(format!("postgres_{}", case.name));
        let ids = fixture.record_ids.clone();
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

        let one_sql = (case.unscoped_sql)("one_tenant_records");
        let all_sql = (case.unscoped_sql)("all_tenants_records");
        let all_tenants_collection = fixture.all_tenants_collection.clone();
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
    let tenant = *fixture.tenant.as_uuid();
    let ids = fixture.record_ids.clone();
    let all_tenants_collection = fixture.all_tenants_collection.clone();
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
        let (store, queries) = (&fixture.store, [&fixture.newest, &fixture.filtered]);
        let tenant_id = fixture.tenant;
        let ratio = paired(|through_store, calls| {
            runtime.block_on(async {
                for i in calls {
                    let id = ids[i % ids.len()];
                    if through_store {
                        black_box(store_call(store, tenant_id, queries, case.name, id).await);
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
    let Some(mut fixture) = Fixture::new(TENANTS / scale, RECORDS_PER_TENANT / scale) else {
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
