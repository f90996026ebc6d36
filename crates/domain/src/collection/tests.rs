//! Tests of schemas, schema changes and record validation.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn name(text: &str) -> FieldName {
    FieldName::parse(text).unwrap()
}

fn def(text: &str, field_type: FieldType) -> FieldDef {
    FieldDef {
        name: name(text),
        field_type,
        required: false,
        unique: false,
    }
}

fn required(mut field: FieldDef) -> FieldDef {
    field.required = true;
    field
}

fn select(values: &[&str]) -> FieldType {
    FieldType::Select {
        values: values.iter().map(|value| (*value).to_owned()).collect(),
    }
}

fn relation(collection: &str) -> FieldType {
    FieldType::Relation {
        collection: CollectionName::parse(collection).unwrap(),
    }
}

/// A schema with one field of every type.
fn orders() -> CollectionSchema {
    CollectionSchema::new(
        CollectionName::parse("orders").unwrap(),
        vec![
            required(def("title", FieldType::Text { max_len: Some(5) })),
            def("notes", FieldType::Text { max_len: None }),
            def("weight", FieldType::Number),
            def("quantity", FieldType::Integer),
            def("paid", FieldType::Bool),
            def("due", FieldType::Datetime),
            def("extra", FieldType::Json),
            def("status", select(&["open", "paid"])),
            def("customer", relation("customers")),
            required(def("total", FieldType::Decimal)),
        ],
        Visibility::Tenant,
        vec![vec![name("status"), name("due")]],
    )
    .unwrap()
}

fn paths(issues: &[SchemaIssue]) -> Vec<&str> {
    issues.iter().map(|issue| issue.path.as_str()).collect()
}

fn draft(value: Value) -> SchemaDraft {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_schema_has_a_stable_json_shape() {
    let mut schema = orders();
    schema = CollectionSchema::new(
        schema.name().clone(),
        vec![
            required(def("title", FieldType::Text { max_len: Some(5) })),
            def("notes", FieldType::Text { max_len: None }),
            def("status", select(&["open", "paid"])),
            FieldDef {
                unique: true,
                ..def("customer", relation("customers"))
            },
            def("extra", FieldType::Json),
        ],
        Visibility::Owner,
        vec![vec![name("status"), name("title")]],
    )
    .unwrap();
    let stored = serde_json::to_value(&schema).unwrap();
    assert_eq!(
        stored,
        json!({
            "name": "orders",
            "fields": [
                { "name": "title", "type": "text", "required": true, "unique": false, "max_len": 5 },
                { "name": "notes", "type": "text", "required": false, "unique": false },
                { "name": "status", "type": "select", "required": false, "unique": false,
                  "values": ["open", "paid"] },
                { "name": "customer", "type": "relation", "required": false, "unique": true,
                  "collection": "customers" },
                { "name": "extra", "type": "json", "required": false, "unique": false },
            ],
            "visibility": "owner",
            "indexes": [["status", "title"]],
        })
    );
    let read_back: CollectionSchema = serde_json::from_value(stored).unwrap();
    assert_eq!(read_back, schema);
}

#[test]
fn every_type_survives_the_json_form() {
    let schema = orders();
    let text = serde_json::to_string(&schema).unwrap();
    assert_eq!(
        serde_json::from_str::<CollectionSchema>(&text).unwrap(),
        schema
    );
}

#[test]
fn required_unique_and_indexes_may_be_left_out_of_a_draft() {
    let schema = CollectionSchema::from_draft(draft(json!({
        "name": "notes",
        "fields": [{ "name": "body", "type": "text" }],
        "visibility": "tenant",
    })))
    .unwrap();
    assert_eq!(
        schema.fields(),
        &[def("body", FieldType::Text { max_len: None })]
    );
    assert!(schema.indexes().is_empty());
}

#[test]
fn unknown_members_are_refused() {
    let result = serde_json::from_value::<CollectionSchema>(json!({
        "name": "notes",
        "fields": [{ "name": "body", "type": "text", "default": "x" }],
        "visibility": "tenant",
    }));
    assert!(result.is_err());
}

#[test]
fn every_problem_of_a_schema_is_reported_with_its_path() {
    let issues = CollectionSchema::from_draft(draft(json!({
        "name": "Orders",
        "fields": [
            { "name": "id", "type": "text" },
            { "name": "total", "type": "money" },
            { "name": "total", "type": "decimal" },
            { "name": "note", "type": "text", "max_len": 0 },
            { "name": "payload", "type": "json", "unique": true },
            { "name": "status", "type": "select", "values": ["a", "", "a"] },
            { "name": "kind", "type": "select" },
            { "name": "customer", "type": "relation" },
            { "name": "vendor", "type": "relation", "collection": "Vendors" },
            { "name": "count", "type": "integer", "max_len": 3, "values": ["x"] },
        ],
        "visibility": "public",
        "indexes": [
            [],
            ["note", "note"],
            ["missing"],
            ["payload"],
            ["note", "count", "status", "kind", "total"],
            ["note", "note"],
        ],
    })))
    .unwrap_err();
    assert_eq!(
        paths(&issues),
        [
            "name",
            "fields[0].name",
            "fields[1].type",
            "fields[2].name",
            "fields[3].max_len",
            "fields[4].unique",
            "fields[5].values[1]",
            "fields[5].values[2]",
            "fields[6].values",
            "fields[7].collection",
            "fields[8].collection",
            "fields[9].max_len",
            "fields[9].values",
            "visibility",
            "indexes[0]",
            "indexes[1][1]",
            "indexes[2][0]",
            "indexes[3][0]",
            "indexes[4]",
            "indexes[5]",
            "indexes[5][1]",
        ]
    );
    let message_of = |path: &str| {
        issues
            .iter()
            .find(|issue| issue.path == path)
            .map(|issue| issue.message.clone())
            .unwrap()
    };
    assert_eq!(message_of("fields[0].name"), "'id' is a system field");
    assert_eq!(
        message_of("fields[2].name"),
        "'total' is already the name of fields[1]"
    );
    assert_eq!(
        message_of("fields[4].unique"),
        "json fields cannot be unique"
    );
    assert_eq!(message_of("indexes[3][0]"), "json fields cannot be indexed");
    assert_eq!(message_of("indexes[5]"), "same as indexes[1]");
    assert!(message_of("fields[1].type").starts_with("unknown type 'money'"));
}

#[test]
fn counts_are_limited() {
    let many_fields = (0..65)
        .map(|index| def(&format!("f{index}"), FieldType::Bool))
        .collect::<Vec<_>>();
    let issues = CollectionSchema::new(
        CollectionName::parse("wide").unwrap(),
        many_fields.clone(),
        Visibility::Tenant,
        Vec::new(),
    )
    .unwrap_err();
    assert_eq!(paths(&issues), ["fields"]);
    assert!(
        CollectionSchema::new(
            CollectionName::parse("wide").unwrap(),
            many_fields[..64].to_vec(),
            Visibility::Tenant,
            Vec::new(),
        )
        .is_ok()
    );

    let indexes = (0..9)
        .map(|index| vec![name(&format!("f{index}"))])
        .collect::<Vec<_>>();
    let issues = CollectionSchema::new(
        CollectionName::parse("wide").unwrap(),
        many_fields[..10].to_vec(),
        Visibility::Tenant,
        indexes,
    )
    .unwrap_err();
    assert_eq!(paths(&issues), ["indexes"]);

    let values = (0..101)
        .map(|index| format!("v{index}"))
        .collect::<Vec<_>>();
    let issues = CollectionSchema::new(
        CollectionName::parse("wide").unwrap(),
        vec![def(
            "choice",
            FieldType::Select {
                values: values.clone(),
            },
        )],
        Visibility::Tenant,
        Vec::new(),
    )
    .unwrap_err();
    assert_eq!(paths(&issues), ["fields[0].values"]);
    assert!(
        CollectionSchema::new(
            CollectionName::parse("wide").unwrap(),
            vec![def(
                "choice",
                FieldType::Select {
                    values: values[..100].to_vec()
                }
            )],
            Visibility::Tenant,
            Vec::new(),
        )
        .is_ok()
    );
}

#[test]
fn deserializing_an_invalid_schema_names_every_issue() {
    let error = serde_json::from_value::<CollectionSchema>(json!({
        "name": "x",
        "fields": [{ "name": "a", "type": "json", "unique": true }],
        "visibility": "nobody",
    }))
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("fields[0].unique: json fields cannot be unique"),
        "{message}"
    );
    assert!(
        message.contains("visibility: unknown visibility 'nobody'"),
        "{message}"
    );
}

#[test]
fn a_schema_without_visibility_is_visible_to_the_tenant() {
    let schema = serde_json::from_value::<CollectionSchema>(json!({
        "name": "notes",
        "fields": [{ "name": "title", "type": "text" }],
    }))
    .unwrap();
    assert_eq!(schema.visibility(), Visibility::Tenant);
    assert_eq!(
        serde_json::to_value(&schema).unwrap()["visibility"],
        json!("tenant"),
        "the default is stored, not left implicit"
    );
}

/// `orders` with its fields changed by `edit`.
fn orders_with(edit: impl FnOnce(&mut Vec<FieldDef>)) -> CollectionSchema {
    let old = orders();
    let mut fields = old.fields().to_vec();
    edit(&mut fields);
    CollectionSchema::new(
        old.name().clone(),
        fields,
        old.visibility(),
        old.indexes().to_vec(),
    )
    .unwrap()
}

fn set_type(fields: &mut [FieldDef], field: &str, field_type: FieldType) {
    for def in fields.iter_mut() {
        if def.name.as_str() == field {
            def.field_type = field_type.clone();
        }
    }
}

#[test]
fn safe_schema_changes_are_allowed() {
    let old = orders();
    let safe: Vec<(&str, CollectionSchema)> = vec![
        ("nothing", orders()),
        (
            "an optional field added",
            orders_with(|fields| fields.push(def("tag", FieldType::Bool))),
        ),
        (
            "a field removed",
            orders_with(|fields| fields.retain(|def| def.name.as_str() != "weight")),
        ),
        (
            "text to json",
            orders_with(|fields| set_type(fields, "notes", FieldType::Json)),
        ),
        (
            "integer to number",
            orders_with(|fields| set_type(fields, "quantity", FieldType::Number)),
        ),
        (
            "integer to decimal",
            orders_with(|fields| set_type(fields, "quantity", FieldType::Decimal)),
        ),
        (
            "max_len raised",
            orders_with(|fields| set_type(fields, "title", FieldType::Text { max_len: Some(9) })),
        ),
        (
            "max_len removed",
            orders_with(|fields| set_type(fields, "title", FieldType::Text { max_len: None })),
        ),
        (
            "select values added",
            orders_with(|fields| set_type(fields, "status", select(&["paid", "open", "void"]))),
        ),
        (
            "required dropped",
            orders_with(|fields| fields[0].required = false),
        ),
        (
            "visibility and indexes changed",
            CollectionSchema::new(
                old.name().clone(),
                old.fields().to_vec(),
                Visibility::Owner,
                Vec::new(),
            )
            .unwrap(),
        ),
    ];
    for (what, new) in safe {
        assert_eq!(schema_change_issues(&old, &new), [], "{what}");
    }
}

#[test]
fn unsafe_schema_changes_are_refused_with_their_path() {
    let old = orders();
    let refused: Vec<(&str, CollectionSchema, &str)> = vec![
        (
            "a required field added",
            orders_with(|fields| fields.push(required(def("tag", FieldType::Bool)))),
            "fields[10].required",
        ),
        (
            "number to integer",
            orders_with(|fields| set_type(fields, "weight", FieldType::Integer)),
            "fields[2].type",
        ),
        (
            "json to text",
            orders_with(|fields| set_type(fields, "extra", FieldType::Text { max_len: None })),
            "fields[6].type",
        ),
        (
            "bool to text",
            orders_with(|fields| set_type(fields, "paid", FieldType::Text { max_len: None })),
            "fields[4].type",
        ),
        (
            "max_len lowered",
            orders_with(|fields| set_type(fields, "title", FieldType::Text { max_len: Some(4) })),
            "fields[0].max_len",
        ),
        (
            "max_len added",
            orders_with(|fields| set_type(fields, "notes", FieldType::Text { max_len: Some(100) })),
            "fields[1].max_len",
        ),
        (
            "select value removed",
            orders_with(|fields| set_type(fields, "status", select(&["open"]))),
            "fields[7].values",
        ),
        (
            "relation retargeted",
            orders_with(|fields| set_type(fields, "customer", relation("people"))),
            "fields[8].collection",
        ),
        (
            "made required",
            orders_with(|fields| fields[1].required = true),
            "fields[1].required",
        ),
        (
            "made unique",
            orders_with(|fields| fields[1].unique = true),
            "fields[1].unique",
        ),
        (
            "renamed",
            CollectionSchema::new(
                CollectionName::parse("purchases").unwrap(),
                old.fields().to_vec(),
                old.visibility(),
                old.indexes().to_vec(),
            )
            .unwrap(),
            "name",
        ),
    ];
    for (what, new, path) in refused {
        assert_eq!(paths(&schema_change_issues(&old, &new)), [path], "{what}");
    }
}

/// The fields and codes of the issues `data` raises.
fn issues_of(data: Value, mode: WriteMode) -> Vec<(String, &'static str)> {
    validate_record(&orders(), &data, mode)
        .unwrap_err()
        .into_iter()
        .map(|issue| (issue.field, issue.code))
        .collect()
}

fn issue(field: &str, code: &'static str) -> (String, &'static str) {
    (field.to_owned(), code)
}

#[test]
fn every_bad_field_is_reported() {
    let issues = issues_of(
        json!({
            "title": "far too long",
            "weight": "heavy",
            "quantity": 1.5,
            "paid": "yes",
            "due": "tomorrow",
            "status": "lost",
            "customer": "not-a-uuid",
            "total": "1,50",
            "colour": "red",
            "id": "0190c0de-0000-7000-8000-000000000000",
        }),
        WriteMode::Create,
    );
    assert_eq!(
        issues,
        [
            issue("title", FieldIssue::TOO_LONG),
            issue("weight", FieldIssue::INVALID_TYPE),
            issue("quantity", FieldIssue::INVALID_TYPE),
            issue("paid", FieldIssue::INVALID_TYPE),
            issue("due", FieldIssue::INVALID_FORMAT),
            issue("status", FieldIssue::NOT_ALLOWED),
            issue("customer", FieldIssue::INVALID_FORMAT),
            issue("total", FieldIssue::INVALID_FORMAT),
            issue("colour", FieldIssue::UNKNOWN_FIELD),
            issue("id", FieldIssue::UNKNOWN_FIELD),
        ]
    );
}

#[test]
fn required_fields_depend_on_the_mode() {
    for mode in [WriteMode::Create, WriteMode::Replace] {
        assert_eq!(
            issues_of(json!({ "notes": "hi" }), mode),
            [
                issue("title", FieldIssue::REQUIRED),
                issue("total", FieldIssue::REQUIRED)
            ]
        );
        assert_eq!(
            issues_of(json!({ "title": null, "total": "1" }), mode),
            [issue("title", FieldIssue::REQUIRED)]
        );
    }
    let patch = validate_record(&orders(), &json!({ "notes": "hi" }), WriteMode::Patch).unwrap();
    assert_eq!(Value::Object(patch), json!({ "notes": "hi" }));
    assert_eq!(
        issues_of(json!({ "total": null }), WriteMode::Patch),
        [issue("total", FieldIssue::REQUIRED)]
    );
}

#[test]
fn null_clears_an_optional_field_only_in_a_patch() {
    let data = json!({ "title": "a", "total": "1", "notes": null, "extra": null });
    let created = validate_record(&orders(), &data, WriteMode::Create).unwrap();
    assert_eq!(
        Value::Object(created),
        json!({ "title": "a", "total": "1" })
    );
    let patched = validate_record(&orders(), &data, WriteMode::Patch).unwrap();
    assert_eq!(Value::Object(patched), data);
}

#[test]
fn values_are_normalised() {
    let data = json!({
        "title": "héllo",
        "weight": 2.5,
        "quantity": 3.0,
        "paid": true,
        "due": "2024-05-01T14:30:00.1234567+02:00",
        "extra": { "any": ["thing", 1, null] },
        "status": "paid",
        "customer": "0190C0DE-AAAA-7000-8000-00000000000F",
        "total": "0012.3400",
    });
    let normalised = validate_record(&orders(), &data, WriteMode::Create).unwrap();
    assert_eq!(
        Value::Object(normalised),
        json!({
            "title": "héllo",
            "weight": 2.5,
            "quantity": 3,
            "paid": true,
            "due": "2024-05-01T12:30:00.123456Z",
            "extra": { "any": ["thing", 1, null] },
            "status": "paid",
            "customer": "0190c0de-aaaa-7000-8000-00000000000f",
            "total": "12.34",
        })
    );
}

#[test]
fn integers_must_be_whole_and_fit_an_i64() {
    let cases = [
        (
            json!(9_223_372_036_854_775_807_i64),
            Ok(json!(9_223_372_036_854_775_807_i64)),
        ),
        (
            json!(-9_223_372_036_854_775_808_i64),
            Ok(json!(-9_223_372_036_854_775_808_i64)),
        ),
        (json!(1e3), Ok(json!(1000))),
        (json!(-0.0), Ok(json!(0))),
        (
            json!(9_223_372_036_854_775_808_u64),
            Err(FieldIssue::OUT_OF_RANGE),
        ),
        (json!(1e300), Err(FieldIssue::OUT_OF_RANGE)),
        (json!(1e17), Err(FieldIssue::OUT_OF_RANGE)),
        (json!(1.5), Err(FieldIssue::INVALID_TYPE)),
        (json!("1"), Err(FieldIssue::INVALID_TYPE)),
    ];
    for (value, expected) in cases {
        let result = validate_record(
            &orders(),
            &json!({ "quantity": value.clone() }),
            WriteMode::Patch,
        )
        .map(|data| data["quantity"].clone())
        .map_err(|issues| issues[0].code);
        assert_eq!(result, expected, "{value}");
    }
}

#[test]
fn decimals_are_kept_exact_as_strings() {
    let cases = [
        (json!("-0.00"), Ok("0")),
        (
            json!("123456789012345678901234567890.12345678"),
            Ok("123456789012345678901234567890.12345678"),
        ),
        (json!(12), Ok("12")),
        (json!(0.1), Ok("0.1")),
        (json!(1.5e-7), Ok("0.00000015")),
        (json!(1e20), Ok("100000000000000000000")),
        (json!("1e5"), Err(FieldIssue::INVALID_FORMAT)),
        (
            json!("0.0000000000000000001"),
            Err(FieldIssue::OUT_OF_RANGE),
        ),
        (json!(1e300), Err(FieldIssue::OUT_OF_RANGE)),
        (json!(true), Err(FieldIssue::INVALID_TYPE)),
    ];
    for (value, expected) in cases {
        let result = validate_record(
            &orders(),
            &json!({ "total": value.clone() }),
            WriteMode::Patch,
        )
        .map(|data| data["total"].clone())
        .map_err(|issues| issues[0].code);
        assert_eq!(result, expected.map(|text| json!(text)), "{value}");
    }
}

#[test]
fn datetimes_out_of_range_have_their_own_code() {
    assert_eq!(
        issues_of(
            json!({ "due": "0000-01-01T00:00:00+00:01" }),
            WriteMode::Patch
        ),
        [issue("due", FieldIssue::OUT_OF_RANGE)]
    );
    assert_eq!(
        issues_of(json!({ "due": 1_714_564_800 }), WriteMode::Patch),
        [issue("due", FieldIssue::INVALID_TYPE)]
    );
}

#[test]
fn text_length_counts_characters_not_bytes() {
    assert!(validate_record(&orders(), &json!({ "title": "ééééé" }), WriteMode::Patch).is_ok());
    assert_eq!(
        issues_of(json!({ "title": "éééééé" }), WriteMode::Patch),
        [issue("title", FieldIssue::TOO_LONG)]
    );
}

#[test]
fn data_that_is_not_an_object_is_refused() {
    for data in [json!([]), json!("x"), json!(null)] {
        assert_eq!(
            issues_of(data, WriteMode::Create),
            [issue("", FieldIssue::INVALID_TYPE)]
        );
    }
}

/// A value for each field of `orders`, spelled in one of several ways that
/// all normalise to the same stored value.
fn orders_data() -> impl Strategy<Value = Value> {
    let title = "[a-zé]{1,5}".prop_map(Value::from);
    let notes = proptest::option::of(".{0,20}".prop_map(Value::from));
    let weight = proptest::option::of(prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
    ]);
    let quantity = proptest::option::of(prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1_000_000i64..1_000_000).prop_map(|integer| Value::from(integer as f64)),
    ]);
    let due = proptest::option::of(
        (
            0i64..253_402_300_799,
            0u32..1_000_000_000,
            -23i8..=23,
            0i8..60,
            any::<bool>(),
        )
            .prop_filter_map("in range", |(seconds, nanos, hours, minutes, t_lower)| {
                let offset =
                    time::UtcOffset::from_hms(hours, if hours < 0 { -minutes } else { minutes }, 0)
                        .ok()?;
                let at = time::OffsetDateTime::from_unix_timestamp(seconds)
                    .ok()?
                    .replace_nanosecond(nanos)
                    .ok()?
                    .checked_to_offset(offset)?;
                let text = at
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()?;
                Some(Value::from(if t_lower {
                    text.replace('T', "t")
                } else {
                    text
                }))
            }),
    );
    let extra = proptest::option::of(prop_oneof![
        any::<bool>().prop_map(Value::from),
        ".{0,8}".prop_map(|text| json!({ "nested": [text] })),
    ]);
    let status =
        proptest::option::of(prop_oneof![Just("open"), Just("paid")].prop_map(Value::from));
    let customer =
        proptest::option::of((any::<u128>(), any::<bool>()).prop_map(|(bits, upper)| {
            let id = uuid::Uuid::from_u128(bits).hyphenated().to_string();
            Value::from(if upper { id.to_uppercase() } else { id })
        }));
    let total = (
        any::<bool>(),
        0u64..u64::MAX,
        0u32..=18,
        0usize..3,
        any::<bool>(),
    )
        .prop_map(|(negative, digits, scale, padding, as_number)| {
            if as_number && scale == 0 {
                let integer = i64::try_from(digits / 2).unwrap_or(0);
                return Value::from(if negative { -integer } else { integer });
            }
            let digits = format!("{}{digits:0>19}", "0".repeat(padding));
            let split = digits.len() - scale as usize;
            let sign = if negative { "-" } else { "" };
            if scale == 0 {
                Value::from(format!("{sign}{digits}"))
            } else {
                Value::from(format!("{sign}{}.{}", &digits[..split], &digits[split..]))
            }
        });
    (
        title, notes, weight, quantity, due, extra, status, customer, total,
    )
        .prop_map(
            |(title, notes, weight, quantity, due, extra, status, customer, total)| {
                let mut data = serde_json::Map::new();
                data.insert("title".to_owned(), title);
                data.insert("total".to_owned(), total);
                for (key, value) in [
                    ("notes", notes),
                    ("weight", weight),
                    ("quantity", quantity),
                    ("due", due),
                    ("extra", extra),
                    ("status", status),
                    ("customer", customer),
                ] {
                    if let Some(value) = value {
                        data.insert(key.to_owned(), value);
                    }
                }
                Value::Object(data)
            },
        )
}

proptest! {
    #[test]
    fn normalisation_is_idempotent(data in orders_data(), mode in prop_oneof![
        Just(WriteMode::Create),
        Just(WriteMode::Replace),
        Just(WriteMode::Patch),
    ]) {
        let schema = orders();
        let once = validate_record(&schema, &data, mode).unwrap();
        let twice = validate_record(&schema, &Value::Object(once.clone()), mode).unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn arbitrary_json_never_panics(data in arbitrary_json(), mode in prop_oneof![
        Just(WriteMode::Create),
        Just(WriteMode::Patch),
    ]) {
        let schema = orders();
        if let Ok(once) = validate_record(&schema, &data, mode) {
            let twice = validate_record(&schema, &Value::Object(once.clone()), mode).unwrap();
            prop_assert_eq!(once, twice);
        }
    }
}

/// Any JSON object whose keys are mostly the fields of `orders`.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "-?[0-9]{1,20}(\\.[0-9]{1,20})?".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    let key = prop_oneof![
        Just("title".to_owned()),
        Just("quantity".to_owned()),
        Just("due".to_owned()),
        Just("total".to_owned()),
        Just("customer".to_owned()),
        Just("status".to_owned()),
        "[a-z_]{1,8}",
    ];
    proptest::collection::btree_map(key, value, 0..8)
        .prop_map(|map| Value::Object(map.into_iter().collect()))
}
