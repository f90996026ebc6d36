//! The error body of every failed request: RFC 9457
//! `application/problem+json`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of a `Problem` body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. Clients branch on `code`, which never changes once
/// published; `title` is the HTTP reason phrase and `detail` a sentence for
/// people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when `status` and `code`
    /// say it all. Serialised as `type`.
    pub r#type: String,
    pub title: String,
    /// The HTTP status code, repeated.
    pub status: u16,
    /// A stable machine-readable code such as `tenant_not_found`.
    pub code: String,
    pub detail: String,
    /// For validation failures: what is wrong with which field. Omitted
    /// when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `quota_exceeded`: the quota the request ran into (`members`,
    /// `records`, `storage_bytes`, `collections`, `api_keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
}

/// What is wrong with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field's name, dotted for nested fields (`fields.0.name`).
    pub field: String,
    /// A stable machine-readable code such as `too_short`.
    pub code: String,
    pub message: String,
}
