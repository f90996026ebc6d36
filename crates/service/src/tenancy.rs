//! The tenancy area: tenants ([`crate::tenants`]), their members
//! ([`crate::members`]), invitations, API keys and audit log, and the
//! resolution of `{t}` into the [`TenantAccess`] every tenant use case
//! takes.

use std::sync::Arc;

use crate::ServiceError;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::shared::Core;

/// Tenants, members, invitations, API keys and the audit log.
#[derive(Debug, Clone)]
pub struct Tenancy {
    pub(crate) core: Arc<Core>,
}

impl Tenancy {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Resolves `{t}` (a slug or an id) for this principal: the only way
    /// to obtain a [`TenantAccess`]. A tenant that does not exist and one
    /// the principal does not belong to give the same answer,
    /// [`ServiceError::TenantNotFound`], after the same work, and neither
    /// writes to the tenant's log.
    pub async fn tenant_access(
        &self,
        principal: &Principal,
        reference: &str,
        ctx: &RequestContext,
    ) -> Result<TenantAccess, ServiceError> {
        self.core.tenant_access(principal, reference, ctx).await
    }

    /// Counts an unauthenticated attempt on a tenant route in the denial
    /// tally, the same way whether the tenant exists.
    pub async fn record_unauthenticated(&self, reference: &str, ctx: &RequestContext) {
        self.core.record_unauthenticated(reference, ctx).await;
    }
}
