//! Tenants: creating one, listing the caller's, reading, renaming and
//! deleting one. (Resolving `{t}` into a [`TenantAccess`] is
//! [`Tenancy::tenant_access`].)

use std::sync::Arc;

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{Permission, Role, TenantId, TenantSlug};
use bulkhead_store::{
    Access, ConflictKind, Invalidation, NewMembership, NewTenant, StoreError, Tenant,
    UserMembership,
};

use crate::ServiceError;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::error::FieldError;
use crate::tenancy::Tenancy;

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

impl Tenancy {
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
        let now = self.core.now();
        let id = TenantId::new();
        let mut tx = match self
            .core
            .store
            .create_tenant(NewTenant {
                id,
                slug,
                name,
                plan: self.core.settings.default_plan.to_string(),
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
        let draft = self.core.draft(
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
            Principal::User { user, .. } => self.core.user_memberships(user).await,
            Principal::ApiKey { tenant, role, .. } => {
                let tenant = self
                    .core
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

    /// The tenant itself, for any member. (Resolution read it: no
    /// transaction to open.)
    pub async fn get_tenant(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::RecordsRead, "tenant.read")
            .await?;
        Ok(permit.access.tenant().clone())
    }

    pub async fn update_tenant(
        &self,
        access: &TenantAccess,
        name: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::TenantUpdate, "tenant.update")
            .await?;
        let Some(name) = name else {
            return Ok(access.tenant().clone());
        };
        let name = parse_name(name).map_err(|e| ServiceError::Validation(vec![e]))?;
        let mut work = permit.open(Access::Write).await?;
        let tenant = work
            .rename_tenant(&name, self.core.now())
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        work.audit(
            "tenant.update",
            ("tenant", Some(tenant.id.to_string())),
            serde_json::json!({ "name": { "from": access.tenant().name, "to": tenant.name } }),
        )
        .await?;
        work.invalidate(Invalidation::Tenant(tenant.id));
        work.commit().await?;
        Ok(tenant)
    }

    /// Deletes the tenant and everything it owns. The deletion is recorded
    /// in the platform's log, since the tenant's own goes with it.
    pub async fn delete_tenant(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::TenantDelete, "tenant.delete")
            .await?;
        let tenant = access.tenant_id();
        let mut work = permit.open(Access::Write).await?;
        work.delete_tenant().await?;
        work.invalidate(Invalidation::Tenant(tenant));
        work.commit().await?;
        let mut platform = self.core.store.platform(Access::Write).await?;
        let draft = permit.audit(
            "tenant.delete",
            ("tenant", Some(tenant.to_string())),
            serde_json::json!({ "slug": access.tenant().slug.as_str() }),
        );
        platform.append_platform_audit(draft).await?;
        platform.commit().await?;
        Ok(())
    }
}
