//! A model-based case: random sequences of record operations on two
//! tenants, each checked against an in-memory model of what the store must
//! hold, with listings checked through the [`reference`] evaluation.
//!
//! Every assertion names the sequence's seed, so a failure can be replayed
//! by running that one sequence.

use std::collections::BTreeMap;

use bulkhead_domain::filter::{parse, parse_sort, typecheck};
use bulkhead_domain::{
    CollectionName, CollectionSchema, FieldDef, FieldName, FieldType, RecordId, TenantId, UserId,
    Visibility,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::TestStore;
use crate::fixtures::{self, at};
use crate::reference;
use bulkhead_store::{
    Access, ConflictKind, Document, Record, RecordChange, RecordQuery, Store, StoreError,
    UniqueValue, Write,
};

const ITEMS: &str = "items";
/// Sequence `n` runs with seed `SEED + n`.
const SEED: u64 = 0x4d0d_e100;
const SEQUENCES: u64 = 20;
const OPS: usize = 40;

const TITLES: [&str; 6] = ["apple", "Apple", "banana", "cherry", "ápple", "a_b"];
const PRICES: [&str; 7] = ["-3", "0", "0.001", "2.5", "7", "10.5", "100"];
/// A small pool, so that creates often pick a code already taken.
const CODES: [&str; 10] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"];

const FILTERS: [Option<&str>; 12] = [
    None,
    Some(r#"title = "apple""#),
    Some(r#"title ~ "pp""#),
    Some(r#"title < "b""#),
    Some("qty > 0"),
    Some("qty <= -2"),
    Some("price = null"),
    Some("price != null"),
    Some("price > 2.5"),
    Some("!(price < 7)"),
    Some(r#"code in ("k1", "k3", "k5", "k7")"#),
    Some(r#"qty >= 0 && (title ~ "a" || price = null)"#),
];

const SORTS: [&str; 11] = [
    "",
    "title",
    "-title",
    "-qty",
    "price",
    "-price",
    "code",
    "title,-qty",
    "created_at",
    "-updated_at",
    "owner_id,price",
];

fn items_schema() -> CollectionSchema {
    let field = |name: &str, field_type: FieldType, required: bool, unique: bool| FieldDef {
        name: FieldName::parse(name).unwrap(),
        field_type,
        required,
        unique,
    };
    CollectionSchema::new(
        CollectionName::parse(ITEMS).unwrap(),
        vec![
            field("title", FieldType::Text { max_len: None }, true, false),
            field("qty", FieldType::Integer, true, false),
            field("price", FieldType::Decimal, false, false),
            field("code", FieldType::Text { max_len: None }, true, true),
        ],
        Visibility::Tenant,
        Vec::new(),
    )
    .unwrap()
}

/// What one tenant's `items` must hold.
struct Model {
    tenant: TenantId,
    records: BTreeMap<RecordId, Record>,
    /// Ids of records this tenant created and then deleted.
    deleted: Vec<RecordId>,
}

impl Model {
    fn code_holder(&self, code: &str) -> Option<RecordId> {
        self.records
            .values()
            .find(|record| record.data.field("code").is_some_and(|held| held == code))
            .map(|record| record.id)
    }

    fn live(&self) -> Vec<RecordId> {
        self.records.keys().copied().collect()
    }
}

/// One sequence's state: two tenants, their models and a clock.
struct Run<'a> {
    store: &'a dyn Store,
    schema: CollectionSchema,
    owners: [UserId; 2],
    models: [Model; 2],
    rng: StdRng,
    seed: u64,
    clock: i64,
    /// How often each outcome was checked, across all sequences.
    seen: BTreeMap<&'static str, usize>,
}

/// Which record an operation is aimed at, and what the model says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A live record of the acting tenant.
    Live,
    /// A record of the acting tenant that was deleted.
    Deleted,
    /// A live record of the other tenant.
    Foreign,
}

fn ok<T>(result: Result<T, StoreError>, ctx: &str) -> T {
    result.unwrap_or_else(|error| panic!("{ctx}: unexpected store error {error:?}"))
}

impl Run<'_> {
    fn saw(&mut self, outcome: &'static str) {
        *self.seen.entry(outcome).or_default() += 1;
    }

    /// Checks a write of a record that is not there (`current` is `None`)
    /// or with a `stale` expected version, which must be refused; returns
    /// the current record when the write must instead have been done.
    fn refused_unless_done<T: std::fmt::Debug + PartialEq>(
        &mut self,
        written: &Write<T>,
        current: Option<Record>,
        target: Target,
        stale: bool,
        ctx: &str,
    ) -> Option<Record> {
        let Some(current) = current else {
            assert_eq!(*written, Write::NotFound, "{ctx}");
            self.saw(if target == Target::Foreign {
                "foreign not found"
            } else {
                "deleted not found"
            });
            return None;
        };
        if stale {
            assert_eq!(
                *written,
                Write::VersionMismatch {
                    current: current.version
                },
                "{ctx}"
            );
            self.saw("version mismatch");
            return None;
        }
        Some(current)
    }

    fn now(&mut self) -> time::OffsetDateTime {
        self.clock += 1;
        at(self.clock)
    }

    fn random_data(&mut self, code: &str) -> Value {
        let mut data = json!({
            "title": *TITLES.choose(&mut self.rng).unwrap(),
            "qty": self.rng.gen_range(-3..=3),
            "code": code,
        });
        if self.rng.gen_bool(0.7) {
            data["price"] = json!(*PRICES.choose(&mut self.rng).unwrap());
        }
        data
    }

    /// A target of the wanted kind, falling back to a live one, or `None`
    /// when the acting tenant has no records at all.
    fn target(&mut self, side: usize) -> Option<(Target, RecordId)> {
        let wanted = match self.rng.gen_range(0..10) {
            0..=6 => Target::Live,
            7 | 8 => Target::Deleted,
            _ => Target::Foreign,
        };
        let pick = |ids: Vec<RecordId>, rng: &mut StdRng| ids.choose(rng).copied();
        let found = match wanted {
            Target::Live => None,
            Target::Deleted => pick(self.models[side].deleted.clone(), &mut self.rng),
            Target::Foreign => pick(self.models[1 - side].live(), &mut self.rng),
        };
        match found {
            Some(id) => Some((wanted, id)),
            None => pick(self.models[side].live(), &mut self.rng).map(|id| (Target::Live, id)),
        }
    }

    async fn create(&mut self, side: usize, ctx: &str) {
        let id: RecordId = fixtures::seeded_id(&mut self.rng);
        let code = *CODES.choose(&mut self.rng).unwrap();
        let data = self.random_data(code);
        let owner = match self.rng.gen_range(0..3) {
            0 => None,
            n => Some(self.owners[n - 1]),
        };
        let now = self.now();
        let ctx = format!("{ctx}: create {id} with {data}");
        let model = &mut self.models[side];
        let mut tx = ok(self.store.tenant(model.tenant, Access::Write).await, &ctx);
        let result = tx
            .insert_record(fixtures::record(
                ITEMS,
                id,
                owner,
                data.clone(),
                &[("code", code)],
                now,
            ))
            .await;
        if let Some(holder) = model.code_holder(code) {
            match result {
                Err(StoreError::Conflict(ConflictKind::UniqueValue)) => {}
                other => panic!(
                    "{ctx}: code {code} is held by {holder}, expected \
                     Conflict(UniqueValue), got {other:?}"
                ),
            }
            // Dropped: rolled back.
            self.saw("create conflict");
            return;
        }
        let expected = Record {
            tenant_id: model.tenant,
            id,
            collection: ITEMS.into(),
            owner_id: owner,
            version: 1,
            created_at: now,
            updated_at: now,
            data: Document::from_value(&data).unwrap(),
        };
        assert_eq!(ok(result, &ctx), expected, "{ctx}: the created record");
        ok(tx.commit().await, &ctx);
        model.records.insert(id, expected);
        self.saw("create done");
    }

    async fn update(&mut self, side: usize, ctx: &str) {
        let Some((target, id)) = self.target(side) else {
            return;
        };
        let current = self.models[side].records.get(&id).cloned();
        // Keep the record's code or take a free one, so that the only
        // possible refusal is about the version.
        let code = match &current {
            Some(record) if self.rng.gen_bool(0.5) => record
                .data
                .field("code")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned(),
            _ => {
                let free: Vec<&str> = CODES
                    .into_iter()
                    .filter(|code| self.models[side].code_holder(code).is_none())
                    .collect();
                match free.choose(&mut self.rng) {
                    Some(code) => (*code).to_owned(),
                    None => return,
                }
            }
        };
        let version = current.as_ref().map_or(1, |record| record.version);
        let (expected_version, stale) = match self.rng.gen_range(0..4) {
            0 => (None, false),
            1 if version > 1 => (Some(version - 1), true),
            1 => (Some(version + 1), true),
            _ => (Some(version), false),
        };
        let data = self.random_data(&code);
        let now = self.now();
        let ctx = format!(
            "{ctx}: update {target:?} {id} expecting version {expected_version:?} to {data}"
        );
        let model = &mut self.models[side];
        let mut tx = ok(self.store.tenant(model.tenant, Access::Write).await, &ctx);
        let written = ok(
            tx.update_record(RecordChange {
                collection: ITEMS.into(),
                id,
                expected_version,
                data: data.clone(),
                unique_values: vec![UniqueValue {
                    field: "code".into(),
                    value: code,
                }],
                at: now,
            })
            .await,
            &ctx,
        );
        let Some(current) = self.refused_unless_done(&written, current, target, stale, &ctx) else {
            return;
        };
        let model = &mut self.models[side];
        let expected = Record {
            version: current.version + 1,
            updated_at: now,
            data: Document::from_value(&data).unwrap(),
            ..current
        };
        assert_eq!(written, Write::Done(expected.clone()), "{ctx}");
        ok(tx.commit().await, &ctx);
        model.records.insert(id, expected);
        self.saw("update done");
    }

    async fn delete(&mut self, side: usize, ctx: &str) {
        let Some((target, id)) = self.target(side) else {
            return;
        };
        let current = self.models[side].records.get(&id).cloned();
        let version = current.as_ref().map_or(1, |record| record.version);
        let (expected_version, stale) = match self.rng.gen_range(0..4) {
            0 => (Some(version + 1), true),
            1 => (Some(version), false),
            _ => (None, false),
        };
        let ctx = format!("{ctx}: delete {target:?} {id} expecting version {expected_version:?}");
        let model = &mut self.models[side];
        let mut tx = ok(self.store.tenant(model.tenant, Access::Write).await, &ctx);
        let written = ok(tx.delete_record(ITEMS, id, expected_version).await, &ctx);
        let Some(current) = self.refused_unless_done(&written, current, target, stale, &ctx) else {
            return;
        };
        let model = &mut self.models[side];
        assert_eq!(written, Write::Done(current), "{ctx}");
        ok(tx.commit().await, &ctx);
        model.records.remove(&id);
        model.deleted.push(id);
        self.saw("delete done");
    }

    async fn get(&mut self, side: usize, ctx: &str) {
        let Some((target, id)) = self.target(side) else {
            return;
        };
        let ctx = format!("{ctx}: get {target:?} {id}");
        let model = &self.models[side];
        let mut tx = ok(self.store.tenant(model.tenant, Access::Read).await, &ctx);
        let found = ok(tx.record(ITEMS, id).await, &ctx);
        assert_eq!(found, model.records.get(&id).cloned(), "{ctx}");
        self.saw(if found.is_some() {
            "get found"
        } else {
            "get none"
        });
    }

    fn query(&mut self, filter: Option<&str>, sort: &str) -> RecordQuery {
        let owner = match self.rng.gen_range(0..5) {
            0 => Some(self.owners[0]),
            _ => None,
        };
        RecordQuery {
            filter: filter.map(|text| typecheck(&parse(text).unwrap(), &self.schema).unwrap()),
            sort: if sort.is_empty() {
                Vec::new()
            } else {
                parse_sort(sort, &self.schema).unwrap()
            },
            after: None,
            owner,
            limit: 1000,
        }
    }

    async fn list(&self, side: usize, query: &RecordQuery, ctx: &str) {
        let model = &self.models[side];
        let mut tx = ok(self.store.tenant(model.tenant, Access::Read).await, ctx);
        let listed = ok(tx.list_records(ITEMS, query).await, ctx);
        let records: Vec<Record> = model.records.values().cloned().collect();
        let expected = reference::list(&records, query, None);
        let ids = |records: &[Record]| records.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(&listed),
            ids(&expected),
            "{ctx}: listed ids in the order {:?}",
            query.order()
        );
        assert_eq!(listed, expected, "{ctx}: listed records");
    }

    async fn random_list(&mut self, side: usize, ctx: &str) {
        let filter = *FILTERS.choose(&mut self.rng).unwrap();
        let sort = *SORTS.choose(&mut self.rng).unwrap();
        let query = self.query(filter, sort);
        let ctx = format!(
            "{ctx}: list filter {filter:?} sort {sort:?} owner {:?}",
            query.owner
        );
        self.list(side, &query, &ctx).await;
        self.saw("list");
    }
}

pub async fn records_match_an_in_memory_model_under_random_operations(ts: &TestStore) {
    let store = &*ts.store;
    let admin = fixtures::user(store, "admin@example.com").await;
    let owners = [
        fixtures::user(store, "owner-1@example.com").await.id,
        fixtures::user(store, "owner-2@example.com").await.id,
    ];
    let schema = items_schema();
    let schema_json = serde_json::to_value(&schema).unwrap();
    let mut seen = BTreeMap::new();
    for sequence in 0..SEQUENCES {
        let seed = SEED + sequence;
        let mut models = Vec::new();
        for name in ["a", "b"] {
            let tenant = fixtures::tenant(store, &format!("model-{sequence}-{name}"), &admin).await;
            let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
            tx.insert_collection(fixtures::collection(ITEMS, schema_json.clone(), at(0)))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            models.push(Model {
                tenant: tenant.id,
                records: BTreeMap::new(),
                deleted: Vec::new(),
            });
        }
        let [a, b] = <[Model; 2]>::try_from(models).ok().unwrap();
        let mut run = Run {
            store,
            schema: schema.clone(),
            owners,
            models: [a, b],
            rng: StdRng::seed_from_u64(seed),
            seed,
            clock: 0,
            seen,
        };
        for op in 0..OPS {
            let side = run.rng.gen_range(0..2);
            let ctx = format!(
                "seed {} (sequence {sequence}), op {op}, tenant {side}",
                run.seed
            );
            let kind = match run.rng.gen_range(0..20) {
                0..=6 => 0,
                7..=10 => 1,
                11..=13 => 2,
                14..=16 => 3,
                _ => 4,
            };
            match kind {
                0 => run.create(side, &ctx).await,
                1 => run.update(side, &ctx).await,
                2 => run.delete(side, &ctx).await,
                3 => run.get(side, &ctx).await,
                _ => run.random_list(side, &ctx).await,
            }
        }
        for side in 0..2 {
            let ctx = format!(
                "seed {} (sequence {sequence}), after the sequence, tenant {side}: full listing",
                run.seed
            );
            let query = run.query(None, "created_at");
            let query = RecordQuery {
                owner: None,
                ..query
            };
            run.list(side, &query, &ctx).await;
        }
        seen = run.seen;
    }
    // Guard against a generator that stopped exercising some outcome.
    for outcome in [
        "create done",
        "create conflict",
        "update done",
        "delete done",
        "version mismatch",
        "deleted not found",
        "foreign not found",
        "get found",
        "get none",
        "list",
    ] {
        assert!(
            seen.get(outcome).is_some_and(|&n| n >= 5),
            "outcome {outcome} checked too rarely: {seen:?}"
        );
    }
}
