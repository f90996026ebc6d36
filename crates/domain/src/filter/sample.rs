//! The sample schema that the filter's unit tests and its fuzz target both
//! check against (feature `sample`), so that the fuzzer explores the schema
//! the tests describe.

#![allow(
    clippy::expect_used,
    reason = "fixed, valid names: a failure is a broken fixture"
)]

use crate::collection::{
    CollectionName, CollectionSchema, FieldDef, FieldName, FieldType, Visibility,
};

/// A field that is not unique.
pub fn field(name: &str, field_type: FieldType, required: bool) -> FieldDef {
    FieldDef {
        name: FieldName::parse(name).expect("a valid field name"),
        field_type,
        required,
        unique: false,
    }
}

/// `orders`: one field of every type, some required, then `more`.
pub fn orders(more: Vec<FieldDef>) -> CollectionSchema {
    let every_type = vec![
        field("title", FieldType::Text { max_len: Some(100) }, true),
        field("tag", FieldType::Text { max_len: None }, false),
        field(
            "status",
            FieldType::Select {
                values: vec!["open".to_owned(), "paid".to_owned()],
            },
            false,
        ),
        field("total", FieldType::Decimal, true),
        field("quantity", FieldType::Integer, false),
        field("weight", FieldType::Number, false),
        field("paid", FieldType::Bool, true),
        field("due", FieldType::Datetime, false),
        field("extra", FieldType::Json, false),
        field(
            "customer",
            FieldType::Relation {
                collection: CollectionName::parse("customers").expect("a valid collection name"),
            },
            false,
        ),
    ];
    CollectionSchema::new(
        CollectionName::parse("orders").expect("a valid collection name"),
        every_type.into_iter().chain(more).collect(),
        Visibility::Tenant,
        Vec::new(),
    )
    .expect("a valid sample schema")
}
