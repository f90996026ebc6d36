//! Resolving `{t}` into a [`TenantAccess`]: the only way one is made.

use bulkhead_domain::TenantId;
use bulkhead_domain::audit::Outcome;

use super::Core;
use crate::ServiceError;
use crate::context::{Actor, Principal, RequestContext, TenantAccess};
use crate::denials::Denial;

impl Core {
    /// Resolves `{t}` (a slug or an id) for this principal. A tenant that
    /// does not exist and one the principal does not belong to give the
    /// same answer, [`ServiceError::TenantNotFound`], after the same work:
    /// the same cached lookups (a missing tenant's membership is looked up
    /// under a stand-in id, [`Self::phantom_tenant_id`]), and the attempt
    /// counted in the denial tally, never written to the tenant's log
    /// (anyone who signs up could otherwise write to any
    /// tenant's log, and the write told existing tenants from missing
    /// ones by their answer time).
    pub(crate) async fn tenant_access(
        &self,
        principal: &Principal,
        reference: &str,
        ctx: &RequestContext,
    ) -> Result<TenantAccess, ServiceError> {
        let tenant = self.find_tenant(reference).await?;
        let tenant_id = tenant
            .as_ref()
            .map_or_else(|| self.phantom_tenant_id(reference), |t| t.id);
        let role = match *principal {
            Principal::User { user, .. } => self.membership_role(tenant_id, user).await?,
            Principal::ApiKey {
                tenant: key_tenant,
                role,
                ..
            } => (key_tenant == tenant_id).then_some(role),
        };
        let exists = tenant.is_some();
        let (Some(tenant), Some(role)) = (tenant, role) else {
            let target = tenant_id.to_string();
            self.note_denial(Denial {
                actor: principal.actor(),
                action: "tenant.access",
                reason: "not_a_member",
                target: Some(if exists { &target } else { reference }),
                ctx,
            });
            return Err(ServiceError::TenantNotFound);
        };
        if tenant.suspended_at.is_some() {
            // A member: this stays in the tenant's own log.
            let draft = self.draft(
                ctx,
                principal.actor(),
                "tenant.access",
                ("tenant", Some(tenant.id.to_string())),
                Outcome::Denied,
                serde_json::json!({ "reason": "tenant_suspended" }),
            );
            self.record_denial(Some(tenant.id), draft).await;
            return Err(ServiceError::TenantSuspended);
        }
        Ok(TenantAccess::new(tenant, role, *principal))
    }

    /// The id a reference to a missing tenant is looked up under, so that
    /// its membership lookup costs what an existing tenant's does (one
    /// read the first time, then the cache). Keyed by a per-process secret,
    /// it names no real tenant.
    fn phantom_tenant_id(&self, reference: &str) -> TenantId {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(self.phantom_key)
            .chain_update(reference.as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        TenantId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// Counts an unauthenticated attempt on a tenant route in the denial
    /// tally (RELIABILITY G2), the same way whether the tenant exists.
    pub(crate) async fn record_unauthenticated(&self, reference: &str, ctx: &RequestContext) {
        let tenant = self.find_tenant(reference).await.ok().flatten();
        let target = tenant.as_ref().map(|t| t.id.to_string());
        self.note_denial(Denial {
            actor: Actor::ANONYMOUS,
            action: "tenant.access",
            reason: "unauthenticated",
            target: Some(target.as_deref().unwrap_or(reference)),
            ctx,
        });
    }
}
