//! Collections: tenant-defined record types, and the records in them.
//!
//! A tenant defines a collection by its [`CollectionSchema`] (typed fields,
//! visibility, indexes) and then stores records: JSON objects checked and
//! normalised by [`validate_record`]. Everything here is pure; the store
//! keeps schemas and records, and the [`filter`](crate::filter) language
//! queries them.
//!
//! - [`name`]: the names [`CollectionName`] and [`FieldName`].
//! - [`schema`]: the [`CollectionSchema`] and its parts, valid by construction,
//!   with its stored JSON form [`SchemaDraft`].
//! - [`change`]: the rules of [`schema_change_issues`], which schema changes keep stored
//!   records valid.
//! - [`record`]: the checks of [`validate_record`].
//! - [`decimal`], [`datetime`]: the canonical texts of exact decimals and of
//!   datetimes, shared by records and filters.

pub mod change;
pub mod datetime;
pub mod decimal;
pub mod name;
pub mod record;
pub mod schema;

#[cfg(test)]
mod tests;

pub use change::schema_change_issues;
pub use datetime::{
    InvalidDatetime, append_datetime, format_datetime, normalize_datetime, parse_datetime,
};
pub use decimal::{InvalidDecimal, normalize_decimal};
pub use name::{CollectionName, FieldName, InvalidName, SYSTEM_FIELDS};
pub use record::{FieldIssue, WriteMode, validate_record};
pub use schema::{
    CollectionSchema, FieldDef, FieldDraft, FieldType, InvalidSchema, SchemaDraft, SchemaIssue,
    Visibility,
};
