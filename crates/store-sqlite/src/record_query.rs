//! Record filters, sorts and keyset cursors compiled to SQLite SQL.
//!
//! Every value is a bound parameter; the only text spliced into the query is
//! field names, which [`FieldName`](bulkhead_domain::collection::FieldName)
//! restricts to `[a-z][a-z0-9_]*`, and fixed operator keywords.
//!
//! A data field is read with `json_extract(data, '$.name')`, which yields SQL
//! NULL for an absent field, so comparisons with absent fields are unknown
//! and never match (three-valued logic, as documented on `TypedExpr`).
//! Decimals are stored as canonical text: equality compares the text (exact);
//! ordering compares `CAST(... AS REAL)`, exact to about 15 significant
//! digits (SQLite has no exact decimal type).

use bulkhead_domain::collection::{FieldType, format_datetime};
use bulkhead_domain::filter::{CompareOp, FieldRef, SortKey, SystemField, TypedExpr, TypedValue};
use bulkhead_store::{Cursor, cursor_time};
use rusqlite::types::Value as Sql;
use serde_json::Value;

use crate::codec::to_micros;

/// A SQL fragment and its parameters, appended to a query whose parameters
/// so far number `offset`.
#[derive(Debug, Default)]
pub struct Fragment {
    pub sql: String,
    pub params: Vec<Sql>,
}

impl Fragment {
    fn push_param(&mut self, offset: usize, value: Sql) -> String {
        self.params.push(value);
        format!("?{}", offset + self.params.len())
    }
}

/// How a field is read for comparing and ordering.
pub fn order_expression(field: &FieldRef) -> String {
    match field {
        FieldRef::System(field) => bulkhead_store::system_column(*field).into(),
        FieldRef::Data { name, field_type } => {
            let extract = format!("json_extract(data, '$.{}')", name.as_str());
            match field_type {
                FieldType::Decimal => format!("CAST({extract} AS REAL)"),
                _ => extract,
            }
        }
    }
}

/// Decimals compare for equality as canonical text (exact); anything else
/// as its order expression.
fn equality_expression(field: &FieldRef) -> String {
    match field {
        FieldRef::Data {
            name,
            field_type: FieldType::Decimal,
        } => {
            format!("CAST(json_extract(data, '$.{}') AS TEXT)", name.as_str())
        }
        other => order_expression(other),
    }
}

fn typed_value(field: &FieldRef, value: &TypedValue, for_equality: bool) -> Sql {
    match value {
        TypedValue::Text(text) => Sql::Text(text.clone()),
        TypedValue::Integer(n) => Sql::Integer(*n),
        TypedValue::Number(n) => Sql::Real(*n),
        TypedValue::Decimal(text) if for_equality => Sql::Text(text.clone()),
        TypedValue::Decimal(text) => Sql::Real(text.parse().unwrap_or(f64::NAN)),
        TypedValue::Bool(b) => Sql::Integer(i64::from(*b)),
        TypedValue::Datetime(at) => match field {
            FieldRef::System(_) => Sql::Integer(to_micros(*at)),
            FieldRef::Data { .. } => Sql::Text(format_datetime(*at)),
        },
        TypedValue::Uuid(uuid) => match field {
            FieldRef::System(_) => Sql::Blob(uuid.as_bytes().to_vec()),
            FieldRef::Data { .. } => Sql::Text(uuid.hyphenated().to_string()),
        },
    }
}

/// Compiles a typed filter for a page sorted by `leading_sort` first.
///
/// A range comparison on another data field is kept from choosing the
/// index (SQLite's unary `+` changes nothing but that). A page is the first
/// rows in sort order: walking the sort's index and testing each row stops
/// after about `limit / selectivity` rows, while an index on the ranged
/// field finds every match, all of which must then be sorted. Without
/// statistics SQLite guesses a range's selectivity and prefers a declared
/// index, which for `n > 500` read half of a tenant's collection to return
/// twenty rows. Equalities and `in` keep their index: those are selective.
pub fn filter(expr: &TypedExpr, offset: usize, leading_sort: Option<&FieldRef>) -> Fragment {
    let mut fragment = Fragment::default();
    let context = Context {
        offset,
        leading_sort,
    };
    let sql = compile(expr, &context, &mut fragment);
    fragment.sql = sql;
    fragment
}

struct Context<'a> {
    offset: usize,
    leading_sort: Option<&'a FieldRef>,
}

fn compile(expr: &TypedExpr, context: &Context<'_>, out: &mut Fragment) -> String {
    let offset = context.offset;
    match expr {
        TypedExpr::And(parts) => join(parts, " AND ", "1", context, out),
        TypedExpr::Or(parts) => join(parts, " OR ", "0", context, out),
        TypedExpr::Not(inner) => format!("NOT ({})", compile(inner, context, out)),
        TypedExpr::IsNull { field, negated } => {
            let test = if *negated { "IS NOT NULL" } else { "IS NULL" };
            format!("{} {test}", order_expression(field))
        }
        TypedExpr::In { field, values } => {
            let expression = equality_expression(field);
            let placeholders: Vec<String> = values
                .iter()
                .map(|value| out.push_param(offset, typed_value(field, value, true)))
                .collect();
            format!("{expression} IN ({})", placeholders.join(", "))
        }
        TypedExpr::Compare { field, op, value } => {
            let equality = matches!(op, CompareOp::Eq | CompareOp::Ne);
            let mut expression = if equality {
                equality_expression(field)
            } else {
                order_expression(field)
            };
            if *op != CompareOp::Eq
                && matches!(field, FieldRef::Data { .. })
                && context.leading_sort != Some(field)
            {
                expression.insert(0, '+');
            }
            let placeholder = out.push_param(offset, typed_value(field, value, equality));
            match op {
                CompareOp::Eq => format!("{expression} = {placeholder}"),
                CompareOp::Ne => format!("{expression} <> {placeholder}"),
                CompareOp::Lt => format!("{expression} < {placeholder}"),
                CompareOp::Le => format!("{expression} <= {placeholder}"),
                CompareOp::Gt => format!("{expression} > {placeholder}"),
                CompareOp::Ge => format!("{expression} >= {placeholder}"),
                // A literal, case-sensitive substring test (LIKE would treat
                // % and _ as wildcards and ignore ASCII case).
                CompareOp::Contains => format!("instr({expression}, {placeholder}) > 0"),
            }
        }
    }
}

fn join(
    parts: &[TypedExpr],
    operator: &str,
    empty: &str,
    context: &Context<'_>,
    out: &mut Fragment,
) -> String {
    if parts.is_empty() {
        return empty.into();
    }
    let compiled: Vec<String> = parts
        .iter()
        .map(|part| format!("({})", compile(part, context, out)))
        .collect();
    compiled.join(operator)
}

/// `ORDER BY` for a full order: absent values first when ascending, last
/// when descending, as on PostgreSQL.
pub fn order_by(order: &[SortKey]) -> String {
    order
        .iter()
        .map(|key| {
            let direction = if key.descending {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            };
            format!("{} {direction}", order_expression(&key.field))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn cursor_value(field: &FieldRef, value: &Value) -> Sql {
    match field {
        FieldRef::System(SystemField::Id | SystemField::OwnerId) => value
            .as_str()
            .and_then(|text| uuid::Uuid::try_parse(text).ok())
            .map_or(Sql::Null, |uuid| Sql::Blob(uuid.as_bytes().to_vec())),
        FieldRef::System(_) => {
            cursor_time(value).map_or(Sql::Null, |at| Sql::Integer(to_micros(at)))
        }
        FieldRef::Data { field_type, .. } => match value {
            Value::Null => Sql::Null,
            Value::Bool(b) => Sql::Integer(i64::from(*b)),
            Value::Number(n) => match (n.as_i64(), field_type) {
                (Some(i), FieldType::Integer) => Sql::Integer(i),
                _ => Sql::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(text) if matches!(field_type, FieldType::Decimal) => {
                Sql::Real(text.parse().unwrap_or(f64::NAN))
            }
            Value::String(text) => Sql::Text(text.clone()),
            other => Sql::Text(other.to_string()),
        },
    }
}

/// The rows strictly after `cursor` in `order`.
pub fn after(order: &[SortKey], cursor: &Cursor, offset: usize) -> Fragment {
    let mut fragment = Fragment::default();
    let mut alternatives = Vec::new();
    for (i, key) in order.iter().enumerate() {
        let mut terms = Vec::new();
        for (earlier, value) in order[..i].iter().zip(&cursor.values) {
            let expression = order_expression(&earlier.field);
            match cursor_value(&earlier.field, value) {
                Sql::Null => terms.push(format!("{expression} IS NULL")),
                bound => {
                    let placeholder = fragment.push_param(offset, bound);
                    terms.push(format!("{expression} = {placeholder}"));
                }
            }
        }
        let expression = order_expression(&key.field);
        let term = match (cursor_value(&key.field, &cursor.values[i]), key.descending) {
            // Ascending puts absent values first: everything present is after.
            (Sql::Null, false) => format!("{expression} IS NOT NULL"),
            // Descending puts them last: nothing is after.
            (Sql::Null, true) => "0".into(),
            (bound, false) => format!("{expression} > {}", fragment.push_param(offset, bound)),
            (bound, true) => {
                let placeholder = fragment.push_param(offset, bound);
                format!("({expression} < {placeholder} OR {expression} IS NULL)")
            }
        };
        terms.push(term);
        alternatives.push(format!("({})", terms.join(" AND ")));
    }
    fragment.sql = format!("({})", alternatives.join(" OR "));
    fragment
}
