//! Checks a parsed filter against a collection's schema and types its values.

use super::FilterError;
use super::ast::{CompareOp, Expr, Literal, Spanned};
use super::typed::{FieldRef, SystemField, TypedExpr, TypedValue};
use crate::collection::decimal::normalize_decimal_number;
use crate::collection::{CollectionSchema, FieldType, parse_datetime};

/// Checks every field and value of `expr` against `schema`.
///
/// The rules, by the field's type:
/// - text: strings, with every operator; `~` (contains) only here;
/// - select: strings that are among the field's values; no `~`;
/// - relation, `id`, `owner_id`: strings that are uuids;
/// - number, integer, decimal: numbers (integers must be whole and fit an
///   `i64`; decimals keep their exact digits, normalised);
/// - bool: `true`/`false` with `=` and `!=` only, and no `in`;
/// - datetime, `created_at`, `updated_at`: RFC 3339 strings, normalised to
///   UTC;
/// - json: cannot be filtered;
/// - `null`: only `= null` / `!= null`, on optional data fields.
///
/// Errors point at the field (unknown or unfilterable field), the operator
/// (an operator the type does not have) or the value (a value of the wrong
/// type).
pub fn typecheck(expr: &Expr, schema: &CollectionSchema) -> Result<TypedExpr, FilterError> {
    match expr {
        Expr::And(operands) => Ok(TypedExpr::And(typecheck_all(operands, schema)?)),
        Expr::Or(operands) => Ok(TypedExpr::Or(typecheck_all(operands, schema)?)),
        Expr::Not(operand) => Ok(TypedExpr::Not(Box::new(typecheck(operand, schema)?))),
        Expr::Compare { field, op, value } => compare(field, op, value, schema),
        Expr::In { field, values } => {
            let (field_ref, _) = resolve(field, schema)?;
            let kind = Kind::of(&field_ref);
            if kind == Kind::Bool {
                return Err(FilterError::new(
                    field.position,
                    format!(
                        "'in' does not apply to bool field '{}'; use = or !=",
                        field.node
                    ),
                ));
            }
            let values = values
                .iter()
                .map(|value| {
                    if value.node == Literal::Null {
                        return Err(FilterError::new(
                            value.position,
                            "null cannot be in an 'in' list; use = null",
                        ));
                    }
                    typed_value(&field_ref, kind, value)
                })
                .collect::<Result<_, _>>()?;
            Ok(TypedExpr::In {
                field: field_ref,
                values,
            })
        }
    }
}

fn typecheck_all(
    operands: &[Expr],
    schema: &CollectionSchema,
) -> Result<Vec<TypedExpr>, FilterError> {
    operands
        .iter()
        .map(|operand| typecheck(operand, schema))
        .collect()
}

/// Finds the field `field` names: a system field or a filterable data
/// field. The flag says whether it can be null.
pub(super) fn resolve(
    field: &Spanned<String>,
    schema: &CollectionSchema,
) -> Result<(FieldRef, bool), FilterError> {
    let name = field.node.as_str();
    if let Some(system) = SystemField::parse(name) {
        return Ok((FieldRef::System(system), false));
    }
    if name == "version" {
        return Err(FilterError::new(
            field.position,
            "'version' cannot be used in a filter or sort",
        ));
    }
    let Some(def) = schema.field(name) else {
        return Err(FilterError::new(
            field.position,
            format!("unknown field '{name}'"),
        ));
    };
    if def.field_type == FieldType::Json {
        return Err(FilterError::new(
            field.position,
            format!("json field '{name}' cannot be used in a filter or sort"),
        ));
    }
    let field_ref = FieldRef::Data {
        name: def.name.clone(),
        field_type: def.field_type.clone(),
    };
    Ok((field_ref, !def.required))
}

/// What a field compares as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Select,
    Uuid,
    Number,
    Integer,
    Decimal,
    Bool,
    Datetime,
}

impl Kind {
    fn of(field: &FieldRef) -> Self {
        match field {
            FieldRef::System(SystemField::Id | SystemField::OwnerId) => Self::Uuid,
            FieldRef::System(SystemField::CreatedAt | SystemField::UpdatedAt) => Self::Datetime,
            FieldRef::Data { field_type, .. } => match field_type {
                // Json fields never get this far: `resolve` refuses them.
                FieldType::Text { .. } | FieldType::Json => Self::Text,
                FieldType::Select { .. } => Self::Select,
                FieldType::Relation { .. } => Self::Uuid,
                FieldType::Number => Self::Number,
                FieldType::Integer => Self::Integer,
                FieldType::Decimal => Self::Decimal,
                FieldType::Bool => Self::Bool,
                FieldType::Datetime => Self::Datetime,
            },
        }
    }
}

fn compare(
    field: &Spanned<String>,
    op: &Spanned<CompareOp>,
    value: &Spanned<Literal>,
    schema: &CollectionSchema,
) -> Result<TypedExpr, FilterError> {
    let (field_ref, nullable) = resolve(field, schema)?;
    let name = &field.node;
    if value.node == Literal::Null {
        if !matches!(op.node, CompareOp::Eq | CompareOp::Ne) {
            return Err(FilterError::new(
                op.position,
                "null can only be compared with = or !=",
            ));
        }
        if !nullable {
            return Err(FilterError::new(
                value.position,
                format!("'{name}' always has a value, so it is never null"),
            ));
        }
        return Ok(TypedExpr::IsNull {
            field: field_ref,
            negated: op.node == CompareOp::Ne,
        });
    }
    let kind = Kind::of(&field_ref);
    if op.node == CompareOp::Contains && kind != Kind::Text {
        return Err(FilterError::new(
            op.position,
            format!("'~' applies only to text fields, and '{name}' is not one"),
        ));
    }
    if kind == Kind::Bool && op.node != CompareOp::Eq && op.node != CompareOp::Ne {
        return Err(FilterError::new(
            op.position,
            format!("bool field '{name}' can only be compared with = or !="),
        ));
    }
    let typed = typed_value(&field_ref, kind, value)?;
    Ok(TypedExpr::Compare {
        field: field_ref,
        op: op.node,
        value: typed,
    })
}

/// Converts a non-null literal to the type of `field`.
fn typed_value(
    field: &FieldRef,
    kind: Kind,
    literal: &Spanned<Literal>,
) -> Result<TypedValue, FilterError> {
    let name = field.name();
    let error = |message: String| FilterError::new(literal.position, message);
    match (kind, &literal.node) {
        (Kind::Text, Literal::String(text)) => Ok(TypedValue::Text(text.clone())),
        (Kind::Select, Literal::String(text)) => {
            let allowed = match field {
                FieldRef::Data {
                    field_type: FieldType::Select { values },
                    ..
                } => values.contains(text),
                _ => false,
            };
            if allowed {
                Ok(TypedValue::Text(text.clone()))
            } else {
                Err(error(format!(
                    "{text:?} is not one of the values of '{name}'"
                )))
            }
        }
        (Kind::Uuid, Literal::String(text)) => uuid::Uuid::try_parse(text)
            .map(TypedValue::Uuid)
            .map_err(|_| error(format!("'{name}' holds ids, and {text:?} is not a uuid"))),
        (Kind::Datetime, Literal::String(text)) => parse_datetime(text)
            .map(TypedValue::Datetime)
            .map_err(|invalid| error(format!("'{name}' holds datetimes: {invalid}"))),
        (Kind::Number, Literal::Number(text)) => match text.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(TypedValue::Number(number)),
            _ => Err(error(format!(
                "{text} is out of range for number field '{name}'"
            ))),
        },
        (Kind::Integer, Literal::Number(text)) => normalize_decimal_number(text)
            .ok()
            .and_then(|canonical| canonical.parse::<i64>().ok())
            .map(TypedValue::Integer)
            .ok_or_else(|| {
                error(format!(
                    "integer field '{name}' needs a whole number that fits 64 bits, not {text}"
                ))
            }),
        (Kind::Decimal, Literal::Number(text)) => normalize_decimal_number(text)
            .map(TypedValue::Decimal)
            .map_err(|invalid| error(format!("decimal field '{name}': {invalid}"))),
        (Kind::Bool, Literal::Bool(value)) => Ok(TypedValue::Bool(*value)),
        (kind, _) => Err(error(format!(
            "'{name}' needs {}",
            match kind {
                Kind::Text | Kind::Select => "a quoted string",
                Kind::Uuid => "a uuid in quotes",
                Kind::Datetime => "an RFC 3339 datetime in quotes",
                Kind::Number | Kind::Integer | Kind::Decimal => "a number",
                Kind::Bool => "true or false",
            }
        ))),
    }
}
