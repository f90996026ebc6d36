//! Validating and normalising a record's data against its collection's schema.
//!
//! A record is a JSON object of data fields; the system fields (`id`,
//! `owner_id`, `version`, `created_at`, `updated_at`) are the server's and
//! live beside it, never in it. [`validate_record`] checks every field at
//! once and returns the data in its stored form, in which each value has one
//! spelling (UTC datetimes, canonical decimals, lower-case uuids), so the
//! store can compare and index the JSON as it is.

use serde::Serialize;
use serde_json::{Map, Value};

use super::datetime::{InvalidDatetime, normalize_datetime};
use super::decimal::{InvalidDecimal, normalize_decimal, normalize_decimal_number};
use super::name::SYSTEM_FIELDS;
use super::schema::{CollectionSchema, FieldType};

/// What a write means for the fields it leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// A new record: every required field must have a value.
    Create,
    /// The whole record is replaced: as for Create, and fields left out end
    /// up absent.
    Replace,
    /// Only the fields present change; `null` clears an optional field.
    Patch,
}

/// One field that is wrong, with a stable machine-readable `code` (one of
/// the constants below) and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    /// The field's name as the client sent it; empty when the data as a
    /// whole is wrong (not an object).
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldIssue {
    /// The field is not in the schema (or is a system field).
    pub const UNKNOWN_FIELD: &'static str = "unknown_field";
    /// The JSON type is wrong: a number for a text, a fraction for an integer.
    pub const INVALID_TYPE: &'static str = "invalid_type";
    /// A string of the right type does not parse: a datetime, uuid or decimal.
    pub const INVALID_FORMAT: &'static str = "invalid_format";
    /// A number or datetime beyond what the type holds.
    pub const OUT_OF_RANGE: &'static str = "out_of_range";
    /// A text longer than the field's `max_len`.
    pub const TOO_LONG: &'static str = "too_long";
    /// A value that is not one of a select field's values.
    pub const NOT_ALLOWED: &'static str = "not_allowed";
    /// A required field is missing or null.
    pub const REQUIRED: &'static str = "required";

    fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// Checks `data` against `schema` and returns it normalised, or every
/// problem: issues for the schema's fields in declaration order, then
/// unknown fields in key order.
///
/// In the result, for Create and Replace, an optional field given as `null`
/// is left out (absent and null mean the same); for Patch a `null` is kept,
/// and means "remove this field". JSON fields therefore cannot hold a
/// top-level `null`.
///
/// Normalisation is idempotent: validating the result again (in the same
/// mode) returns it unchanged. Uniqueness and whether a relation's target
/// exists need the store, and are the store's to check.
pub fn validate_record(
    schema: &CollectionSchema,
    data: &Value,
    mode: WriteMode,
) -> Result<Map<String, Value>, Vec<FieldIssue>> {
    let Value::Object(data) = data else {
        return Err(vec![FieldIssue::new(
            "",
            FieldIssue::INVALID_TYPE,
            "a record must be a JSON object",
        )]);
    };
    let mut normalised = Map::new();
    let mut issues = Vec::new();
    for field in schema.fields() {
        let name = field.name.as_str();
        match data.get(name) {
            None if field.required && mode != WriteMode::Patch => {
                issues.push(FieldIssue::new(name, FieldIssue::REQUIRED, "is required"));
            }
            None => {}
            Some(Value::Null) if field.required => {
                issues.push(FieldIssue::new(
                    name,
                    FieldIssue::REQUIRED,
                    "is required and cannot be null",
                ));
            }
            // Absent and null mean the same on Create and Replace; on Patch
            // the null tells the store to remove the field.
            Some(Value::Null) if mode == WriteMode::Patch => {
                normalised.insert(name.to_owned(), Value::Null);
            }
            Some(Value::Null) => {}
            Some(value) => match normalise(&field.field_type, value) {
                Ok(value) => {
                    normalised.insert(name.to_owned(), value);
                }
                Err((code, message)) => issues.push(FieldIssue::new(name, code, message)),
            },
        }
    }
    for key in data.keys() {
        if schema.field(key).is_some() {
            continue;
        }
        let message = if SYSTEM_FIELDS.contains(&key.as_str()) {
            format!("'{key}' is a system field, kept by the server")
        } else {
            format!("the collection has no field '{key}'")
        };
        issues.push(FieldIssue::new(key, FieldIssue::UNKNOWN_FIELD, message));
    }
    if issues.is_empty() {
        Ok(normalised)
    } else {
        Err(issues)
    }
}

type Problem = (&'static str, String);

fn invalid_type(expected: &str) -> Problem {
    (FieldIssue::INVALID_TYPE, format!("must be {expected}"))
}

/// The largest magnitude below which every integer is an exact `f64`.
const MAX_EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// The stored form of a non-null `value` of a field of type `field_type`.
fn normalise(field_type: &FieldType, value: &Value) -> Result<Value, Problem> {
    match field_type {
        FieldType::Text { max_len } => {
            let Value::String(text) = value else {
                return Err(invalid_type("a string"));
            };
            if let Some(max_len) = max_len
                && text.chars().count() > *max_len as usize
            {
                return Err((
                    FieldIssue::TOO_LONG,
                    format!("must be at most {max_len} characters long"),
                ));
            }
            Ok(value.clone())
        }
        FieldType::Number => match value {
            // serde_json holds only finite numbers, so any number will do.
            Value::Number(_) => Ok(value.clone()),
            _ => Err(invalid_type("a number")),
        },
        FieldType::Integer => {
            let Value::Number(number) = value else {
                return Err(invalid_type("an integer"));
            };
            if let Some(integer) = number.as_i64() {
                return Ok(Value::from(integer));
            }
            let out_of_range = || {
                (
                    FieldIssue::OUT_OF_RANGE,
                    "must be an integer between -9223372036854775808 and 9223372036854775807"
                        .to_owned(),
                )
            };
            if number.is_u64() {
                return Err(out_of_range());
            }
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() != 0.0 {
                return Err(invalid_type("a whole number"));
            }
            // A JSON number written with a fraction or exponent (`2.0`,
            // `1e3`) arrives as a float; it is the integer the client meant
            // only while floats still represent every integer.
            if float.abs() > MAX_EXACT_FLOAT_INTEGER {
                return Err(out_of_range());
            }
            Ok(Value::from(float as i64))
        }
        FieldType::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(invalid_type("true or false")),
        },
        FieldType::Datetime => {
            let Value::String(text) = value else {
                return Err(invalid_type("an RFC 3339 datetime string"));
            };
            normalize_datetime(text)
                .map(Value::String)
                .map_err(|error| match error {
                    InvalidDatetime::Format => (FieldIssue::INVALID_FORMAT, error.to_string()),
                    InvalidDatetime::OutOfRange => (FieldIssue::OUT_OF_RANGE, error.to_string()),
                })
        }
        FieldType::Json => Ok(value.clone()),
        FieldType::Select { values } => {
            let Value::String(text) = value else {
                return Err(invalid_type("a string"));
            };
            if values.contains(text) {
                Ok(value.clone())
            } else {
                Err((
                    FieldIssue::NOT_ALLOWED,
                    format!("must be one of: {}", values.join(", ")),
                ))
            }
        }
        FieldType::Relation { collection } => {
            let Value::String(text) = value else {
                return Err(invalid_type(&format!(
                    "the id of a record of '{collection}'"
                )));
            };
            uuid::Uuid::try_parse(text)
                .map(|id| Value::String(id.hyphenated().to_string()))
                .map_err(|_| {
                    (
                        FieldIssue::INVALID_FORMAT,
                        format!("must be the id (a uuid) of a record of '{collection}'"),
                    )
                })
        }
        FieldType::Decimal => {
            // Numbers are accepted for convenience, but arrive as floats:
            // a client that needs every digit sends a string.
            let canonical = match value {
                Value::String(text) => normalize_decimal(text),
                Value::Number(number) => normalize_decimal_number(&number.to_string()),
                _ => return Err(invalid_type("a decimal, as a string such as \"12.50\"")),
            };
            canonical.map(Value::String).map_err(|error| match error {
                InvalidDecimal::Format => (FieldIssue::INVALID_FORMAT, error.to_string()),
                InvalidDecimal::Precision | InvalidDecimal::Scale => {
                    (FieldIssue::OUT_OF_RANGE, error.to_string())
                }
            })
        }
    }
}
