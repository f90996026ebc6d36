//! A tenant's own limits: the seam between rate limiting and plans.
//!
//! Rate limiting asks only [`RateLimits::tenant_limits`] what a tenant may
//! do; today the answer is the deployment's defaults for every tenant
//! (`default_tenant_rpm`, `default_tenant_realtime`), and once tenants
//! have plans it is the tenant's plan. Called on every request that names
//! a tenant, so whatever answers must answer from memory.

use crate::context::TenantAccess;
use crate::rate_limits::RateLimits;

/// What one tenant may do; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// Requests per minute by all of the tenant's principals together,
    /// at most this many at once.
    pub requests_per_minute: Option<u32>,
    /// Realtime subscriptions open at once.
    pub realtime_connections: Option<u32>,
}

impl RateLimits {
    /// The limits of the tenant `access` names.
    pub(crate) async fn tenant_limits(&self, access: &TenantAccess) -> TenantLimits {
        let _ = access;
        self.parts.tenant_defaults
    }
}
