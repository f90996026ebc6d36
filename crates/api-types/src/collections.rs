//! Collections and records: `/v1/tenants/{t}/collections*`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// One typed field of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    /// `text`, `number`, `integer`, `bool`, `datetime`, `json`, `select`,
    /// `relation` or `decimal`.
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default)]
    pub required: bool,
    /// Unique within the tenant.
    #[serde(default)]
    pub unique: bool,
    /// Text fields: the most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
    /// Select fields: the allowed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Relation fields: the collection pointed at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// A collection's definition: `POST` creates one, `PATCH` replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    pub name: String,
    pub fields: Vec<FieldSpec>,
    /// `tenant` (every member reads; the default) or `owner` (the owner and
    /// managers).
    #[serde(default = "default_visibility")]
    #[schema(default = "tenant")]
    pub visibility: String,
    /// Database indexes, each a list of 1 to 4 field names.
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
}

fn default_visibility() -> String {
    "tenant".to_owned()
}

/// A collection as the server answers it: its definition, with the same
/// fields as [`CollectionSpec`], and its version and times.
///
/// The definition's fields are listed here rather than flattened from
/// [`CollectionSpec`]: that schema forbids unknown properties (it is a
/// request body), so a view made of it plus three more fields would fail
/// its own schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectionView {
    pub name: String,
    pub fields: Vec<FieldSpec>,
    /// `tenant` or `owner`.
    pub visibility: String,
    /// Database indexes, each a list of 1 to 4 field names.
    pub indexes: Vec<Vec<String>>,
    /// Increases with every change; `If-Match` on `PATCH` names it.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl CollectionView {
    /// The collection's view made of its definition and version and times.
    pub fn new(
        spec: CollectionSpec,
        version: i64,
        created_at: OffsetDateTime,
        updated_at: OffsetDateTime,
    ) -> CollectionView {
        let CollectionSpec {
            name,
            fields,
            visibility,
            indexes,
        } = spec;
        CollectionView {
            name,
            fields,
            visibility,
            indexes,
            version,
            created_at,
            updated_at,
        }
    }

    /// The definition alone, as a `PATCH` would send it back.
    pub fn spec(&self) -> CollectionSpec {
        CollectionSpec {
            name: self.name.clone(),
            fields: self.fields.clone(),
            visibility: self.visibility.clone(),
            indexes: self.indexes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectionList {
    pub items: Vec<CollectionView>,
}

/// A record. `data` holds the collection's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub version: i64,
    /// RFC 3339, UTC, microseconds.
    pub created_at: String,
    pub updated_at: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

/// `?filter=&sort=&limit=&cursor=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// e.g. `status = "open" && (priority >= 2 || owner_id = "…")`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// e.g. `-created_at,title`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// The most records to return, 1 to 100 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 100)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
