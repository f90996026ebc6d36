//! The one handle to every use case, and what they share.

use std::sync::Arc;

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{AuditEntryId, Clock, Password, Permission, TenantId};
use bulkhead_store::{Access, AuditDraft, Notice, Store};
use time::{Duration, OffsetDateTime};

use crate::ServiceError;
use crate::api_key_usage::ApiKeyUsage;
use crate::cache::AuthCache;
use crate::context::{Actor, RequestContext, TenantAccess};
use crate::denials::{Denial, DenialTally};
use crate::keys::Keys;
use crate::passwords::{self, Verification};
use crate::realtime::RealtimeHub;
use crate::schema_memo::SchemaMemo;
use crate::throttle::LoginThrottle;
use crate::throttle::known_logins::KnownLogins;
use crate::tokens::AccessTokens;

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
        }
    }
}

/// Every use case, over one store.
pub struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: AuthSettings,
    pub(crate) keys: Keys,
    pub(crate) tokens: AccessTokens,
    pub(crate) cache: Arc<AuthCache>,
    /// Parsed schemas for record writes.
    pub(crate) schemas: SchemaMemo,
    pub(crate) throttle: LoginThrottle,
    /// The (address, account) pairs exempt from their address's delay.
    pub(crate) known_logins: KnownLogins,
    /// Outsiders' denied attempts, summarised into the platform's log.
    pub(crate) denials: DenialTally,
    /// Keys the stand-in tenant id that a reference to a missing tenant
    /// is looked up under (`Services::tenant_access`), so that those ids
    /// cannot be predicted from outside.
    pub(crate) phantom_key: [u8; 32],
    pub(crate) api_key_usage: ApiKeyUsage,
    /// Verified against when the email is unknown, so that a login for a
    /// missing account costs the same time as one with a wrong password.
    pub(crate) dummy_hash: String,
    pub(crate) realtime: Arc<RealtimeHub>,
    /// One permit per core for Argon2 work. Each hash holds 19 MiB and a
    /// core for tens of milliseconds; unbounded, a burst of sign-ups or
    /// logins ran dozens at once (the blocking pool allows 512), which only
    /// queued them on the cores while the allocator kept the peak memory.
    password_slots: Arc<tokio::sync::Semaphore>,
    /// This value's own `Arc`, so spawned work (realtime streams) can hold it.
    this: std::sync::Weak<Services>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Wires the use cases to a store and registers the cache for the
    /// store's invalidations.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: Keys,
        settings: AuthSettings,
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
        let dummy = passwords::generate_password()?;
        let dummy_hash = passwords::hash_password(&dummy)?;
        let phantom_key = crate::secrets::random_secret()?;
        Ok(Arc::new_cyclic(|this| Self {
            this: this.clone(),
            realtime,
            tokens: AccessTokens::new(settings.issuer.clone(), settings.audience.clone()),
            throttle: LoginThrottle::new(Arc::clone(&clock)),
            known_logins: KnownLogins::new(Arc::clone(&clock)),
            denials: DenialTally::new(Arc::clone(&clock)),
            phantom_key,
            api_key_usage: ApiKeyUsage::default(),
            dummy_hash,
            password_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            )),
            store,
            clock,
            settings,
            keys,
            cache,
            schemas: SchemaMemo::default(),
        }))
    }

    /// This value as an `Arc` (it is always built as one by [`Self::new`]).
    pub(crate) fn handle(&self) -> Arc<Services> {
        // `new` is the only constructor and returns the Arc this points to,
        // which outlives every call made through it.
        self.this
            .upgrade()
            .unwrap_or_else(|| unreachable!("Services outlived its Arc"))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Re-reads the signing keys from the database (after a rotation).
    pub async fn reload_keys(&self) -> Result<(), ServiceError> {
        self.keys.reload(&*self.store, &*self.clock).await
    }

    /// Ends every realtime subscription, so a graceful shutdown does not
    /// wait on streams that never end by themselves.
    pub fn close_streams(&self) {
        self.realtime.close();
    }

    /// Writes the API keys' last-use times gathered since the last flush.
    pub async fn flush_api_key_usage(&self) -> Result<(), ServiceError> {
        self.api_key_usage.flush(&*self.store).await
    }

    /// Writes the summaries of outsiders' denied attempts counted since the
    /// last flush to the platform's audit log, in one transaction. Returns
    /// how many summaries were written. If the write fails they are lost
    /// (and the failure logged): holding them back would let a store
    /// outage grow the tally past its bound.
    pub async fn flush_denials(&self) -> Result<usize, ServiceError> {
        let drafts = self.denials.drain();
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
        let mut tx = self.store.platform(Access::Write).await?;
        for draft in drafts {
            tx.append_platform_audit(draft).await?;
        }
        tx.commit().await?;
        Ok(n_summaries)
    }

    /// Counts a denied attempt by someone outside the tenant (or platform)
    /// it aimed at, for the next [`Self::flush_denials`]: no IO on the
    /// request path, and no write in the target tenant's log.
    pub(crate) fn note_denial(&self, denial: Denial<'_>) {
        self.denials.note(denial);
    }

    /// An audit entry of this request.
    pub(crate) fn draft(
        &self,
        ctx: &RequestContext,
        actor: Actor,
        action: &str,
        resource: (&str, Option<String>),
        outcome: Outcome,
        details: serde_json::Value,
    ) -> AuditDraft {
        AuditDraft {
            id: AuditEntryId::new(),
            at: self.now(),
            actor_kind: actor.kind,
            actor_id: actor.id,
            action: action.into(),
            resource_type: resource.0.into(),
            resource_id: resource.1,
            outcome,
            request_id: ctx.request_id.clone(),
            details,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
        }
    }

    /// Records a denied attempt in the tenant's log (or the platform's when
    /// there is no tenant), in its own transaction: there is no change to
    /// go with it. A failure to record is logged, never turned into access.
    pub(crate) async fn record_denial(&self, tenant: Option<TenantId>, draft: AuditDraft) {
        let result = async {
            match tenant {
                Some(tenant) => {
                    let mut tx = self.store.tenant(tenant, Access::Write).await?;
                    tx.append_audit(draft).await?;
                    tx.commit().await
                }
                None => {
                    let mut tx = self.store.platform(Access::Write).await?;
                    tx.append_platform_audit(draft).await?;
                    tx.commit().await
                }
            }
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, "could not record a denied attempt in the audit log");
        }
    }

    /// Passes if the caller's role in the tenant holds `permission`;
    /// otherwise records the denial and answers [`ServiceError::Forbidden`].
    pub(crate) async fn authorize(
        &self,
        access: &TenantAccess,
        permission: Permission,
        action: &str,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        if access.may(permission) {
            return Ok(());
        }
        let draft = self.draft(
            ctx,
            access.actor(),
            action,
            ("tenant", Some(access.tenant_id().to_string())),
            Outcome::Denied,
            serde_json::json!({ "reason": "forbidden", "permission": permission.name(), "role": access.role.name() }),
        );
        self.record_denial(Some(access.tenant_id()), draft).await;
        Err(ServiceError::Forbidden)
    }

    /// Hashes on the blocking pool: Argon2 takes tens of milliseconds of CPU.
    pub(crate) async fn hash_password(&self, password: Password) -> Result<String, ServiceError> {
        let slot = self.password_slot().await?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot; // held until the work ends, even if the caller left
            passwords::hash_password(&password)
        })
        .await
        .map_err(|error| ServiceError::Hashing(error.to_string()))?
    }

    pub(crate) async fn verify_password(&self, hash: String, candidate: String) -> Verification {
        let Ok(slot) = self.password_slot().await else {
            return Verification::Invalid;
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            passwords::verify_password(&hash, &candidate)
        })
        .await
        .unwrap_or(Verification::Invalid)
    }

    /// Waits for a core to hash on (see `password_slots`).
    async fn password_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ServiceError> {
        Arc::clone(&self.password_slots)
            .acquire_owned()
            .await
            .map_err(|error| ServiceError::Hashing(error.to_string()))
    }
}
