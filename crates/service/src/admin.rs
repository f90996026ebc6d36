//! Platform administration: the audited system path across tenants. A
//! platform admin gets no access to tenant data through the ordinary
//! routes; these use cases are all they have, and each is recorded in the
//! platform's audit log.

use bulkhead_domain::TenantId;
use bulkhead_domain::audit::Outcome;
use bulkhead_domain::ledger::Markup;
use bulkhead_store::{Access, Page, Tenant};

use std::sync::Arc;

use crate::ServiceError;
use crate::context::{Principal, RequestContext};
use crate::page::Paged;
use crate::shared::Core;

/// The audited platform path: what a platform admin may do.
#[derive(Debug, Clone)]
pub struct Admin {
    core: Arc<Core>,
}

impl Admin {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    pub async fn admin_list_tenants(
        &self,
        principal: &Principal,
        search: Option<&str>,
        page: Page<TenantId>,
        ctx: &RequestContext,
    ) -> Result<Paged<Tenant>, ServiceError> {
        self.core
            .require_platform_admin(principal, "admin.tenants.list", ctx)
            .await?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        let limit = page.limit;
        let mut tx = self.core.store.platform(Access::Write).await?;
        let tenants = tx.list_tenants(search, page).await?;
        let draft = self.core.draft(
            ctx,
            principal.actor(),
            "admin.tenants.list",
            ("platform", None),
            Outcome::Success,
            serde_json::json!({ "search": search, "n_results": tenants.len() }),
        );
        tx.append_platform_audit(draft).await?;
        tx.commit().await?;
        Ok(Paged::new(tenants, limit, |last| last.id.to_string()))
    }

    /// Suspends (or, with `suspend == false`, reinstates) a tenant.
    pub async fn admin_set_suspended(
        &self,
        principal: &Principal,
        reference: &str,
        suspend: bool,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        let action = if suspend {
            "admin.tenant.suspend"
        } else {
            "admin.tenant.unsuspend"
        };
        self.core
            .require_platform_admin(principal, action, ctx)
            .await?;
        let tenant = self
            .core
            .find_tenant(reference)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
        tx.set_tenant_suspended(tenant.id, suspend.then_some(now), now)
            .await?;
        let details = serde_json::json!({ "slug": tenant.slug.as_str() });
        self.core
            .finish_tenant_change(tx, &tenant, principal, ctx, action, details)
            .await
    }

    /// Sets the markup of a tenant's charges (`"5"`, `"1.25"`): what its
    /// metered costs are multiplied by before they are debited.
    pub async fn admin_set_charge_markup(
        &self,
        principal: &Principal,
        reference: &str,
        markup: &str,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        const ACTION: &str = "admin.tenant.charge_markup";
        self.core
            .require_platform_admin(principal, ACTION, ctx)
            .await?;
        let markup = Markup::parse(markup.trim())
            .map_err(|e| ServiceError::invalid("markup", "invalid_markup", e.to_string()))?;
        let tenant = self
            .core
            .find_tenant(reference)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
        tx.set_charge_markup(tenant.id, markup, now).await?;
        let details = serde_json::json!({
            "slug": tenant.slug.as_str(),
            "from": tenant.charge_markup.map(Markup::format),
            "to": markup.format(),
        });
        self.core
            .finish_tenant_change(tx, &tenant, principal, ctx, ACTION, details)
            .await
    }
}
