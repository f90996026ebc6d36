//! Tenants: `/v1/tenants` and `/v1/tenants/{t}`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::role::Role;

/// `POST /v1/tenants` (201 `TenantView`): the caller becomes its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 3–63 characters of `a-z`, `0-9` and `-`, not starting or ending
    /// with `-`.
    #[schema(
        min_length = 3,
        max_length = 63,
        pattern = "^[a-z0-9][a-z0-9-]*[a-z0-9]$"
    )]
    pub slug: String,
    /// 1–100 characters once trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// `PATCH /v1/tenants/{t}` (admin and above): absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A tenant as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A tenant and the caller's role in it: the tenant's fields and `role` side
/// by side in one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantWithRole {
    #[serde(flatten)]
    pub tenant: TenantView,
    pub role: Role,
}

/// `GET /v1/tenants`: every tenant the caller is a member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantWithRole>,
}
