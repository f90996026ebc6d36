//! The platform administrator's view of every tenant: `/v1/admin/tenants`.
//! Every use of these endpoints is audited.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant as the platform administrator sees it, suspension included.
/// Also the answer to `POST /v1/admin/tenants/{t}/suspend`, `…/unsuspend`
/// and `PUT …/charge-markup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdminTenantView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the tenant was suspended; `null` while it is active.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub suspended_at: Option<OffsetDateTime>,
    /// What the tenant's charges multiply a metered cost by, as a decimal
    /// string, when a platform admin set it for this tenant; `null` while
    /// its plan's markup applies (1 if the plan sets none).
    #[serde(default)]
    #[schema(example = "1.5")]
    pub charge_markup: Option<String>,
}

/// `PUT /v1/admin/tenants/{t}/charge-markup` (200 `AdminTenantView`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetChargeMarkupRequest {
    /// Greater than 0 and at most 1000000, with at most 6 digits after the
    /// point: `"5"`, `"1.25"`.
    #[schema(example = "5")]
    pub markup: String,
}

/// `GET /v1/admin/tenants`: one page of tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdminTenantList {
    pub items: Vec<AdminTenantView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
