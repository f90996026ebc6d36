//! A tenant's own limits: the seam between rate limiting and plans.
//!
//! Rate limiting asks only [`RateLimits::tenant_limits`] what a tenant may
//! do. The answer is the tenant's plan, and where the plan sets no limit,
//! the deployment's default (`per_tenant`, `streams_per_tenant`; off unless
//! set). Called on every request that names a tenant: plans are cached in
//! memory (and dropped when one changes), so it reads the database only
//! after a plan changed.

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
        let defaults = self.parts.tenant_defaults;
        let plan = match self.core.plan_of(access.tenant()).await {
            Ok(terms) => terms.limits,
            Err(error) => {
                // The request is served under the deployment's defaults
                // rather than refused for a lookup that failed.
                tracing::warn!(%error, tenant = %access.tenant_id(), "could not read the tenant's plan");
                return defaults;
            }
        };
        let narrow = |limit: Option<u64>| limit.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        TenantLimits {
            requests_per_minute: narrow(plan.requests_per_minute).or(defaults.requests_per_minute),
            realtime_connections: narrow(plan.realtime_connections)
                .or(defaults.realtime_connections),
        }
    }
}
