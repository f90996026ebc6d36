//! The area services of one deployment, wired to one store, and the
//! periodic work they share.

use std::sync::Arc;

use bulkhead_domain::{Clock, PlanName, TenantId};
use bulkhead_store::{Access, Notice, Page, Store};
use time::{Duration, OffsetDateTime};

use crate::ServiceError;
use crate::admin::Admin;
use crate::auth::Identity;
use crate::cache::AuthCache;
use crate::data::Data;
use crate::keys::Keys;
use crate::ledger::Ledger;
use crate::metering::Metering;
use crate::plans::Plans;
use crate::rate_limits::{RateLimitSettings, RateLimits};
use crate::realtime::RealtimeHub;
use crate::records::IDEMPOTENCY_KEY_RETENTION;
use crate::shared::Core;
use crate::tenancy::Tenancy;

/// How many idempotency keys one transaction of the sweep deletes: enough
/// that a busy tenant's day of keys takes few transactions, few enough that
/// none holds the (SQLite) writer for long.
const IDEMPOTENCY_SWEEP_BATCH: u32 = 500;

/// How many tenants the sweep reads from the registry at a time.
const SWEEP_TENANT_PAGE: u32 = 500;

/// Identity and session policy of a deployment.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Whether anyone may sign up (otherwise accounts come from admins and
    /// invitations).
    pub signup_open: bool,
    /// A session ends this long after its last refresh…
    pub session_idle: Duration,
    /// …and this long after login, whatever happens.
    pub session_absolute: Duration,
    pub invitation_ttl: Duration,
    /// A refresh token rotated this recently is refused without revoking its
    /// session: concurrent refreshes of one token from the same client (two
    /// tabs) are not an attack. Older reuse revokes the session.
    pub refresh_grace: Duration,
    /// The plan new tenants start on.
    pub default_plan: PlanName,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: "bulkhead".into(),
            audience: "bulkhead-api".into(),
            signup_open: true,
            session_idle: Duration::minutes(30),
            session_absolute: Duration::hours(12),
            invitation_ttl: Duration::days(7),
            refresh_grace: Duration::seconds(10),
            default_plan: PlanName::free(),
        }
    }
}

/// Every area service, over one store: cheap handles (each an `Arc` or
/// two), cloned into the transport's state.
#[derive(Debug, Clone)]
pub struct Services {
    /// Sign-up, login, tokens, sessions, the caller's profile.
    pub identity: Identity,
    /// Tenants, members, invitations, API keys, the audit log.
    pub tenancy: Tenancy,
    /// Collections, records, realtime events.
    pub data: Data,
    /// Ledger accounts and transfers.
    pub ledger: Ledger,
    /// Plans, their assignment to tenants, and tenants' usage.
    pub plans: Plans,
    /// The audited platform path.
    pub admin: Admin,
    /// Requests per minute and open realtime subscriptions.
    pub rate_limits: RateLimits,
    /// Requests, records created and active users, counted and flushed.
    pub metering: Metering,
    core: Arc<Core>,
    realtime: Arc<RealtimeHub>,
}

impl Services {
    /// Wires the use cases to a store and registers the cache for the
    /// store's invalidations, with the default rate limits.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: Keys,
        settings: AuthSettings,
    ) -> Result<Arc<Self>, ServiceError> {
        Self::with_limits(store, clock, keys, settings, RateLimitSettings::default())
    }

    /// [`Self::new`] with these rate limits.
    pub fn with_limits(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: Keys,
        settings: AuthSettings,
        limits: RateLimitSettings,
    ) -> Result<Arc<Self>, ServiceError> {
        let cache = Arc::new(AuthCache::new(Arc::clone(&clock)));
        let realtime = RealtimeHub::new(Arc::clone(&store));
        let (to_cache, to_realtime) = (Arc::clone(&cache), Arc::clone(&realtime));
        store.on_notice(Arc::new(move |notice| match notice {
            Notice::Invalidated(invalidation) => {
                to_cache.invalidate(invalidation);
                to_realtime.announce(invalidation);
            }
            Notice::Interrupted => to_cache.suspend(),
            Notice::Resumed => {
                to_cache.resume();
                to_realtime.catch_up();
            }
        }));
        let core = Arc::new(Core::new(store, clock, settings, cache)?);
        let redis = limits.redis.clone();
        let rate_limits = RateLimits::new(Arc::clone(&core), limits);
        Ok(Arc::new(Self {
            identity: Identity::new(Arc::clone(&core), keys, redis)?,
            tenancy: Tenancy::new(Arc::clone(&core)),
            data: Data::new(
                Arc::clone(&core),
                Arc::clone(&realtime),
                rate_limits.clone(),
            ),
            rate_limits,
            ledger: Ledger::new(Arc::clone(&core)),
            plans: Plans::new(Arc::clone(&core)),
            metering: Metering::new(Arc::clone(&core)),
            admin: Admin::new(Arc::clone(&core)),
            core,
            realtime,
        }))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.core.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.core.clock
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.core.settings
    }

    /// Re-reads the signing keys from the database (after a rotation).
    pub async fn reload_keys(&self) -> Result<(), ServiceError> {
        self.identity.reload_keys().await
    }

    /// Ends every realtime subscription, so a graceful shutdown does not
    /// wait on streams that never end by themselves.
    pub fn close_streams(&self) {
        self.realtime.close();
    }

    /// Writes the API keys' last-use times gathered since the last flush.
    pub async fn flush_api_key_usage(&self) -> Result<(), ServiceError> {
        self.identity.flush_api_key_usage().await
    }

    /// Has every tenant with realtime subscribers read its new events, as
    /// if woken: a wake-up from another process may have been lost (see
    /// the store's notifications), and this bounds how late its events are.
    pub fn catch_up_realtime(&self) {
        self.realtime.catch_up();
    }

    /// Writes the summaries of outsiders' denied attempts counted since the
    /// last flush to the platform's audit log, in one transaction. Returns
    /// how many summaries were written. If the write fails they are lost
    /// (and the failure logged): holding them back would let a store
    /// outage grow the tally past its bound.
    pub async fn flush_denials(&self) -> Result<usize, ServiceError> {
        let drafts = self.core.denials.drain();
        if drafts.is_empty() {
            return Ok(0);
        }
        let n_summaries = drafts.len();
        for draft in &drafts {
            tracing::warn!(
                action = %draft.action,
                actor_kind = draft.actor_kind.name(),
                actor_id = draft.actor_id.map(tracing::field::display),
                details = %draft.details,
                "denied attempts"
            );
        }
        let mut tx = self.core.store.platform(Access::Write).await?;
        for draft in drafts {
            tx.append_platform_audit(draft).await?;
        }
        tx.commit().await?;
        Ok(n_summaries)
    }

    /// Deletes every tenant's idempotency keys older than
    /// [`IDEMPOTENCY_KEY_RETENTION`], in batches of one short write
    /// transaction each, and returns how many it deleted. A tenant whose
    /// sweep fails is logged and skipped, so one cannot hold back the
    /// others; the first such error is returned once all were tried.
    pub async fn sweep_idempotency_keys(&self) -> Result<u64, ServiceError> {
        let created_before = self.core.now() - IDEMPOTENCY_KEY_RETENTION;
        let mut n_swept = 0;
        let mut first_error = None;
        let mut after = None;
        loop {
            let tenants = {
                let mut tx = self.core.store.platform(Access::Read).await?;
                let page = Page {
                    after,
                    limit: SWEEP_TENANT_PAGE,
                };
                let tenants = tx.list_tenants(None, page).await?;
                tx.commit().await?;
                tenants
            };
            for tenant in &tenants {
                match self.sweep_tenant_keys(tenant.id, created_before).await {
                    Ok(n) => n_swept += n,
                    Err(error) => {
                        tracing::warn!(tenant = %tenant.id, %error, "could not sweep idempotency keys");
                        first_error.get_or_insert(error);
                    }
                }
            }
            match tenants.last() {
                Some(last) if tenants.len() == SWEEP_TENANT_PAGE as usize => after = Some(last.id),
                _ => break,
            }
        }
        if n_swept > 0 {
            tracing::info!(n_swept, "swept expired idempotency keys");
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(n_swept),
        }
    }

    /// One tenant's part of [`Self::sweep_idempotency_keys`].
    async fn sweep_tenant_keys(
        &self,
        tenant: TenantId,
        created_before: OffsetDateTime,
    ) -> Result<u64, ServiceError> {
        let mut n_swept = 0;
        loop {
            let mut tx = self.core.store.tenant(tenant, Access::Write).await?;
            let n = tx
                .sweep_idempotency_keys(created_before, IDEMPOTENCY_SWEEP_BATCH)
                .await?;
            tx.commit().await?;
            n_swept += n;
            if n < u64::from(IDEMPOTENCY_SWEEP_BATCH) {
                return Ok(n_swept);
            }
        }
    }
}
