//! Rate limits: how many requests a client address (on the auth routes), a
//! principal and a tenant may send, and how many realtime subscriptions a
//! principal and a tenant may hold open.
//!
//! Request limits are GCRA ([`gcra`]): `N` per minute, all `N` at once at
//! most, then one more every `60/N` seconds. Each request is decided
//! against every limit that applies to it together, and taken from all or
//! none ([`local`], [`redis`]), so a request refused by its tenant's limit
//! costs its principal nothing, and one tenant at its limit never touches
//! another's budget. The limits, and why these defaults:
//!
//! | what | key | default |
//! |---|---|---|
//! | `/v1/auth/*` | the client address (behind trusted proxies only) | [`DEFAULT_AUTH_PER_ADDRESS`] per minute |
//! | every authenticated request | the user (all its sessions) or API key | [`DEFAULT_PER_PRINCIPAL`] per minute |
//! | every request naming a tenant | the tenant | its [`TenantLimits`] (unlimited until plans) |
//! | realtime subscriptions open | the principal; the tenant | [`DEFAULT_REALTIME_PER_PRINCIPAL`]; its [`TenantLimits`] |
//!
//! Kept in this process by default; with Redis ([`redis::RedisLink`]),
//! request limits and realtime caps are shared by every process (a large
//! request limit is spent through small leases, [`leases`], so most
//! requests make no round trip: [`shared`]), and a process that cannot
//! reach Redis falls back to its own. A realtime cap then holds across the
//! deployment, held slots being leased so that a crashed process's streams
//! stop counting within a lease ([`streams`]).
//!
//! **Platform admins are exempt.** Their requests count like anyone's, and
//! one that a limit would refuse is served; its first such use per window
//! and tenant (across processes with Redis) is written to that tenant's
//! audit log (`rate_limit.exempt`; the platform's log when no tenant is
//! named), so the exemption is visible to the tenant without a write per
//! request.

pub mod gcra;
mod leases;
mod local;
pub mod redis;
mod shared;
pub mod streams;
mod tenant_limits;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{ApiKeyId, TenantId, UserId};
use bulkhead_store::Access;

use crate::ServiceError;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::shared::Core;

use gcra::{Decision, Quota, seconds_up};
use local::LocalLimiter;
use redis::RedisLink;
use shared::SharedLimiter;
pub use streams::StreamSlot;
use streams::StreamSlots;
pub use tenant_limits::TenantLimits;

/// Requests per minute from one client address to `/v1/auth/*`: one a
/// second sustained, 60 at once. A person signs in a few times a day and
/// refreshes every quarter hour, so an office behind one address fits;
/// a script guessing passwords or creating accounts from one address gets
/// a minute's 60 (failed logins are slowed further by the login throttle).
pub const DEFAULT_AUTH_PER_ADDRESS: NonZeroU32 = NonZeroU32::new(60).unwrap();
/// Requests per minute by one user (all its sessions) or API key: ten a
/// second sustained, 600 at once. A console page that loads a dozen
/// resources a second stays far below; one runaway client cannot take a
/// tenant's whole budget alone.
pub const DEFAULT_PER_PRINCIPAL: NonZeroU32 = NonZeroU32::new(600).unwrap();
/// Realtime subscriptions one principal holds open at once: a few tabs or
/// devices each with a stream or two. Each costs a task and buffers; one
/// user once opened 3,000.
pub const DEFAULT_REALTIME_PER_PRINCIPAL: NonZeroU32 = NonZeroU32::new(16).unwrap();

/// How often a platform admin's use of the exemption is audited, per
/// admin and tenant: once per window of a per-minute limit.
const EXEMPT_AUDIT_EVERY_MICROS: i64 = 60 * 1_000_000;
/// Above this many remembered audits, those older than a window go.
const EXEMPT_AUDITS_PRUNE_ABOVE: usize = 10_000;

/// The limits of a deployment.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Per minute per client address on `/v1/auth/*`; `None` is none.
    pub auth_per_address: Option<NonZeroU32>,
    /// Per minute per user or API key; `None` is none.
    pub per_principal: Option<NonZeroU32>,
    /// Realtime subscriptions open at once per principal; `None` is none.
    pub realtime_per_principal: Option<NonZeroU32>,
    /// The limits of every tenant until tenants have plans.
    pub tenant_defaults: TenantLimits,
    /// Share the limits (and the login throttle) through this Redis.
    pub redis: Option<Arc<RedisLink>>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            auth_per_address: Some(DEFAULT_AUTH_PER_ADDRESS),
            per_principal: Some(DEFAULT_PER_PRINCIPAL),
            realtime_per_principal: Some(DEFAULT_REALTIME_PER_PRINCIPAL),
            tenant_defaults: TenantLimits::default(),
            redis: None,
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LimitKey {
    AuthAddress(String),
    User(UserId),
    ApiKey(ApiKeyId),
    Tenant(TenantId),
}

impl LimitKey {
    fn of(principal: &Principal) -> Self {
        match *principal {
            Principal::User { user, .. } => LimitKey::User(user),
            Principal::ApiKey { key, .. } => LimitKey::ApiKey(key),
        }
    }
}

impl std::fmt::Display for LimitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitKey::AuthAddress(ip) => write!(f, "auth-address:{ip}"),
            LimitKey::User(user) => write!(f, "user:{user}"),
            LimitKey::ApiKey(key) => write!(f, "api-key:{key}"),
            LimitKey::Tenant(tenant) => write!(f, "tenant:{tenant}"),
        }
    }
}

/// Where a request stands against the tightest limit it passed: the
/// `RateLimit-Limit`, `-Remaining` and `-Reset` of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until that limit is back to full.
    pub reset_secs: u64,
}

/// A request refused by a limit (or a subscription by a cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub limit: u32,
    pub reset_secs: u64,
    pub retry_after_secs: u64,
}

impl From<RateLimited> for RateLimitStatus {
    /// An exempt request's status: the limit it passed, nothing left.
    fn from(refused: RateLimited) -> Self {
        Self {
            limit: refused.limit,
            remaining: 0,
            reset_secs: refused.reset_secs,
        }
    }
}

/// The request limits, the realtime caps, and the exemption's audit.
#[derive(Debug, Clone)]
pub struct RateLimits {
    core: Arc<Core>,
    parts: Arc<Parts>,
}

#[derive(Debug)]
struct Parts {
    auth_per_address: Option<Quota>,
    per_principal: Option<Quota>,
    tenant_defaults: TenantLimits,
    local: LocalLimiter,
    shared: Option<SharedLimiter>,
    redis: Option<Arc<RedisLink>>,
    streams: StreamSlots,
    /// When each (admin, tenant) last had its exemption audited.
    exempt_audits: Mutex<HashMap<(UserId, Option<TenantId>), i64>>,
}

impl RateLimits {
    pub(crate) fn new(core: Arc<Core>, settings: RateLimitSettings) -> Self {
        let parts = Parts {
            auth_per_address: Quota::per_minute_if(settings.auth_per_address),
            per_principal: Quota::per_minute_if(settings.per_principal),
            tenant_defaults: settings.tenant_defaults,
            local: LocalLimiter::default(),
            shared: settings.redis.clone().map(SharedLimiter::new),
            redis: settings.redis.clone(),
            streams: StreamSlots::new(
                settings.realtime_per_principal.map(NonZeroU32::get),
                settings.redis,
            ),
            exempt_audits: Mutex::new(HashMap::new()),
        };
        Self {
            core,
            parts: Arc::new(parts),
        }
    }

    /// A request to `/v1/auth/*`, limited per client address. A request
    /// without a known address is not limited here.
    pub async fn check_address(
        &self,
        ctx: &RequestContext,
    ) -> Result<Option<RateLimitStatus>, ServiceError> {
        let (Some(quota), Some(ip)) = (self.parts.auth_per_address, &ctx.ip) else {
            return Ok(None);
        };
        let limits = [(LimitKey::AuthAddress(ip.clone()), quota)];
        self.take(&limits).await.map_err(ServiceError::RateLimited)
    }

    /// An authenticated request that names no tenant (or one that could
    /// not be resolved): the principal's limit.
    pub async fn check_principal(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Option<RateLimitStatus>, ServiceError> {
        let Some(quota) = self.parts.per_principal else {
            return Ok(None);
        };
        let limits = [(LimitKey::of(principal), quota)];
        match self.take(&limits).await {
            Ok(status) => Ok(status),
            Err(refused) => {
                self.exempt_or(principal, None, refused, ctx).await?;
                Ok(Some(refused.into()))
            }
        }
    }

    /// A request naming a tenant: the tenant's limit, and the principal's
    /// too unless `principal_counted` (already taken for this request).
    pub async fn check_tenant(
        &self,
        access: &TenantAccess,
        principal_counted: bool,
        ctx: &RequestContext,
    ) -> Result<Option<RateLimitStatus>, ServiceError> {
        // On every tenant request: the limits are held on the stack.
        let principal = match (principal_counted, self.parts.per_principal) {
            (false, Some(quota)) => Some((LimitKey::of(access.principal()), quota)),
            _ => None,
        };
        let tenant = self
            .tenant_limits(access)
            .await
            .requests_per_minute
            .map(|count| {
                (
                    LimitKey::Tenant(access.tenant_id()),
                    Quota::per_minute(count),
                )
            });
        let (both, one);
        let limits: &[(LimitKey, Quota)] = match (principal, tenant) {
            (Some(principal), Some(tenant)) => {
                both = [principal, tenant];
                &both
            }
            (Some(only), None) | (None, Some(only)) => {
                one = [only];
                &one
            }
            (None, None) => return Ok(None),
        };
        match self.take(limits).await {
            Ok(status) => Ok(status),
            Err(refused) => {
                self.exempt_or(access.principal(), Some(access.tenant_id()), refused, ctx)
                    .await?;
                Ok(Some(refused.into()))
            }
        }
    }

    /// A slot for one realtime subscription in `access`'s tenant, held
    /// until the returned guard drops; refused over the principal's or the
    /// tenant's cap.
    pub(crate) async fn open_stream(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<StreamSlot, ServiceError> {
        let tenant_cap = self.tenant_limits(access).await.realtime_connections;
        match self.parts.streams.acquire(access, tenant_cap, false).await {
            Ok(slot) => Ok(slot),
            Err(refused) => {
                self.exempt_or(access.principal(), Some(access.tenant_id()), refused, ctx)
                    .await?;
                self.parts
                    .streams
                    .acquire(access, tenant_cap, true)
                    .await
                    .map_err(ServiceError::RateLimited)
            }
        }
    }

    /// At shutdown, once no stream is left open: gives back this process's
    /// places under the caps shared through Redis at once, rather than when
    /// their leases end.
    pub async fn close_streams(&self) {
        self.parts.streams.close().await;
    }

    /// Decides one request against `limits`: against the shared budgets
    /// when Redis is configured and reachable, else in this process.
    async fn take(
        &self,
        limits: &[(LimitKey, Quota)],
    ) -> Result<Option<RateLimitStatus>, RateLimited> {
        let now = || redis::micros(self.core.now());
        let shared = match &self.parts.shared {
            Some(shared) => shared.take(limits, now).await.ok(),
            None => None,
        };
        let decisions = match shared {
            Some(decisions) => decisions,
            None => self.parts.local.take(limits, now()),
        };
        verdict(limits, &decisions)
    }

    /// A refusal stands, unless the principal is a platform admin: then the
    /// request goes through and the exemption is audited (once per window).
    async fn exempt_or(
        &self,
        principal: &Principal,
        tenant: Option<TenantId>,
        refused: RateLimited,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let Principal::User { user, .. } = *principal else {
            return Err(ServiceError::RateLimited(refused));
        };
        let is_admin = self
            .core
            .user_state(user)
            .await?
            .is_some_and(|state| state.is_platform_admin && !state.deactivated);
        if !is_admin {
            return Err(ServiceError::RateLimited(refused));
        }
        if self.first_exemption_in_window(user, tenant).await {
            self.audit_exemption(principal, tenant, refused, ctx).await;
        }
        Ok(())
    }

    /// Whether this is the admin's first use of the exemption on `tenant`
    /// in the window: across every process with Redis, else in this one.
    async fn first_exemption_in_window(&self, user: UserId, tenant: Option<TenantId>) -> bool {
        if let Some(link) = &self.parts.redis {
            let target = tenant.map_or_else(|| "platform".to_owned(), |t| t.to_string());
            if let Ok(first) = link
                .first_in_window(
                    &format!("{user}:{target}"),
                    EXEMPT_AUDIT_EVERY_MICROS / 1_000,
                )
                .await
            {
                return first;
            }
        }
        let now = redis::micros(self.core.now());
        let mut audits = self
            .parts
            .exempt_audits
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if audits.len() > EXEMPT_AUDITS_PRUNE_ABOVE {
            audits.retain(|_, at| now - *at < EXEMPT_AUDIT_EVERY_MICROS);
        }
        match audits.get(&(user, tenant)) {
            Some(at) if now - *at < EXEMPT_AUDIT_EVERY_MICROS => false,
            _ => {
                audits.insert((user, tenant), now);
                true
            }
        }
    }

    /// Writes `rate_limit.exempt` to the tenant's log (the platform's
    /// without a tenant). A failure is logged; the request is served.
    async fn audit_exemption(
        &self,
        principal: &Principal,
        tenant: Option<TenantId>,
        refused: RateLimited,
        ctx: &RequestContext,
    ) {
        let draft = self.core.draft(
            ctx,
            principal.actor(),
            "rate_limit.exempt",
            match tenant {
                Some(tenant) => ("tenant", Some(tenant.to_string())),
                None => ("platform", None),
            },
            Outcome::Success,
            serde_json::json!({
                "reason": "platform_admin",
                "limit": refused.limit,
                "window_seconds": 60,
            }),
        );
        let result = async {
            match tenant {
                Some(tenant) => {
                    let mut tx = self.core.store.tenant(tenant, Access::Write).await?;
                    tx.append_audit(draft).await?;
                    tx.commit().await
                }
                None => {
                    let mut tx = self.core.store.platform(Access::Write).await?;
                    tx.append_platform_audit(draft).await?;
                    tx.commit().await
                }
            }
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, "could not audit a platform admin's rate-limit exemption");
        }
    }
}

/// All keys' decisions as one: refused by the key that makes the caller
/// wait longest, else the status of the key with the fewest requests left
/// (the tightest limit, for the headers).
fn verdict(
    limits: &[(LimitKey, Quota)],
    decisions: &[Decision],
) -> Result<Option<RateLimitStatus>, RateLimited> {
    let refused = limits
        .iter()
        .zip(decisions)
        .filter(|(_, d)| !d.allowed)
        .max_by_key(|(_, d)| d.retry_after);
    if let Some(((_, quota), decision)) = refused {
        return Err(RateLimited {
            limit: quota.count,
            reset_secs: seconds_up(decision.reset),
            retry_after_secs: seconds_up(decision.retry_after).max(1),
        });
    }
    Ok(limits
        .iter()
        .zip(decisions)
        .min_by_key(|(_, d)| (d.remaining, std::cmp::Reverse(d.reset)))
        .map(|((_, quota), decision)| RateLimitStatus {
            limit: quota.count,
            remaining: decision.remaining,
            reset_secs: seconds_up(decision.reset),
        }))
}
