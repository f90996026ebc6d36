//! The listing fixture shared by the filter and sort cases: a collection
//! with a field of every filterable type.

use std::collections::BTreeMap;

use bulkhead_domain::filter::{SortKey, TypedExpr, parse, parse_sort, typecheck};
use bulkhead_domain::{
    CollectionName, CollectionSchema, FieldName, FieldType, RecordId, TenantId, UserId, Visibility,
    WriteMode, schema_change_issues, validate_record,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::{expect_done, field, text};
use crate::fixtures::{self, at};
use bulkhead_store::{Access, Document, Record, RecordChange, RecordQuery, Store};

pub(super) const ITEMS: &str = "items";
pub(super) const N_ITEMS: usize = 30;
/// Records created before the schema change that made `price` a decimal.
pub(super) const N_LEGACY: usize = 5;

pub(super) fn items_schema(price: FieldType) -> CollectionSchema {
    let select = FieldType::Select {
        values: vec!["open".into(), "paid".into(), "void".into()],
    };
    let relation = FieldType::Relation {
        collection: CollectionName::parse(ITEMS).unwrap(),
    };
    let name = |name: &str| FieldName::parse(name).unwrap();
    CollectionSchema::new(
        CollectionName::parse(ITEMS).unwrap(),
        vec![
            field("title", FieldType::Text { max_len: Some(40) }, true, false),
            field("note", text(), false, false),
            field("qty", FieldType::Integer, false, false),
            field("score", FieldType::Number, false, false),
            field("price", price, false, false),
            field("active", FieldType::Bool, false, false),
            field("due", FieldType::Datetime, false, false),
            field("status", select, false, false),
            field("parent", relation, false, false),
            field("meta", FieldType::Json, false, false),
        ],
        Visibility::Tenant,
        vec![vec![name("status"), name("qty")], vec![name("due")]],
    )
    .unwrap()
}

pub(super) const TITLES: [&str; 12] = [
    "apple",
    "Apple",
    "banana",
    "Banana split",
    "cherry",
    "ápple",
    "100% natural",
    "a_b",
    "O'Brien",
    "zebra",
    "apple pie",
    "Cherry",
];

pub(super) fn rfc3339(at: OffsetDateTime, offset_hours: i8) -> String {
    at.to_offset(UtcOffset::from_hms(offset_hours, 0, 0).unwrap())
        .format(&Rfc3339)
        .unwrap()
}

pub(super) fn days(n: i64) -> OffsetDateTime {
    at(0) + Duration::days(n)
}

/// The values a data field takes in the generated records; `None` is
/// absent. Every value appears at least once among the first records.
pub(super) fn pool(name: &str) -> Vec<Option<Value>> {
    let some = |values: Vec<Value>| values.into_iter().map(Some);
    let values: Vec<Option<Value>> = match name {
        "title" => some(TITLES.iter().map(|t| json!(t)).collect()).collect(),
        "note" => [None, None]
            .into_iter()
            .chain(some(vec![
                json!("first"),
                json!("second"),
                json!("x"),
                json!("contains x here"),
                json!(""),
                json!("Z"),
            ]))
            .collect(),
        "qty" => [None]
            .into_iter()
            .chain(some(vec![
                json!(0),
                json!(1),
                json!(2),
                json!(-5),
                json!(3),
                json!(9_007_199_254_740_993_i64),
                json!(9_007_199_254_740_992_i64),
                json!(-9_007_199_254_740_993_i64),
                json!(42),
                json!(i64::MAX),
                json!(i64::MIN),
            ]))
            .collect(),
        "score" => [None]
            .into_iter()
            .chain(some(vec![
                json!(0),
                json!(1.5),
                json!(-2.25),
                json!(10),
                json!(3),
                json!(2.5),
                json!(100.0),
                json!(0.1),
            ]))
            .collect(),
        // Written loosely; validation makes them canonical.
        "price" => [None]
            .into_iter()
            .chain(some(vec![
                json!("10"),
                json!("9.99"),
                json!("10.50"),
                json!("-3"),
                json!("0"),
                json!("100"),
                json!("2.5"),
                json!("1000000.01"),
                json!("0.001"),
                json!("007.0"),
                json!("-0.5"),
            ]))
            .collect(),
        "active" => vec![None, Some(json!(true)), Some(json!(false))],
        "due" => [None]
            .into_iter()
            .chain(some(vec![
                json!(rfc3339(days(-400), 0)),
                json!(rfc3339(days(-1), 2)),
                json!(rfc3339(days(0), -5)),
                json!(rfc3339(days(1), 0)),
                json!(rfc3339(days(30), 9)),
                json!(rfc3339(days(365), 0)),
                json!("1999-12-31T23:59:59.999999Z"),
                json!(rfc3339(days(0) + Duration::microseconds(1), 0)),
            ]))
            .collect(),
        "status" => vec![
            None,
            Some(json!("open")),
            Some(json!("paid")),
            Some(json!("void")),
        ],
        "meta" => vec![
            None,
            Some(json!({"k": 1})),
            Some(json!({"a": null, "b": [1, "two"]})),
            Some(json!("just text")),
        ],
        other => panic!("no pool for {other}"),
    };
    values
}

/// Prices of the records created while `price` was an integer field.
pub(super) const LEGACY_PRICES: [Option<i64>; N_LEGACY] =
    [Some(7), Some(-12), Some(100), None, Some(0)];

pub(super) const DATA_FIELDS: [&str; 8] = [
    "title", "note", "qty", "score", "price", "active", "due", "status",
];

/// `n` values of `name`'s pool: each at least once, the rest at random, in
/// random order.
pub(super) fn spread(name: &str, n: usize, rng: &mut StdRng) -> Vec<Option<Value>> {
    let pool = pool(name);
    let mut values: Vec<Option<Value>> = (0..n)
        .map(|i| match pool.get(i) {
            Some(value) => value.clone(),
            None => pool[rng.gen_range(0..pool.len())].clone(),
        })
        .collect();
    values.shuffle(rng);
    values
}

/// The data and unique values of a record from one value per field.
pub(super) fn item(values: &BTreeMap<&str, Option<Value>>) -> Value {
    let mut data = serde_json::Map::new();
    for (name, value) in values {
        if let Some(value) = value {
            data.insert((*name).to_owned(), value.clone());
        }
    }
    Value::Object(data)
}

/// The listing fixture: a tenant whose `items` collection holds records of
/// every shape, the first few written before `price` became a decimal, a
/// few later updated; and another tenant with an `items` collection too.
pub(super) struct Listing {
    pub(super) tenant: TenantId,
    pub(super) schema: CollectionSchema,
    /// Three owners, ordered by id.
    pub(super) owners: Vec<UserId>,
    /// The records as stored now.
    pub(super) records: Vec<Record>,
    pub(super) rng: StdRng,
    /// Minutes for the next write, so every write has its own time.
    pub(super) clock: i64,
}

impl Listing {
    pub(super) async fn new(store: &dyn Store) -> Self {
        let mut rng = StdRng::seed_from_u64(30);
        let mut owners = Vec::new();
        for i in 0..3 {
            let id = fixtures::seeded_id(&mut rng);
            owners.push(
                fixtures::user_with_id(store, &format!("owner-{i}@example.com"), id)
                    .await
                    .id,
            );
        }
        owners.sort();
        let admin = fixtures::user(store, "admin@example.com").await;
        let tenant = fixtures::tenant(store, "acme", &admin).await.id;
        let legacy = items_schema(FieldType::Integer);
        let schema = items_schema(FieldType::Decimal);
        assert!(schema_change_issues(&legacy, &schema).is_empty());

        let ids: Vec<RecordId> = (0..N_ITEMS)
            .map(|_| fixtures::seeded_id(&mut rng))
            .collect();
        let mut columns: BTreeMap<&str, Vec<Option<Value>>> = BTreeMap::new();
        for name in DATA_FIELDS.into_iter().chain(["meta"]) {
            let column = if name == "price" {
                let legacy = LEGACY_PRICES.iter().map(|price| price.map(Value::from));
                legacy
                    .chain(spread(name, N_ITEMS - N_LEGACY, &mut rng))
                    .collect()
            } else {
                spread(name, N_ITEMS, &mut rng)
            };
            columns.insert(name, column);
        }
        let mut listing = Self {
            tenant,
            schema: schema.clone(),
            owners,
            records: Vec::new(),
            rng,
            clock: 100,
        };

        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        tx.insert_collection(fixtures::collection(
            ITEMS,
            serde_json::to_value(&legacy).unwrap(),
            at(0),
        ))
        .await
        .unwrap();
        for i in 0..N_ITEMS {
            if i == N_LEGACY {
                // Integer to decimal: stored prices stay JSON numbers.
                expect_done(
                    tx.update_collection(fixtures::collection_change(
                        ITEMS,
                        &serde_json::to_value(&schema).unwrap(),
                        1,
                        at(0),
                    ))
                    .await
                    .unwrap(),
                );
            }
            let mut values: BTreeMap<&str, Option<Value>> = columns
                .iter()
                .map(|(name, column)| (*name, column[i].clone()))
                .collect();
            let current = if i < N_LEGACY { &legacy } else { &schema };
            // Relations are written in upper case; validation lower-cases.
            let parent = listing.rng.gen_bool(0.6).then(|| {
                let target = ids[listing.rng.gen_range(0..N_ITEMS)];
                json!(target.to_string().to_uppercase())
            });
            values.insert("parent", parent);
            let data = item(&values);
            let data = Value::Object(validate_record(current, &data, WriteMode::Create).unwrap());
            let owner = listing.random_owner();
            // Three records per minute, so creation times tie.
            let created_at = at((i / 3) as i64);
            let record = tx
                .insert_record(fixtures::record(
                    ITEMS,
                    ids[i],
                    owner,
                    data,
                    &[],
                    created_at,
                ))
                .await
                .unwrap();
            listing.records.push(record);
        }
        // Every fourth record is written again later (validated by the
        // current schema, so a legacy price becomes text), some of them
        // changing a value, some losing one.
        for i in (1..N_ITEMS).step_by(4) {
            let mut record = listing.records[i].clone();
            let mut document = record.data.to_value().unwrap();
            let data = document.as_object_mut().unwrap();
            match i % 3 {
                0 => {
                    data.insert("note".into(), json!(format!("updated {i}")));
                }
                1 => {
                    data.remove("active");
                }
                _ => {}
            }
            let data = validate_record(&schema, &document, WriteMode::Replace).unwrap();
            let document = Value::Object(data);
            record.data = Document::from_value(&document).unwrap();
            let updated = expect_done(
                tx.update_record(RecordChange {
                    collection: ITEMS.into(),
                    id: record.id,
                    expected_version: Some(1),
                    data: document,
                    unique_values: Vec::new(),
                    at: at(60 + i as i64),
                })
                .await
                .unwrap(),
            );
            record.version = 2;
            record.updated_at = at(60 + i as i64);
            assert_eq!(updated, record);
            listing.records[i] = updated;
        }
        tx.commit().await.unwrap();
        // Indexes are made in a transaction of their own (see
        // `Collections::ensure_record_index`), twice to show it idempotent.
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        for fields in listing.schema.indexes().to_vec() {
            let fields = listing.index_fields(&fields);
            tx.ensure_record_index(&fields).await.unwrap();
            tx.ensure_record_index(&fields).await.unwrap();
        }
        tx.commit().await.unwrap();

        // Another tenant's `items` must never show up.
        let globex = fixtures::tenant(store, "globex", &admin).await.id;
        let mut tx = store.tenant(globex, Access::Write).await.unwrap();
        tx.insert_collection(fixtures::collection(
            ITEMS,
            serde_json::to_value(&schema).unwrap(),
            at(0),
        ))
        .await
        .unwrap();
        for _ in 0..3 {
            let data = listing.random_data();
            let owner = Some(listing.owners[0]);
            let id = fixtures::seeded_id(&mut listing.rng);
            tx.insert_record(fixtures::record(ITEMS, id, owner, data, &[], at(0)))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        listing
    }

    pub(super) fn index_fields(&self, names: &[FieldName]) -> Vec<(String, FieldType)> {
        names
            .iter()
            .map(|name| {
                let def = self.schema.field(name.as_str()).unwrap();
                (name.to_string(), def.field_type.clone())
            })
            .collect()
    }

    pub(super) fn random_owner(&mut self) -> Option<UserId> {
        let i = self.rng.gen_range(0..=self.owners.len());
        self.owners.get(i).copied()
    }

    /// A valid document with every field drawn at random from its pool.
    pub(super) fn random_data(&mut self) -> Value {
        let mut values = BTreeMap::new();
        for name in DATA_FIELDS.into_iter().chain(["meta"]) {
            let pool = pool(name);
            values.insert(name, pool[self.rng.gen_range(0..pool.len())].clone());
        }
        if self.rng.gen_bool(0.5) {
            let target = self.records[self.rng.gen_range(0..self.records.len())].id;
            values.insert("parent", Some(json!(target.to_string())));
        }
        Value::Object(validate_record(&self.schema, &item(&values), WriteMode::Create).unwrap())
    }

    pub(super) fn tick(&mut self) -> OffsetDateTime {
        self.clock += 1;
        at(self.clock)
    }

    pub(super) fn filter(&self, text: &str) -> TypedExpr {
        let expr = parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        typecheck(&expr, &self.schema).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    pub(super) fn sort(&self, text: &str) -> Vec<SortKey> {
        if text.is_empty() {
            return Vec::new();
        }
        parse_sort(text, &self.schema).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    pub(super) fn query(
        &self,
        sort: &str,
        filter: Option<&str>,
        owner: Option<UserId>,
    ) -> RecordQuery {
        RecordQuery {
            filter: filter.map(|text| self.filter(text)),
            sort: self.sort(sort),
            after: None,
            owner,
            limit: 1000,
        }
    }

    /// Record positions in creation order, for readable failures (new
    /// records count on from the fixture's).
    pub(super) fn names(&self, records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|record| {
                let title = record.data.field("title");
                let title = title.as_ref().and_then(Value::as_str).unwrap_or("?");
                match self.records.iter().position(|r| r.id == record.id) {
                    Some(i) => format!("#{i} {title}"),
                    None => format!("{} {title}", record.id),
                }
            })
            .collect()
    }
}

pub(super) async fn list(store: &dyn Store, tenant: TenantId, query: &RecordQuery) -> Vec<Record> {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    tx.list_records(ITEMS, query).await.unwrap()
}
