//! API keys: created per tenant with a role no higher than the creator's,
//! shown once, stored as a SHA-256, revocable, optionally expiring.
//!
//! A key reads `bk_` + base64url(tenant ‖ key id ‖ 256 random bits). The
//! tenant and id in front let authentication find the key inside its own
//! tenant without any cross-tenant lookup; the hash of the whole key is then
//! compared in constant time.

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{ApiKeyId, Permission, Role, TenantId};
use bulkhead_store::{Access, ApiKey, Invalidation, NewApiKey, Page};
use time::OffsetDateTime;

use crate::context::{Principal, RequestContext, TenantAccess};
use crate::secrets::{self, API_KEY_DISPLAY_LEN, API_KEY_PREFIX};
use crate::{ServiceError, Services};

const MAX_NAME: usize = 100;

/// A new key; `key` is shown this once.
#[derive(Debug, Clone)]
pub struct ApiKeyCreated {
    pub key: String,
    pub record: ApiKey,
}

impl Services {
    pub async fn create_api_key(
        &self,
        access: &TenantAccess,
        name: &str,
        role: Role,
        expires_at: Option<OffsetDateTime>,
        ctx: &RequestContext,
    ) -> Result<ApiKeyCreated, ServiceError> {
        self.authorize(access, Permission::ApiKeysManage, "api_key.create", ctx)
            .await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ServiceError::invalid(
                "name",
                "invalid",
                format!("name must be 1 to {MAX_NAME} characters"),
            ));
        }
        if role > access.role {
            return Err(ServiceError::invalid(
                "role",
                "above_caller",
                "a key cannot have a role above its creator's",
            ));
        }
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::invalid(
                "expires_at",
                "in_the_past",
                "expires_at must be in the future",
            ));
        }
        let id = ApiKeyId::new();
        let key = secrets::new_scoped_token(API_KEY_PREFIX, access.tenant_id(), id)?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let record = tx
            .insert_api_key(NewApiKey {
                id,
                name: name.to_owned(),
                prefix: key.chars().take(API_KEY_DISPLAY_LEN).collect(),
                key_hash: secrets::sha256(&key),
                role,
                created_by: access.principal.user(),
                expires_at,
                at: now,
            })
            .await?;
        let draft = self.draft(
            ctx,
            access.actor(),
            "api_key.create",
            ("api_key", Some(id.to_string())),
            Outcome::Success,
            serde_json::json!({ "name": record.name, "role": role.name() }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::ApiKey(access.tenant_id(), id));
        tx.commit().await?;
        Ok(ApiKeyCreated { key, record })
    }

    pub async fn list_api_keys(
        &self,
        access: &TenantAccess,
        page: Page<ApiKeyId>,
        ctx: &RequestContext,
    ) -> Result<Vec<ApiKey>, ServiceError> {
        self.authorize(access, Permission::ApiKeysManage, "api_key.list", ctx)
            .await?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Read).await?;
        Ok(tx.list_api_keys(page).await?)
    }

    pub async fn revoke_api_key(
        &self,
        access: &TenantAccess,
        id: ApiKeyId,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        self.authorize(access, Permission::ApiKeysManage, "api_key.revoke", ctx)
            .await?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let key = tx
            .api_key(id)
            .await?
            .ok_or(ServiceError::NotFound("api_key_not_found"))?;
        if key.role > access.role {
            return Err(ServiceError::Forbidden);
        }
        tx.revoke_api_key(id, self.now()).await?;
        let draft = self.draft(
            ctx,
            access.actor(),
            "api_key.revoke",
            ("api_key", Some(id.to_string())),
            Outcome::Success,
            serde_json::json!({ "name": key.name }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::ApiKey(access.tenant_id(), id));
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Principal, ServiceError> {
        let parsed: Option<(TenantId, ApiKeyId)> =
            secrets::parse_scoped_token(API_KEY_PREFIX, presented);
        let Some((tenant, id)) = parsed else {
            return Err(ServiceError::Unauthenticated);
        };
        let key = match self.cache.api_key(&(tenant, id)) {
            Some(key) => key,
            None => {
                let epoch = self.cache.epoch();
                let mut tx = self.store.tenant(tenant, Access::Read).await?;
                let key = tx.api_key(id).await?;
                self.cache.put_api_key(epoch, (tenant, id), key.clone());
                key
            }
        };
        let Some(key) = key else {
            return Err(ServiceError::Unauthenticated);
        };
        let now = self.now();
        if !secrets::same_digest(&key.key_hash, &secrets::sha256(presented))
            || key.revoked_at.is_some()
            || key.expires_at.is_some_and(|at| at <= now)
        {
            return Err(ServiceError::Unauthenticated);
        }
        self.api_key_usage.note(tenant, id, now);
        Ok(Principal::ApiKey {
            tenant,
            key: id,
            role: key.role,
        })
    }
}
