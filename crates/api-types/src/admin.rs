//! The platform administrator's view of every tenant: `/v1/admin/tenants`.
//! Every use of these endpoints is audited.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant as the platform administrator sees it, suspension included.
/// Also the answer to `POST /v1/admin/tenants/{t}/suspend` and `…/unsuspend`.
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
}

/// `GET /v1/admin/tenants`: one page of tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdminTenantList {
    pub items: Vec<AdminTenantView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
