//! Cached lookups of platform state that several areas read: users,
//! sessions, memberships and tenants. Each reads the cache first and, on a
//! miss, one short read transaction, whose answer is cached under the epoch
//! taken before it.

use std::sync::Arc;

use bulkhead_domain::{Role, SessionId, TenantId, TenantSlug, UserId};
use bulkhead_store::{Access, Tenant, UserMembership};

use super::Core;
use crate::ServiceError;
use crate::cache::{SessionState, UserState};

impl Core {
    pub(crate) async fn user_memberships(
        &self,
        user: UserId,
    ) -> Result<Arc<Vec<UserMembership>>, ServiceError> {
        if let Some(cached) = self.cache.user_memberships(&user) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let memberships = Arc::new(self.store.memberships_of_user(user).await?);
        self.cache
            .put_user_memberships(epoch, user, Arc::clone(&memberships));
        Ok(memberships)
    }

    pub(crate) async fn user_state(&self, user: UserId) -> Result<Option<UserState>, ServiceError> {
        if let Some(cached) = self.cache.user(&user) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let mut tx = self.store.platform(Access::Read).await?;
        let state = tx.user(user).await?.map(|user| UserState {
            email: user.email.to_string(),
            display_name: user.display_name,
            created_at: user.created_at,
            deactivated: user.deactivated_at.is_some(),
            is_platform_admin: user.is_platform_admin,
        });
        self.cache.put_user(epoch, user, state.clone());
        Ok(state)
    }

    pub(crate) async fn session_state(
        &self,
        session: SessionId,
    ) -> Result<Option<SessionState>, ServiceError> {
        if let Some(cached) = self.cache.session(&session) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let mut tx = self.store.platform(Access::Read).await?;
        let state = tx.session(session).await?.map(|s| SessionState {
            user: s.user_id,
            revoked: s.revoked_at.is_some(),
            expires_at: s.expires_at,
        });
        self.cache.put_session(epoch, session, state);
        Ok(state)
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
}
