//! What every area service shares: the store, the clock, the caches, audit
//! drafting and denials, and the one entry point of tenant work.
//!
//! Every use case that acts on a tenant through a [`TenantAccess`] starts
//! with [`Core::permit`], which checks the caller's permission (recording a
//! denial in the tenant's log), and then opens its transaction through the
//! [`Permit`] (both at once: [`Core::tenant_work`]). The [`TenantWork`] it
//! opens drafts the request's audit entries and gives the transaction up
//! before recording a refusal, so a request never holds two transactions.
//! Quotas are checked below the permit, by the tenant transaction's
//! commit; rate limits and metering where a request's tenant is resolved
//! (the only way to a `TenantAccess`), so that no tenant use case can pass
//! them by.

use std::sync::Arc;

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{AuditEntryId, Clock, Permission, TenantId};
use bulkhead_store::{Access, AuditDraft, Invalidation, PlatformTx, Store, Tenant, TenantTx};
use time::OffsetDateTime;

use crate::ServiceError;
use crate::cache::AuthCache;
use crate::context::{Actor, Principal, RequestContext, TenantAccess};
use crate::denials::{Denial, DenialTally};
use crate::metering::Meter;
use crate::services::AuthSettings;

mod gate;
mod lookups;
mod resolve;

use gate::{GatePass, TenantGate};

/// The state shared by the area services.
pub(crate) struct Core {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: AuthSettings,
    pub(crate) cache: Arc<AuthCache>,
    /// Outsiders' denied attempts, summarised into the platform's log.
    pub(crate) denials: DenialTally,
    /// How many transactions one tenant may hold at once.
    gate: TenantGate,
    /// Metered use counted in this process, not yet flushed.
    pub(crate) meter: Meter,
    /// Keys the stand-in tenant id that a reference to a missing tenant
    /// is looked up under (`Core::tenant_access`), so that those ids
    /// cannot be predicted from outside.
    phantom_key: [u8; 32],
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: AuthSettings,
        cache: Arc<AuthCache>,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            denials: DenialTally::new(Arc::clone(&clock)),
            meter: Meter::default(),
            phantom_key: crate::secrets::random_secret()?,
            gate: TenantGate::new(
                store
                    .pool_stats()
                    .iter()
                    .map(|pool| TenantGate::share_of(pool.max))
                    .max()
                    .unwrap_or(2),
            ),
            store,
            clock,
            settings,
            cache,
        })
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Counts a denied attempt by someone outside the tenant (or platform)
    /// it aimed at, for the next `Services::flush_denials`: no IO on the
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

    /// Passes only for a signed-in platform admin; records any refusal.
    pub(crate) async fn require_platform_admin(
        &self,
        principal: &Principal,
        action: &'static str,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        if let Principal::User { user, .. } = *principal
            && self
                .user_state(user)
                .await?
                .is_some_and(|u| u.is_platform_admin && !u.deactivated)
        {
            return Ok(());
        }
        // Any signed-in user can ask: counted, one summary per window.
        self.note_denial(Denial {
            actor: principal.actor(),
            action,
            reason: "not_platform_admin",
            target: None,
            ctx,
        });
        Err(ServiceError::Forbidden)
    }

    /// Ends a platform admin's change to a tenant's registry row, made in
    /// `tx`: reads the row back (a tenant gone meanwhile is
    /// `TenantNotFound`), records `action` in the platform log with
    /// `details`, announces the change to every cache, and commits.
    pub(crate) async fn finish_tenant_change(
        &self,
        mut tx: Box<dyn PlatformTx>,
        tenant: &Tenant,
        principal: &Principal,
        ctx: &RequestContext,
        action: &str,
        details: serde_json::Value,
    ) -> Result<Tenant, ServiceError> {
        let updated = tx
            .tenant_by_id(tenant.id)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        let draft = self.draft(
            ctx,
            principal.actor(),
            action,
            ("tenant", Some(tenant.id.to_string())),
            Outcome::Success,
            details,
        );
        tx.append_platform_audit(draft).await?;
        tx.invalidate(Invalidation::Tenant(tenant.id));
        tx.commit().await?;
        Ok(updated)
    }

    /// The way into tenant work: passes if the caller's role in the tenant
    /// holds `permission`; otherwise records the denial and answers
    /// [`ServiceError::Forbidden`].
    pub(crate) async fn permit<'a>(
        &'a self,
        access: &'a TenantAccess,
        ctx: &'a RequestContext,
        permission: Permission,
        action: &str,
    ) -> Result<Permit<'a>, ServiceError> {
        if !access.may(permission) {
            let draft = self.draft(
                ctx,
                access.actor(),
                action,
                ("tenant", Some(access.tenant_id().to_string())),
                Outcome::Denied,
                serde_json::json!({ "reason": "forbidden", "permission": permission.name(), "role": access.role().name() }),
            );
            self.record_denial(Some(access.tenant_id()), draft).await;
            return Err(ServiceError::Forbidden);
        }
        Ok(self.grant(access, ctx))
    }

    /// [`Self::permit`], then the tenant's transaction: for use cases with
    /// nothing to check between the two.
    pub(crate) async fn tenant_work<'a>(
        &'a self,
        access: &'a TenantAccess,
        ctx: &'a RequestContext,
        permission: Permission,
        action: &str,
        mode: Access,
    ) -> Result<TenantWork<'a>, ServiceError> {
        self.permit(access, ctx, permission, action)
            .await?
            .open(mode)
            .await
    }

    /// The way into tenant work that any member may do to themselves (such
    /// as leaving): no permission to check.
    pub(crate) fn member_permit<'a>(
        &'a self,
        access: &'a TenantAccess,
        ctx: &'a RequestContext,
    ) -> Permit<'a> {
        self.grant(access, ctx)
    }

    /// Every permit is made here.
    fn grant<'a>(&'a self, access: &'a TenantAccess, ctx: &'a RequestContext) -> Permit<'a> {
        Permit {
            core: self,
            access,
            ctx,
        }
    }
}

/// A caller's leave to work in a tenant, for one request: opens the
/// tenant's transactions and drafts the request's audit entries.
#[derive(Clone, Copy)]
pub(crate) struct Permit<'a> {
    core: &'a Core,
    pub(crate) access: &'a TenantAccess,
    ctx: &'a RequestContext,
}

impl<'a> Permit<'a> {
    /// Opens the tenant's transaction, once the tenant has a place among
    /// its transactions in flight (see [`gate`]).
    pub(crate) async fn open(self, access: Access) -> Result<TenantWork<'a>, ServiceError> {
        let store = &self.core.store;
        let pass = self
            .core
            .gate
            .enter(self.access.tenant_id(), || store.is_unreachable())
            .await;
        let tx = self
            .core
            .store
            .tenant(self.access.tenant_id(), access)
            .await?;
        Ok(TenantWork {
            tx,
            _pass: pass,
            permit: self,
        })
    }

    /// A successful action's audit entry, by the caller, from this request.
    pub(crate) fn audit(
        &self,
        action: &str,
        resource: (&str, Option<String>),
        details: serde_json::Value,
    ) -> AuditDraft {
        self.core.draft(
            self.ctx,
            self.access.actor(),
            action,
            resource,
            Outcome::Success,
            details,
        )
    }

    /// Records the caller's refused action in the tenant's log and answers
    /// [`ServiceError::Forbidden`].
    pub(crate) async fn deny(
        &self,
        action: &str,
        resource: (&str, Option<String>),
        details: serde_json::Value,
    ) -> ServiceError {
        let draft = self.core.draft(
            self.ctx,
            self.access.actor(),
            action,
            resource,
            Outcome::Denied,
            details,
        );
        self.core
            .record_denial(Some(self.access.tenant_id()), draft)
            .await;
        ServiceError::Forbidden
    }
}

/// Work in one tenant: its open transaction, with the permit it came from.
/// It reads and writes as the transaction does (it derefs to it).
pub(crate) struct TenantWork<'a> {
    tx: Box<dyn TenantTx>,
    /// Dropped after `tx` (fields drop in order): the place is given back
    /// once the transaction has ended.
    _pass: GatePass,
    pub(crate) permit: Permit<'a>,
}

impl std::ops::Deref for TenantWork<'_> {
    type Target = dyn TenantTx;

    fn deref(&self) -> &Self::Target {
        &*self.tx
    }
}

impl std::ops::DerefMut for TenantWork<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.tx
    }
}

impl TenantWork<'_> {
    /// Appends a successful action's audit entry (see [`Permit::audit`]).
    pub(crate) async fn audit(
        &mut self,
        action: &str,
        resource: (&str, Option<String>),
        details: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let draft = self.permit.audit(action, resource, details);
        self.tx.append_audit(draft).await?;
        Ok(())
    }

    /// Gives up the transaction, then records the refusal (the record
    /// needs a transaction of its own, and a request never holds two).
    pub(crate) async fn deny(
        self,
        action: &str,
        resource: (&str, Option<String>),
        details: serde_json::Value,
    ) -> ServiceError {
        let permit = self.permit;
        drop(self.tx);
        drop(self._pass);
        permit.deny(action, resource, details).await
    }

    pub(crate) async fn commit(self) -> Result<(), ServiceError> {
        self.tx.commit().await?;
        Ok(())
    }
}
