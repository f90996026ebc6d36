//! Which schema changes stored records survive.
//!
//! Records are validated when written, never when read, so a schema change
//! must not make a stored record invalid. [`schema_change_issues`] allows
//! only changes under which every record valid before is still valid after;
//! anything else is refused. A change that needs data rewritten (a new
//! required field, a narrower type) is a migration, which the caller may
//! offer later as its own operation: rewrite the records, then change the
//! schema.

use super::schema::{CollectionSchema, FieldType, SchemaIssue};

/// The reasons a change from `old` to `new` would invalidate stored records,
/// empty when it is safe. Both schemas are already valid on their own.
/// Paths point into `new` (or into `old` for the name).
///
/// Allowed:
/// - adding an optional field;
/// - removing a field: its values stay in stored records but are ignored
///   thereafter, since records are read through the current schema. Because
///   a field added later under the same name would see them again, the store
///   must drop the key from stored records when it applies a removal (or
///   the caller must refuse re-using the name until it has);
/// - changing a field from text to json (a string is a JSON value), from
///   integer to number, or from integer to decimal (stored integers remain
///   JSON numbers until rewritten, so readers of a decimal field accept both
///   a number and a string);
/// - raising or removing a text `max_len`, adding select values;
/// - making a field optional or no longer unique;
/// - changing the visibility (an access rule, not a property of the data)
///   and the indexes.
///
/// Refused: renaming the collection, adding a required field (there is no
/// default to fill stored records with), any other type change (including
/// pointing a relation at another collection), lowering or adding a text
/// `max_len`, removing select values, and making a field required or unique.
pub fn schema_change_issues(old: &CollectionSchema, new: &CollectionSchema) -> Vec<SchemaIssue> {
    let mut issues = Vec::new();
    if old.name() != new.name() {
        issues.push(SchemaIssue::new(
            "name",
            format!("a collection cannot be renamed (from '{}')", old.name()),
        ));
    }
    for (index, field) in new.fields().iter().enumerate() {
        let path = format!("fields[{index}]");
        let Some(before) = old.field(field.name.as_str()) else {
            if field.required {
                issues.push(SchemaIssue::new(
                    format!("{path}.required"),
                    "a new field must be optional: stored records have no value for it",
                ));
            }
            continue;
        };
        if let Some(message) = type_change_issue(&before.field_type, &field.field_type) {
            let attribute = match (&before.field_type, &field.field_type) {
                (FieldType::Text { .. }, FieldType::Text { .. }) => "max_len",
                (FieldType::Select { .. }, FieldType::Select { .. }) => "values",
                (FieldType::Relation { .. }, FieldType::Relation { .. }) => "collection",
                _ => "type",
            };
            issues.push(SchemaIssue::new(format!("{path}.{attribute}"), message));
        }
        if field.required && !before.required {
            issues.push(SchemaIssue::new(
                format!("{path}.required"),
                "a field cannot become required: stored records may lack it",
            ));
        }
        if field.unique && !before.unique {
            issues.push(SchemaIssue::new(
                format!("{path}.unique"),
                "a field cannot become unique: stored records may repeat a value",
            ));
        }
    }
    issues
}

/// Why stored values of type `old` may not be valid values of type `new`.
fn type_change_issue(old: &FieldType, new: &FieldType) -> Option<String> {
    match (old, new) {
        (FieldType::Text { max_len: before }, FieldType::Text { max_len: after }) => {
            match (before, after) {
                (_, None) => None,
                (Some(before), Some(after)) if after >= before => None,
                (None, Some(after)) => Some(format!(
                    "max_len cannot be added: stored texts may be longer than {after}"
                )),
                (Some(before), Some(after)) => Some(format!(
                    "max_len cannot be lowered from {before} to {after}: stored texts may be longer"
                )),
            }
        }
        (FieldType::Select { values: before }, FieldType::Select { values: after }) => {
            let removed: Vec<&str> = before
                .iter()
                .filter(|value| !after.contains(value))
                .map(String::as_str)
                .collect();
            (!removed.is_empty()).then(|| {
                format!(
                    "select values cannot be removed ({}): stored records may hold them",
                    removed.join(", ")
                )
            })
        }
        (FieldType::Relation { collection: before }, FieldType::Relation { collection: after }) => {
            (before != after)
                .then(|| format!("a relation cannot be pointed from '{before}' to '{after}'"))
        }
        (FieldType::Text { .. }, FieldType::Json)
        | (FieldType::Integer, FieldType::Number | FieldType::Decimal) => None,
        (old, new) if old.kind() == new.kind() => None,
        (old, new) => Some(format!(
            "type cannot change from {} to {}: only text to json, integer to number and integer to decimal keep stored values valid",
            old.kind(),
            new.kind()
        )),
    }
}
