//! The registry of tenants, seen from the platform.

use async_trait::async_trait;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{TenantId, TenantSlug};
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::{Page, Tenant};

#[async_trait]
pub trait TenantRegistry: Send {
    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>>;
    async fn tenant_by_slug(&mut self, slug: &TenantSlug) -> Result<Option<Tenant>>;
    /// Tenants ordered by id, optionally only those whose slug or name
    /// contains `search` (case-insensitively).
    async fn list_tenants(
        &mut self,
        search: Option<&str>,
        page: Page<TenantId>,
    ) -> Result<Vec<Tenant>>;
    async fn set_tenant_suspended(
        &mut self,
        id: TenantId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Sets the markup of the tenant's charges; `false` if there is no
    /// such tenant.
    async fn set_charge_markup(
        &mut self,
        id: TenantId,
        markup: Markup,
        now: OffsetDateTime,
    ) -> Result<bool>;
}
