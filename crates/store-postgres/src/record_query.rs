//! Record filters, sorts and keyset cursors compiled to PostgreSQL SQL.
//!
//! Values are always bound (`QueryBuilder::push_bind`); only validated field
//! names ([`FieldName`](bulkhead_domain::collection::FieldName):
//! `[a-z][a-z0-9_]*`) and fixed keywords are written into the text.
//!
//! Each data field is read in one fixed form per type (see
//! [`order_expression`]); declared indexes are created over exactly these
//! forms, so the planner can use them for filters and sorts. Text compares
//! with `COLLATE "C"` (bytewise, like SQLite), decimals as exact `numeric`.

use bulkhead_domain::collection::{FieldType, format_datetime};
use bulkhead_domain::filter::{CompareOp, FieldRef, SortKey, SystemField, TypedExpr, TypedValue};
use bulkhead_store::{Cursor, cursor_time};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

/// How a field is read, for comparing, ordering and indexing.
pub fn order_expression(field: &FieldRef) -> String {
    match field {
        FieldRef::System(field) => bulkhead_store::system_column(*field).into(),
        FieldRef::Data { name, field_type } => {
            let extract = format!("(data ->> '{}')", name.as_str());
            match field_type {
                FieldType::Integer => format!("({extract}::bigint)"),
                FieldType::Number => format!("({extract}::float8)"),
                FieldType::Decimal => format!("({extract}::numeric)"),
                FieldType::Bool | FieldType::Json => format!("({extract})"),
                FieldType::Text { .. }
                | FieldType::Select { .. }
                | FieldType::Relation { .. }
                | FieldType::Datetime => {
                    format!("({extract} COLLATE \"C\")")
                }
            }
        }
    }
}

/// Binds a typed value in the form its field is read in.
fn push_value(sql: &mut QueryBuilder<'_, Postgres>, field: &FieldRef, value: &TypedValue) {
    match value {
        TypedValue::Text(text) => {
            sql.push_bind(text.clone());
        }
        TypedValue::Integer(n) => {
            sql.push_bind(*n);
        }
        TypedValue::Number(n) => {
            sql.push_bind(*n);
        }
        TypedValue::Decimal(text) => {
            sql.push_bind(text.clone()).push("::numeric");
        }
        TypedValue::Bool(b) => {
            sql.push_bind(if *b { "true" } else { "false" });
        }
        TypedValue::Datetime(at) => match field {
            FieldRef::System(_) => {
                sql.push_bind(*at);
            }
            FieldRef::Data { .. } => {
                sql.push_bind(format_datetime(*at));
            }
        },
        TypedValue::Uuid(uuid) => match field {
            FieldRef::System(_) => {
                sql.push_bind(*uuid);
            }
            FieldRef::Data { .. } => {
                sql.push_bind(uuid.hyphenated().to_string());
            }
        },
    }
}

/// Appends a typed filter.
pub fn push_filter(sql: &mut QueryBuilder<'_, Postgres>, expr: &TypedExpr) {
    match expr {
        TypedExpr::And(parts) => push_joined(sql, parts, " AND ", "true"),
        TypedExpr::Or(parts) => push_joined(sql, parts, " OR ", "false"),
        TypedExpr::Not(inner) => {
            sql.push("NOT (");
            push_filter(sql, inner);
            sql.push(")");
        }
        TypedExpr::IsNull { field, negated } => {
            sql.push(order_expression(field));
            sql.push(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        TypedExpr::In { field, values } => {
            sql.push(order_expression(field)).push(" IN (");
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                push_value(sql, field, value);
            }
            sql.push(")");
        }
        TypedExpr::Compare { field, op, value } => {
            let expression = order_expression(field);
            if *op == CompareOp::Contains {
                // A literal, case-sensitive substring test.
                sql.push("strpos(").push(expression).push(", ");
                push_value(sql, field, value);
                sql.push(") > 0");
                return;
            }
            let operator = match op {
                CompareOp::Eq => " = ",
                CompareOp::Ne => " <> ",
                CompareOp::Lt => " < ",
                CompareOp::Le => " <= ",
                CompareOp::Gt => " > ",
                CompareOp::Ge => " >= ",
                CompareOp::Contains => unreachable!("handled above"),
            };
            sql.push(expression).push(operator);
            push_value(sql, field, value);
        }
    }
}

fn push_joined(
    sql: &mut QueryBuilder<'_, Postgres>,
    parts: &[TypedExpr],
    operator: &str,
    empty: &str,
) {
    if parts.is_empty() {
        sql.push(empty);
        return;
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(operator);
        }
        sql.push("(");
        push_filter(sql, part);
        sql.push(")");
    }
}

/// `ORDER BY` for a full order: absent values first when ascending, last
/// when descending, as on SQLite.
///
/// `id`, `created_at` and `updated_at` are never null, so they get plain
/// `ASC`/`DESC`: a `NULLS` clause that differs from the index's own order
/// (`DESC` is `NULLS FIRST` in a default index) keeps PostgreSQL from
/// reading `ix_records_created` backwards for the default order, and it
/// would read and sort every record of the collection instead.
pub fn order_by(order: &[SortKey]) -> String {
    order
        .iter()
        .map(|key| {
            let never_null = matches!(
                key.field,
                FieldRef::System(SystemField::Id | SystemField::CreatedAt | SystemField::UpdatedAt)
            );
            let direction = match (key.descending, never_null) {
                (true, true) => "DESC",
                (false, true) => "ASC",
                (true, false) => "DESC NULLS LAST",
                (false, false) => "ASC NULLS FIRST",
            };
            format!("{} {direction}", order_expression(&key.field))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds a cursor value in its field's form; `false` if it is null.
fn push_cursor_value(
    sql: &mut QueryBuilder<'_, Postgres>,
    field: &FieldRef,
    value: &Value,
) -> bool {
    match field {
        FieldRef::System(SystemField::Id | SystemField::OwnerId) => {
            match value
                .as_str()
                .and_then(|text| uuid::Uuid::try_parse(text).ok())
            {
                Some(uuid) => {
                    sql.push_bind(uuid);
                    true
                }
                None => false,
            }
        }
        FieldRef::System(_) => match cursor_time(value) {
            Some(at) => {
                sql.push_bind(at);
                true
            }
            None => false,
        },
        FieldRef::Data { field_type, .. } => {
            let text = match value {
                Value::Null => return false,
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            sql.push_bind(text);
            match field_type {
                FieldType::Integer => sql.push("::bigint"),
                FieldType::Number => sql.push("::float8"),
                FieldType::Decimal => sql.push("::numeric"),
                _ => sql,
            };
            true
        }
    }
}

/// The rows strictly after `cursor` in `order`.
pub fn push_after(sql: &mut QueryBuilder<'_, Postgres>, order: &[SortKey], cursor: &Cursor) {
    sql.push("(");
    for (i, key) in order.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(");
        for (earlier, value) in order[..i].iter().zip(&cursor.values) {
            let expression = order_expression(&earlier.field);
            if value.is_null() {
                sql.push(expression).push(" IS NULL AND ");
            } else {
                sql.push(expression).push(" = ");
                push_cursor_value(sql, &earlier.field, value);
                sql.push(" AND ");
            }
        }
        let expression = order_expression(&key.field);
        let value = &cursor.values[i];
        match (value.is_null(), key.descending) {
            (true, false) => {
                sql.push(expression).push(" IS NOT NULL");
            }
            (true, true) => {
                sql.push("false");
            }
            (false, false) => {
                sql.push(expression).push(" > ");
                push_cursor_value(sql, &key.field, value);
            }
            (false, true) => {
                sql.push("(").push(expression.clone()).push(" < ");
                push_cursor_value(sql, &key.field, value);
                sql.push(" OR ").push(expression).push(" IS NULL)");
            }
        }
        sql.push(")");
    }
    sql.push(")");
}
