//! Tenants: creating one, listing the caller's, and resolving `{t}` into a
//! [`TenantAccess`], which every tenant use case requires.

use std::sync::Arc;

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{Permission, Role, TenantId, TenantSlug, UserId};
use bulkhead_store::{
    Access, ConflictKind, Invalidation, NewMembership, NewTenant, StoreError, Tenant,
    UserMembership,
};

use crate::context::{Principal, RequestContext, TenantAccess};
use crate::denials::Denial;
use crate::error::FieldError;
use crate::{ServiceError, Services};

/// The plan new tenants start on.
pub const DEFAULT_PLAN: &str = "free";
const MAX_NAME: usize = 100;

fn parse_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(FieldError {
            field: "name".into(),
            code: "invalid",
            message: format!("name must be 1 to {MAX_NAME} characters"),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError {
            field: "name".into(),
            code: "invalid",
            message: "name must not contain control characters".into(),
        });
    }
    Ok(name.to_owned())
}

impl Services {
    /// Creates a tenant; the caller becomes its owner.
    pub async fn create_tenant(
        &self,
        principal: &Principal,
        slug: &str,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<(Tenant, Role), ServiceError> {
        let Principal::User { user, .. } = *principal else {
            return Err(ServiceError::Forbidden);
        };
        let mut errors = Vec::new();
        let slug = TenantSlug::parse(slug)
            .map_err(|e| {
                errors.push(FieldError {
                    field: "slug".into(),
                    code: "invalid",
                    message: e.to_string(),
                })
            })
            .ok();
        let name = parse_name(name).map_err(|e| errors.push(e)).ok();
        let (Some(slug), Some(name)) = (slug, name) else {
            return Err(ServiceError::Validation(errors));
        };
        let now = self.now();
        let id = TenantId::new();
        let mut tx = match self
            .store
            .create_tenant(NewTenant {
                id,
                slug,
                name,
                plan: DEFAULT_PLAN.into(),
                at: now,
            })
            .await
        {
            Ok(tx) => tx,
            Err(StoreError::Conflict(ConflictKind::TenantSlug)) => {
                return Err(ServiceError::Conflict("slug_taken"));
            }
            Err(error) => return Err(error.into()),
        };
        tx.insert_membership(NewMembership {
            user_id: user,
            role: Role::Owner,
            at: now,
        })
        .await?;
        let tenant = tx.tenant().await?.ok_or(ServiceError::TenantNotFound)?;
        let draft = self.draft(
            ctx,
            principal.actor(),
            "tenant.create",
            ("tenant", Some(id.to_string())),
            Outcome::Success,
            serde_json::json!({ "slug": tenant.slug.as_str(), "name": tenant.name }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::Tenant(id));
        tx.invalidate(Invalidation::Membership(id, user));
        tx.commit().await?;
        Ok((tenant, Role::Owner))
    }

    /// The caller's tenants with their role in each.
    pub async fn my_tenants(
        &self,
        principal: &Principal,
    ) -> Result<Arc<Vec<UserMembership>>, ServiceError> {
        match *principal {
            Principal::User { user, .. } => self.user_memberships(user).await,
            Principal::ApiKey { tenant, role, .. } => {
                let tenant = self
                    .cached_tenant(tenant)
                    .await?
                    .ok_or(ServiceError::Unauthenticated)?;
                let joined_at = tenant.created_at;
                Ok(Arc::new(vec![UserMembership {
                    tenant,
                    role,
                    joined_at,
                }]))
            }
        }
    }

    /// Resolves `{t}` (a slug or an id) for this principal. A tenant that
    /// does not exist and one the principal does not belong to give the
    /// same answer, [`ServiceError::TenantNotFound`], after the same work:
    /// the same cached lookups (a missing tenant's membership is looked up
    /// under a stand-in id, [`Self::phantom_tenant_id`]), and the attempt
    /// counted in the denial tally, never written to the tenant's log
    /// (issue 17: anyone who signs up could otherwise write to any
    /// tenant's log, and the write told existing tenants from missing
    /// ones by their answer time).
    pub async fn tenant_access(
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
        Ok(TenantAccess {
            tenant,
            role,
            principal: *principal,
        })
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
    pub async fn record_unauthenticated(&self, reference: &str, ctx: &RequestContext) {
        let tenant = self.find_tenant(reference).await.ok().flatten();
        let target = tenant.as_ref().map(|t| t.id.to_string());
        self.note_denial(Denial {
            actor: crate::context::Actor::ANONYMOUS,
            action: "tenant.access",
            reason: "unauthenticated",
            target: Some(target.as_deref().unwrap_or(reference)),
            ctx,
        });
    }

    /// A tenant by slug or id, from the cache.
    pub(crate) async fn find_tenant(
        &self,
        reference: &str,
    ) -> Result<Option<Tenant>, ServiceError> {
        let id = match reference.parse::<TenantId>() {
            Ok(id) => Some(id),
            Err(_) => {
                let Ok(slug) = TenantSlug::parse(reference) else {
                    return Ok(None);
                };
                match self.cache.tenant_id_by_slug(&slug.to_string()) {
                    Some(id) => id,
                    None => {
                        let epoch = self.cache.epoch();
                        let mut tx = self.store.platform(Access::Read).await?;
                        let tenant = tx.tenant_by_slug(&slug).await?;
                        let id = tenant.as_ref().map(|t| t.id);
                        self.cache
                            .put_tenant_id_by_slug(epoch, slug.to_string(), id);
                        if let Some(tenant) = tenant {
                            self.cache.put_tenant(epoch, tenant.id, Some(tenant));
                        }
                        id
                    }
                }
            }
        };
        match id {
            Some(id) => self.cached_tenant(id).await,
            None => Ok(None),
        }
    }

    pub(crate) async fn cached_tenant(&self, id: TenantId) -> Result<Option<Tenant>, ServiceError> {
        if let Some(tenant) = self.cache.tenant(&id) {
            return Ok(tenant);
        }
        let epoch = self.cache.epoch();
        let mut tx = self.store.platform(Access::Read).await?;
        let tenant = tx.tenant_by_id(id).await?;
        self.cache.put_tenant(epoch, id, tenant.clone());
        Ok(tenant)
    }

    pub(crate) async fn membership_role(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<Role>, ServiceError> {
        if let Some(role) = self.cache.membership(&(tenant, user)) {
            return Ok(role);
        }
        let epoch = self.cache.epoch();
        let mut tx = self.store.tenant(tenant, Access::Read).await?;
        let role = tx.membership(user).await?.map(|m| m.role);
        self.cache.put_membership(epoch, (tenant, user), role);
        Ok(role)
    }

    /// The tenant itself, for any member.
    pub async fn get_tenant(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        self.authorize(access, Permission::RecordsRead, "tenant.read", ctx)
            .await?;
        Ok(access.tenant.clone())
    }

    pub async fn update_tenant(
        &self,
        access: &TenantAccess,
        name: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        self.authorize(access, Permission::TenantUpdate, "tenant.update", ctx)
            .await?;
        let Some(name) = name else {
            return Ok(access.tenant.clone());
        };
        let name = parse_name(name).map_err(|e| ServiceError::Validation(vec![e]))?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let tenant = tx
            .rename_tenant(&name, self.now())
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        let draft = self.draft(
            ctx,
            access.actor(),
            "tenant.update",
            ("tenant", Some(tenant.id.to_string())),
            Outcome::Success,
            serde_json::json!({ "name": { "from": access.tenant.name, "to": tenant.name } }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::Tenant(tenant.id));
        tx.commit().await?;
        Ok(tenant)
    }

    /// Deletes the tenant and everything it owns. The deletion is recorded
    /// in the platform's log, since the tenant's own goes with it.
    pub async fn delete_tenant(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        self.authorize(access, Permission::TenantDelete, "tenant.delete", ctx)
            .await?;
        let tenant = access.tenant_id();
        let mut tx = self.store.tenant(tenant, Access::Write).await?;
        tx.delete_tenant().await?;
        tx.invalidate(Invalidation::Tenant(tenant));
        tx.commit().await?;
        let mut platform = self.store.platform(Access::Write).await?;
        let draft = self.draft(
            ctx,
            access.actor(),
            "tenant.delete",
            ("tenant", Some(tenant.to_string())),
            Outcome::Success,
            serde_json::json!({ "slug": access.tenant.slug.as_str() }),
        );
        platform.append_platform_audit(draft).await?;
        platform.commit().await?;
        Ok(())
    }
}
