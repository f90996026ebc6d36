//! An in-memory reference for listing records: what `list_records` must
//! return, computed from the records themselves.
//!
//! It follows the semantics documented in
//! [`bulkhead_domain::filter::typed`]: a comparison with an absent field is
//! unknown, and unknown stays unknown under `!` (SQL's three-valued logic);
//! `~` is a case-sensitive substring test; text and select compare
//! bytewise; decimals compare numerically and exactly, whether stored as
//! canonical text or (after an integer-to-decimal schema change) as JSON
//! numbers; datetimes compare as instants; relations, `id` and `owner_id` as
//! uuids. In an order, an absent value sorts first ascending and last
//! descending, and the order is the one [`RecordQuery::order`] spells out.

use std::cmp::Ordering;

use bulkhead_domain::collection::{FieldType, normalize_decimal, parse_datetime};
use bulkhead_domain::filter::{CompareOp, FieldRef, SortKey, SystemField, TypedExpr, TypedValue};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use bulkhead_store::{Record, RecordQuery};

/// A present value of a field, in the type it compares as.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(String),
    Int(i64),
    Num(f64),
    /// Canonical decimal text.
    Dec(String),
    Bool(bool),
    Time(OffsetDateTime),
    Uuid(Uuid),
}

/// The sort-key values of a record in an order (`None` for absent).
pub type Key = Vec<Option<Val>>;

/// Orders two values of the same type.
pub fn cmp_val(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Text(a), Val::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Val::Int(a), Val::Int(b)) => a.cmp(b),
        (Val::Num(a), Val::Num(b)) => a.partial_cmp(b).unwrap(),
        (Val::Dec(a), Val::Dec(b)) => cmp_decimal(a, b),
        (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
        (Val::Time(a), Val::Time(b)) => a.cmp(b),
        (Val::Uuid(a), Val::Uuid(b)) => a.cmp(b),
        _ => panic!("compared {a:?} with {b:?}"),
    }
}

/// Orders two canonical decimal texts by value, exactly.
pub fn cmp_decimal(a: &str, b: &str) -> Ordering {
    let (a_negative, a_magnitude) = split_sign(a);
    let (b_negative, b_magnitude) = split_sign(b);
    match (a_negative, b_negative) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => cmp_magnitude(a_magnitude, b_magnitude),
        (true, true) => cmp_magnitude(b_magnitude, a_magnitude),
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(magnitude) => (true, magnitude),
        None => (false, text),
    }
}

/// Canonical magnitudes have no leading zeros in the integer part (but
/// "0") and no trailing zeros in the fraction, so the longer integer part
/// is larger, and fractions compare as texts.
fn cmp_magnitude(a: &str, b: &str) -> Ordering {
    let (a_integer, a_fraction) = a.split_once('.').unwrap_or((a, ""));
    let (b_integer, b_fraction) = b.split_once('.').unwrap_or((b, ""));
    a_integer
        .len()
        .cmp(&b_integer.len())
        .then_with(|| a_integer.cmp(b_integer))
        .then_with(|| a_fraction.cmp(b_fraction))
}

/// The value of `field` in `record`, or `None` when it is absent (a data
/// field missing from the document or JSON null, a record without owner).
pub fn field_value(record: &Record, field: &FieldRef) -> Option<Val> {
    match field {
        FieldRef::System(SystemField::Id) => Some(Val::Uuid(*record.id.as_uuid())),
        FieldRef::System(SystemField::OwnerId) => {
            record.owner_id.map(|owner| Val::Uuid(*owner.as_uuid()))
        }
        FieldRef::System(SystemField::CreatedAt) => Some(Val::Time(record.created_at)),
        FieldRef::System(SystemField::UpdatedAt) => Some(Val::Time(record.updated_at)),
        FieldRef::Data { name, field_type } => {
            let value = &record.data.field(name.as_str())?;
            if value.is_null() {
                return None;
            }
            let text = || value.as_str().unwrap().to_owned();
            Some(match field_type {
                FieldType::Text { .. } | FieldType::Select { .. } => Val::Text(text()),
                FieldType::Integer => Val::Int(value.as_i64().unwrap()),
                FieldType::Number => Val::Num(value.as_f64().unwrap()),
                FieldType::Decimal => Val::Dec(match value {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => normalize_decimal(&number.to_string()).unwrap(),
                    other => panic!("a decimal stored as {other}"),
                }),
                FieldType::Bool => Val::Bool(value.as_bool().unwrap()),
                FieldType::Datetime => Val::Time(parse_datetime(&text()).unwrap()),
                FieldType::Relation { .. } => Val::Uuid(Uuid::try_parse(&text()).unwrap()),
                FieldType::Json => panic!("json field {name} in a filter or sort"),
            })
        }
    }
}

fn typed_val(value: &TypedValue) -> Val {
    match value {
        TypedValue::Text(text) => Val::Text(text.clone()),
        TypedValue::Integer(integer) => Val::Int(*integer),
        TypedValue::Number(number) => Val::Num(*number),
        TypedValue::Decimal(decimal) => Val::Dec(decimal.clone()),
        TypedValue::Bool(value) => Val::Bool(*value),
        TypedValue::Datetime(at) => Val::Time(*at),
        TypedValue::Uuid(uuid) => Val::Uuid(*uuid),
    }
}

/// Evaluates a filter with SQL's three-valued logic: `None` is unknown.
pub fn eval(expr: &TypedExpr, record: &Record) -> Option<bool> {
    match expr {
        TypedExpr::And(operands) => {
            let values: Vec<_> = operands.iter().map(|e| eval(e, record)).collect();
            if values.contains(&Some(false)) {
                Some(false)
            } else if values.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        TypedExpr::Or(operands) => {
            let values: Vec<_> = operands.iter().map(|e| eval(e, record)).collect();
            if values.contains(&Some(true)) {
                Some(true)
            } else if values.contains(&None) {
                None
            } else {
                Some(false)
            }
        }
        TypedExpr::Not(operand) => eval(operand, record).map(|value| !value),
        TypedExpr::Compare { field, op, value } => {
            let stored = field_value(record, field)?;
            let value = typed_val(value);
            Some(match op {
                CompareOp::Contains => match (&stored, &value) {
                    (Val::Text(haystack), Val::Text(needle)) => haystack.contains(needle.as_str()),
                    _ => panic!("~ on {stored:?}"),
                },
                CompareOp::Eq => cmp_val(&stored, &value) == Ordering::Equal,
                CompareOp::Ne => cmp_val(&stored, &value) != Ordering::Equal,
                CompareOp::Lt => cmp_val(&stored, &value) == Ordering::Less,
                CompareOp::Le => cmp_val(&stored, &value) != Ordering::Greater,
                CompareOp::Gt => cmp_val(&stored, &value) == Ordering::Greater,
                CompareOp::Ge => cmp_val(&stored, &value) != Ordering::Less,
            })
        }
        TypedExpr::In { field, values } => {
            let stored = field_value(record, field)?;
            Some(
                values
                    .iter()
                    .any(|value| cmp_val(&stored, &typed_val(value)) == Ordering::Equal),
            )
        }
        TypedExpr::IsNull { field, negated } => {
            Some(field_value(record, field).is_none() != *negated)
        }
    }
}

/// Whether `record` is in the query's result set (ignoring position).
pub fn selects(query: &RecordQuery, record: &Record) -> bool {
    let owner_fits = query
        .owner
        .is_none_or(|owner| record.owner_id == Some(owner));
    let filter_fits = query
        .filter
        .as_ref()
        .is_none_or(|filter| eval(filter, record) == Some(true));
    owner_fits && filter_fits
}

/// The record's position in `order`.
pub fn key(record: &Record, order: &[SortKey]) -> Key {
    order
        .iter()
        .map(|sort_key| field_value(record, &sort_key.field))
        .collect()
}

/// Compares two positions in `order`: absent first ascending, last
/// descending.
pub fn cmp_keys(a: &Key, b: &Key, order: &[SortKey]) -> Ordering {
    for ((a, b), sort_key) in a.iter().zip(b).zip(order) {
        let ordering = match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => cmp_val(a, b),
        };
        let ordering = if sort_key.descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// What `list_records` must return for `query` over `records`, with the
/// query's `after` given as the position `after` (the key of the record
/// the cursor was made from).
pub fn list(records: &[Record], query: &RecordQuery, after: Option<&Key>) -> Vec<Record> {
    let order = query.order();
    let mut keyed: Vec<(Key, &Record)> = records
        .iter()
        .filter(|record| selects(query, record))
        .map(|record| (key(record, &order), record))
        .filter(|(key, _)| after.is_none_or(|after| cmp_keys(key, after, &order).is_gt()))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| cmp_keys(a, b, &order));
    keyed
        .into_iter()
        .take(query.limit as usize)
        .map(|(_, record)| record.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_by_value() {
        let ascending = [
            "-1000000.01",
            "-12",
            "-3",
            "-0.5",
            "-0.001",
            "0",
            "0.001",
            "0.01",
            "0.1",
            "2.5",
            "7",
            "9.99",
            "10",
            "10.5",
            "100",
            "1000000.01",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(cmp_decimal(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }
}
