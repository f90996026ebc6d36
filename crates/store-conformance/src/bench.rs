//! What the backends' isolation benchmarks share
//! (`crates/store-sqlite/benches/isolation.rs` and
//! `crates/store-postgres/benches/isolation/main.rs`; their module docs say what
//! they measure and why): the data, seeded through the public store API;
//! the measured tenant and the store's own reads of it; and the interleaved
//! comparison that their `paired:` lines print.
//!
//! Each benchmark keeps what is its backend's: the baselines, the raw
//! statements (copied from the backend's private SQL) and how it runs them.
//!
//! Criterion measures one variant after the other, seconds apart, and on a
//! shared machine the load (and with it the cost of a context switch or a
//! round trip) can change in between, by more than the few per cent the
//! benchmarks look for. So after criterion (under `cargo bench` only) each
//! comparison (`raw_scoped` against each baseline, `store_tenant_tx` against
//! `raw_scoped`) is measured once more with the two variants alternating in
//! ~2 ms batches ([`paired`]), and the median ratio is printed as a
//! `paired:` line: read those for the overhead, criterion's for the times.
//! Run as a test (`cargo test --benches`), a benchmark seeds a tenth of the
//! data ([`sizes`]).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bulkhead_domain::collection::{CollectionSchema, FieldDraft, FieldType, SchemaDraft};
use bulkhead_domain::filter::{TypedExpr, parse, typecheck};
use bulkhead_domain::{RecordId, TenantId, TenantSlug};
use bulkhead_store::{Access, Document, NewRecord, NewTenant, RecordQuery, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// Tenants in the shared database.
pub const TENANTS: usize = 100;
/// Records of each tenant's `notes`.
pub const RECORDS_PER_TENANT: usize = 1_000;
/// Records a tenant writes per transaction before the next tenant's turn.
pub const RECORDS_PER_TURN: usize = 100;
/// The page size of the lists.
pub const LIMIT: i64 = 20;
/// The filter of `list_filtered_20`, and its threshold for the raw SQL.
pub const FILTER: &str = "n > 500";
pub const THRESHOLD: i64 = 500;
pub const COLLECTION: &str = "notes";

/// The store's record columns (`RECORD_COLUMNS` of both backends).
pub const SCOPED_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";
/// The same without the tenant.
pub const UNSCOPED_COLUMNS: &str =
    "id, collection, owner_id, version, created_at, updated_at, data";

/// The time of the first write.
pub const T0: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);

/// Whether this is a measuring run: `cargo bench` passes `--bench`, and run
/// as a test (`cargo test --benches`) a benchmark seeds a tenth of the data.
pub fn full_run() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// How many tenants and records per tenant a run seeds.
pub fn sizes(full: bool) -> (usize, usize) {
    let scale = if full { 1 } else { 10 };
    (TENANTS / scale, RECORDS_PER_TENANT / scale)
}

/// One case: the scoped statement and its unscoped form on a table.
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    pub scoped_sql: String,
    pub unscoped_sql: fn(table: &str) -> String,
}

/// A record as the raw variants decode it, with the same conversions as
/// the store, so that every variant does the same work.
#[derive(Debug, PartialEq)]
pub struct Row {
    pub tenant_id: Option<Uuid>,
    pub id: Uuid,
    pub collection: String,
    pub owner_id: Option<Uuid>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub data: Document,
}

/// The baselines' tables, `one_tenant_records` and `all_tenants_records`:
/// `columns` (the store's `records` minus `tenant_id`, in the backend's
/// types, then `table_options`) with the store's indexes minus `tenant_id`
/// (`ix_records_created`, `ix_records_owner`, and the index the store makes
/// for `n`, on `n_expression`).
pub fn baseline_schema(columns: &str, table_options: &str, n_expression: &str) -> String {
    ["one_tenant", "all_tenants"]
        .map(|prefix| {
            format!(
                "CREATE TABLE {prefix}_records ({columns}){table_options};
CREATE INDEX {prefix}_created ON {prefix}_records (collection, created_at, id);
CREATE INDEX {prefix}_owner ON {prefix}_records (collection, owner_id, created_at, id);
CREATE INDEX {prefix}_n ON {prefix}_records (collection, {n_expression});
"
            )
        })
        .join("\n")
}

/// The ids of rows, to compare the variants' answers.
pub fn ids(rows: &[Row]) -> Vec<Uuid> {
    rows.iter().map(|row| row.id).collect()
}

/// The `notes` collection: `title`, `body`, `n`, with an index on `n`.
pub fn notes_schema() -> CollectionSchema {
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
/// ids of its records. Tenants write in turns of [`RECORDS_PER_TURN`]
/// records, so their rows interleave as they would in production.
pub async fn seed(
    store: &dyn Store,
    tenants: usize,
    records_per_tenant: usize,
) -> Vec<(TenantId, Vec<RecordId>)> {
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
                plan: "enterprise".into(),
                at: T0,
            })
            .await
            .unwrap();
        tx.insert_collection(crate::fixtures::collection(COLLECTION, stored.clone(), T0))
            .await
            .unwrap();
        tx.ensure_record_index(&index).await.unwrap();
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
                    at: T0 + time::Duration::milliseconds(tick),
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

/// The measured one of the seeded tenants (the middle one).
pub fn measured<T>(tenants: &[T]) -> &T {
    &tenants[tenants.len() / 2]
}

/// The measured tenant and the store's reads of it.
#[derive(Debug, Clone)]
pub struct Target {
    pub tenant: TenantId,
    /// The measured tenant's collection in the all-tenants baseline.
    pub all_tenants_collection: String,
    pub record_ids: Vec<RecordId>,
    /// The store's queries of the two list cases.
    pub newest: RecordQuery,
    pub filtered: RecordQuery,
}

impl Target {
    pub fn of(seeded: &[(TenantId, Vec<RecordId>)]) -> Self {
        let k = seeded.len() / 2;
        let (tenant, record_ids) = measured(seeded).clone();
        let filter: TypedExpr = typecheck(&parse(FILTER).unwrap(), &notes_schema()).unwrap();
        let query = |filter| RecordQuery {
            filter,
            limit: LIMIT as u32,
            ..RecordQuery::default()
        };
        Self {
            tenant,
            all_tenants_collection: format!("{COLLECTION}_{k}"),
            record_ids,
            newest: query(None),
            filtered: query(Some(filter)),
        }
    }

    /// The records a case is checked with: fifty reads by id, or one list.
    pub fn probes(&self, case: &str) -> &[RecordId] {
        if case == "get_record" {
            &self.record_ids[..self.record_ids.len().min(50)]
        } else {
            &self.record_ids[..1]
        }
    }

    /// One call of the case through the store, as a request makes it: a
    /// read transaction of the tenant, the method, the commit. Returns how
    /// many records it found.
    pub async fn store_call(&self, store: &dyn Store, case: &str, id: RecordId) -> usize {
        let mut tx = store.tenant(self.tenant, Access::Read).await.unwrap();
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

    /// What the store finds for the case, which every variant must find
    /// too: never nothing, or the comparison would be void.
    pub fn expected(
        &self,
        runtime: &tokio::runtime::Runtime,
        store: &dyn Store,
        case: &str,
        id: RecordId,
    ) -> Vec<Uuid> {
        let expected = runtime.block_on(self.through_store(store, case, id));
        assert!(!expected.is_empty(), "{case}: the store found nothing");
        expected
    }

    /// The ids the case finds through the store.
    pub async fn through_store(&self, store: &dyn Store, case: &str, id: RecordId) -> Vec<Uuid> {
        let mut tx = store.tenant(self.tenant, Access::Read).await.unwrap();
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
    }

    /// The `store_tenant_tx` variant, for criterion's `iter_custom`: each
    /// call times `iters` calls of the case through the store, cycling
    /// through the records. Run in one `block_on` per batch of iterations,
    /// not per call, so that what the store leaves to the runtime (sqlx
    /// returns a connection to its pool in a spawned task) runs between
    /// calls as it would in a server.
    pub fn store_calls_timed<'a>(
        &'a self,
        runtime: &'a tokio::runtime::Runtime,
        store: &'a dyn Store,
        case: &'a str,
    ) -> impl FnMut(u64) -> Duration + 'a {
        let ids = &self.record_ids;
        let mut i = 0;
        move |iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    i = (i + 1) % ids.len();
                    black_box(self.store_call(store, case, ids[i]).await);
                }
                started.elapsed()
            })
        }
    }
}

/// Rounds of the interleaved comparison.
pub const PAIRED_ROUNDS: usize = 301;

/// The median, over [`PAIRED_ROUNDS`] rounds, of the time of a batch of
/// `run(true, …)` over the time of the same batch of `run(false, …)` (each
/// call runs the calls numbered by its range), the two batches of a round
/// run back to back in alternating order. Criterion measures one variant
/// after the other, seconds apart, so load that comes and goes on a shared
/// machine can tilt its comparison; here it weighs on both sides of every
/// ratio alike. A batch lasts about 2 ms.
pub fn paired(mut run: impl FnMut(bool, std::ops::Range<usize>)) -> f64 {
    let mut batch = 1;
    loop {
        let started = Instant::now();
        run(false, 0..batch);
        if started.elapsed() >= Duration::from_millis(2) || batch >= 1 << 16 {
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

#[allow(
    clippy::print_stdout,
    reason = "benchmark output: `benches/isolation.sh` reads these lines"
)]
pub fn print_paired(group: &str, scoped: &str, unscoped: &str, ratio: f64) {
    println!(
        "paired: {group} {scoped} / {unscoped} = {:+.1} % (median of {PAIRED_ROUNDS} interleaved rounds)",
        (ratio - 1.0) * 100.0
    );
}
