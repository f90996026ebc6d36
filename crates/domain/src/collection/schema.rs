//! A collection's schema: its fields, who sees its records, its indexes.
//!
//! A [`CollectionSchema`] that exists is valid: its one constructor,
//! [`CollectionSchema::from_draft`] (which [`CollectionSchema::new`] and
//! deserialization go through), checks every rule and reports every broken
//! one at once, each with the path of the offending part, so a client fixes
//! a schema in one round trip.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::name::{CollectionName, FieldName};

/// At most this many data fields per collection.
pub const MAX_FIELDS: usize = 64;
/// At most this many indexes per collection.
pub const MAX_INDEXES: usize = 8;
/// At most this many fields per index.
pub const MAX_INDEX_FIELDS: usize = 4;
/// At most this many values per select field.
pub const MAX_SELECT_VALUES: usize = 100;

/// The type of a data field, which decides what values it accepts (see
/// [`validate_record`](super::validate_record)) and how it can be filtered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// A string, optionally capped at `max_len` characters (Unicode scalar
    /// values, not bytes).
    Text {
        max_len: Option<u32>,
    },
    /// A finite JSON number, kept as given.
    Number,
    /// A whole number that fits an `i64`.
    Integer,
    Bool,
    /// A point in time, stored as UTC text (see
    /// [`format_datetime`](super::format_datetime)).
    Datetime,
    /// Any JSON value. Cannot be unique, indexed, filtered or sorted on.
    Json,
    /// One of a fixed list of strings.
    Select {
        values: Vec<String>,
    },
    /// The id of a record of `collection`, in the same tenant.
    Relation {
        collection: CollectionName,
    },
    /// An exact decimal, stored as canonical text (see
    /// [`normalize_decimal`](super::normalize_decimal)).
    Decimal,
}

impl FieldType {
    /// The type's name in the stored schema and in messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Bool => "bool",
            Self::Datetime => "datetime",
            Self::Json => "json",
            Self::Select { .. } => "select",
            Self::Relation { .. } => "relation",
            Self::Decimal => "decimal",
        }
    }

    /// Every type name, in the order the documentation lists them.
    pub const KINDS: [&'static str; 9] = [
        "text", "number", "integer", "bool", "datetime", "json", "select", "relation", "decimal",
    ];
}

/// One data field of a collection.
///
/// Its rules depend on the rest of the schema (names are unique, indexes
/// name existing fields), so it is checked by [`CollectionSchema::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: FieldName,
    pub field_type: FieldType,
    /// Create and Replace must give the field a non-null value.
    pub required: bool,
    /// No two records of the collection hold the same value; records that
    /// lack the field do not collide.
    pub unique: bool,
}

/// Who may see a collection's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Every member of the tenant allowed to read records.
    Tenant,
    /// Only the record's owner (and roles the service lets see everything).
    Owner,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Owner => "owner",
        }
    }
}

/// One problem with a schema, or with a change from one schema to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaIssue {
    /// Where the problem is, as a path into the schema's JSON form:
    /// `name`, `fields[2].type`, `indexes[0][1]`.
    pub path: String,
    pub message: String,
}

impl SchemaIssue {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A schema was refused; carries every [`SchemaIssue`]. Only deserialization
/// needs this wrapper: the constructors return the list itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid collection schema: {}", join_issues(.issues))]
pub struct InvalidSchema {
    pub issues: Vec<SchemaIssue>,
}

fn join_issues(issues: &[SchemaIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The schema of a collection: valid by construction.
///
/// Its JSON form (how it is stored, and what the API takes) is that of
/// [`SchemaDraft`]:
///
/// ```json
/// { "name": "orders",
///   "fields": [ { "name": "total", "type": "decimal", "required": true, "unique": false },
///               { "name": "status", "type": "select", "required": false, "unique": false,
///                 "values": ["open", "paid"] } ],
///   "visibility": "tenant",
///   "indexes": [["status", "total"]] }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SchemaDraft", into = "SchemaDraft")]
pub struct CollectionSchema {
    name: CollectionName,
    fields: Vec<FieldDef>,
    visibility: Visibility,
    indexes: Vec<Vec<FieldName>>,
}

impl CollectionSchema {
    /// Checks every rule: at most [`MAX_FIELDS`] fields with distinct names;
    /// `max_len` at least 1; select values 1 to [`MAX_SELECT_VALUES`],
    /// distinct and non-empty; json fields neither unique nor indexed; at
    /// most [`MAX_INDEXES`] distinct indexes of 1 to [`MAX_INDEX_FIELDS`]
    /// distinct existing fields.
    ///
    /// Whether a relation's target collection exists is not checked here:
    /// that takes a look at the tenant's other collections.
    pub fn new(
        name: CollectionName,
        fields: Vec<FieldDef>,
        visibility: Visibility,
        indexes: Vec<Vec<FieldName>>,
    ) -> Result<Self, Vec<SchemaIssue>> {
        Self::from_draft(SchemaDraft::from_parts(
            &name, &fields, visibility, &indexes,
        ))
    }

    /// Checks a schema in its JSON form, as [`new`](Self::new) does, and
    /// also every name and type name in it.
    pub fn from_draft(draft: SchemaDraft) -> Result<Self, Vec<SchemaIssue>> {
        let mut issues = Vec::new();
        let name = CollectionName::parse(&draft.name)
            .map_err(|error| issues.push(SchemaIssue::new("name", error.to_string())))
            .ok();

        if draft.fields.len() > MAX_FIELDS {
            issues.push(SchemaIssue::new(
                "fields",
                format!("a collection may have at most {MAX_FIELDS} fields"),
            ));
        }
        let mut fields = Vec::with_capacity(draft.fields.len());
        let mut first_index_of: HashMap<&str, usize> = HashMap::new();
        for (index, field) in draft.fields.iter().enumerate() {
            let path = format!("fields[{index}]");
            let field_name = FieldName::parse(&field.name)
                .map_err(|error| {
                    issues.push(SchemaIssue::new(format!("{path}.name"), error.to_string()))
                })
                .ok();
            if let Some(first) = first_index_of.get(field.name.as_str()) {
                issues.push(SchemaIssue::new(
                    format!("{path}.name"),
                    format!("'{}' is already the name of fields[{first}]", field.name),
                ));
            } else {
                first_index_of.insert(&field.name, index);
            }
            let field_type = field_type_of(field, &path, &mut issues);
            if field.unique && field.field_type == "json" {
                issues.push(SchemaIssue::new(
                    format!("{path}.unique"),
                    "json fields cannot be unique",
                ));
            }
            if let (Some(name), Some(field_type)) = (field_name, field_type) {
                fields.push(FieldDef {
                    name,
                    field_type,
                    required: field.required,
                    unique: field.unique,
                });
            }
        }

        let visibility = match draft.visibility.as_str() {
            "tenant" => Some(Visibility::Tenant),
            "owner" => Some(Visibility::Owner),
            other => {
                issues.push(SchemaIssue::new(
                    "visibility",
                    format!("unknown visibility '{other}'; expected 'tenant' or 'owner'"),
                ));
                None
            }
        };

        let indexes = indexes_of(&draft, &first_index_of, &mut issues);

        match (name, visibility) {
            (Some(name), Some(visibility)) if issues.is_empty() => Ok(Self {
                name,
                fields,
                visibility,
                indexes,
            }),
            _ => Err(issues),
        }
    }

    /// The schema's JSON form.
    pub fn to_draft(&self) -> SchemaDraft {
        SchemaDraft::from_parts(&self.name, &self.fields, self.visibility, &self.indexes)
    }

    pub fn name(&self) -> &CollectionName {
        &self.name
    }

    /// The data fields, in the order they were declared.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// The data field called `name`, if there is one.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|field| field.name.as_str() == name)
    }

    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    /// Non-unique indexes the store keeps, each over 1 to 4 fields in order.
    /// Unique fields get their own unique index besides these.
    pub fn indexes(&self) -> &[Vec<FieldName>] {
        &self.indexes
    }
}

/// The field type a draft field describes, or `None` after recording why
/// it describes none.
fn field_type_of(
    field: &FieldDraft,
    path: &str,
    issues: &mut Vec<SchemaIssue>,
) -> Option<FieldType> {
    let kind = field.field_type.as_str();
    if !FieldType::KINDS.contains(&kind) {
        issues.push(SchemaIssue::new(
            format!("{path}.type"),
            format!(
                "unknown type '{kind}'; expected one of {}",
                FieldType::KINDS.join(", ")
            ),
        ));
        return None;
    }
    let mut valid = true;
    // Each extra attribute belongs to exactly one type.
    for (attribute, present, owner) in [
        ("max_len", field.max_len.is_some(), "text"),
        ("values", field.values.is_some(), "select"),
        ("collection", field.collection.is_some(), "relation"),
    ] {
        if present && kind != owner {
            issues.push(SchemaIssue::new(
                format!("{path}.{attribute}"),
                format!("{attribute} applies only to {owner} fields"),
            ));
            valid = false;
        }
    }
    let field_type = match kind {
        "text" => {
            if field.max_len == Some(0) {
                issues.push(SchemaIssue::new(
                    format!("{path}.max_len"),
                    "max_len must be at least 1",
                ));
                valid = false;
            }
            FieldType::Text {
                max_len: field.max_len,
            }
        }
        "number" => FieldType::Number,
        "integer" => FieldType::Integer,
        "bool" => FieldType::Bool,
        "datetime" => FieldType::Datetime,
        "json" => FieldType::Json,
        "decimal" => FieldType::Decimal,
        "select" => {
            let values = field.values.clone().unwrap_or_default();
            valid &= check_select_values(field.values.is_some(), &values, path, issues);
            FieldType::Select { values }
        }
        // The only kind left is "relation".
        _ => match &field.collection {
            None => {
                issues.push(SchemaIssue::new(
                    format!("{path}.collection"),
                    "relation fields need the name of the collection they point to",
                ));
                return None;
            }
            Some(collection) => match CollectionName::parse(collection) {
                Ok(collection) => FieldType::Relation { collection },
                Err(error) => {
                    issues.push(SchemaIssue::new(
                        format!("{path}.collection"),
                        error.to_string(),
                    ));
                    return None;
                }
            },
        },
    };
    valid.then_some(field_type)
}

fn check_select_values(
    present: bool,
    values: &[String],
    path: &str,
    issues: &mut Vec<SchemaIssue>,
) -> bool {
    let before = issues.len();
    if !present || values.is_empty() || values.len() > MAX_SELECT_VALUES {
        issues.push(SchemaIssue::new(
            format!("{path}.values"),
            format!("select fields need 1 to {MAX_SELECT_VALUES} values"),
        ));
    }
    let mut first_index_of: HashMap<&str, usize> = HashMap::new();
    for (index, value) in values.iter().enumerate() {
        let value_path = format!("{path}.values[{index}]");
        if value.is_empty() {
            issues.push(SchemaIssue::new(
                value_path,
                "select values must not be empty",
            ));
        } else if let Some(first) = first_index_of.get(value.as_str()) {
            issues.push(SchemaIssue::new(
                value_path,
                format!("'{value}' is already values[{first}]"),
            ));
        } else {
            first_index_of.insert(value, index);
        }
    }
    issues.len() == before
}

fn indexes_of(
    draft: &SchemaDraft,
    field_index_of: &HashMap<&str, usize>,
    issues: &mut Vec<SchemaIssue>,
) -> Vec<Vec<FieldName>> {
    if draft.indexes.len() > MAX_INDEXES {
        issues.push(SchemaIssue::new(
            "indexes",
            format!("a collection may have at most {MAX_INDEXES} indexes"),
        ));
    }
    let mut indexes = Vec::with_capacity(draft.indexes.len());
    let mut first_index_of: HashMap<&[String], usize> = HashMap::new();
    for (index, names) in draft.indexes.iter().enumerate() {
        let path = format!("indexes[{index}]");
        if names.is_empty() || names.len() > MAX_INDEX_FIELDS {
            issues.push(SchemaIssue::new(
                &path,
                format!("an index covers 1 to {MAX_INDEX_FIELDS} fields"),
            ));
        }
        if let Some(first) = first_index_of.get(names.as_slice()) {
            issues.push(SchemaIssue::new(&path, format!("same as indexes[{first}]")));
        } else {
            first_index_of.insert(names, index);
        }
        let mut fields = Vec::with_capacity(names.len());
        for (position, name) in names.iter().enumerate() {
            let field_path = format!("{path}[{position}]");
            if names[..position].contains(name) {
                issues.push(SchemaIssue::new(
                    field_path,
                    format!("'{name}' appears twice in this index"),
                ));
                continue;
            }
            let Some(&field_index) = field_index_of.get(name.as_str()) else {
                issues.push(SchemaIssue::new(
                    field_path,
                    format!("no field is named '{name}'"),
                ));
                continue;
            };
            if draft.fields[field_index].field_type == "json" {
                issues.push(SchemaIssue::new(
                    field_path,
                    "json fields cannot be indexed",
                ));
                continue;
            }
            if let Ok(name) = FieldName::parse(name) {
                fields.push(name);
            }
        }
        indexes.push(fields);
    }
    indexes
}

impl TryFrom<SchemaDraft> for CollectionSchema {
    type Error = InvalidSchema;
    fn try_from(draft: SchemaDraft) -> Result<Self, Self::Error> {
        Self::from_draft(draft).map_err(|issues| InvalidSchema { issues })
    }
}

impl From<CollectionSchema> for SchemaDraft {
    fn from(schema: CollectionSchema) -> Self {
        schema.to_draft()
    }
}

/// A collection schema in its JSON form, not yet checked: what clients send
/// and what is stored. [`CollectionSchema::from_draft`] turns it into a
/// schema or reports every problem.
///
/// The shape is part of the stored data and of the API, so it only ever
/// grows by optional members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaDraft {
    pub name: String,
    pub fields: Vec<FieldDraft>,
    /// `"tenant"` or `"owner"`; `"tenant"` when left out, the visibility
    /// nobody is surprised by.
    #[serde(default = "SchemaDraft::default_visibility")]
    pub visibility: String,
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
}

/// One field of a [`SchemaDraft`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDraft {
    pub name: String,
    /// One of [`FieldType::KINDS`].
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    /// Text fields only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
    /// Select fields only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Relation fields only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

impl SchemaDraft {
    fn default_visibility() -> String {
        Visibility::Tenant.as_str().to_owned()
    }

    fn from_parts(
        name: &CollectionName,
        fields: &[FieldDef],
        visibility: Visibility,
        indexes: &[Vec<FieldName>],
    ) -> Self {
        Self {
            name: name.to_string(),
            fields: fields.iter().map(FieldDraft::from_def).collect(),
            visibility: visibility.as_str().to_owned(),
            indexes: indexes
                .iter()
                .map(|index| index.iter().map(ToString::to_string).collect())
                .collect(),
        }
    }
}

impl FieldDraft {
    fn from_def(field: &FieldDef) -> Self {
        let mut draft = Self {
            name: field.name.to_string(),
            field_type: field.field_type.kind().to_owned(),
            required: field.required,
            unique: field.unique,
            max_len: None,
            values: None,
            collection: None,
        };
        match &field.field_type {
            FieldType::Text { max_len } => draft.max_len = *max_len,
            FieldType::Select { values } => draft.values = Some(values.clone()),
            FieldType::Relation { collection } => draft.collection = Some(collection.to_string()),
            FieldType::Number
            | FieldType::Integer
            | FieldType::Bool
            | FieldType::Datetime
            | FieldType::Json
            | FieldType::Decimal => {}
        }
        draft
    }
}
