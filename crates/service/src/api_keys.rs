//! API keys: created per tenant with a role no higher than the creator's,
//! shown once, stored as a SHA-256, revocable, optionally expiring.
//!
//! A key reads `bk_` + base64url(tenant ‖ key id ‖ 256 random bits). The
//! tenant and id in front let authentication find the key inside its own
//! tenant without any cross-tenant lookup; the hash of the whole key is then
//! compared in constant time.

use bulkhead_domain::{ApiKeyId, Permission, Role};
use bulkhead_store::{Access, ApiKey, Invalidation, NewApiKey, Page};
use time::OffsetDateTime;

use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::page::Paged;
use crate::secrets::{self, API_KEY_DISPLAY_LEN, API_KEY_PREFIX};
use crate::tenancy::Tenancy;

const MAX_NAME: usize = 100;

/// A new key; `key` is shown this once.
#[derive(Debug, Clone)]
pub struct ApiKeyCreated {
    pub key: String,
    pub record: ApiKey,
}

impl Tenancy {
    pub async fn create_api_key(
        &self,
        access: &TenantAccess,
        name: &str,
        role: Role,
        expires_at: Option<OffsetDateTime>,
        ctx: &RequestContext,
    ) -> Result<ApiKeyCreated, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::ApiKeysManage, "api_key.create")
            .await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ServiceError::invalid(
                "name",
                "invalid",
                format!("name must be 1 to {MAX_NAME} characters"),
            ));
        }
        if role > access.role() {
            return Err(ServiceError::invalid(
                "role",
                "above_caller",
                "a key cannot have a role above its creator's",
            ));
        }
        let now = self.core.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::invalid(
                "expires_at",
                "in_the_past",
                "expires_at must be in the future",
            ));
        }
        let id = ApiKeyId::new();
        let key = secrets::new_scoped_token(API_KEY_PREFIX, access.tenant_id(), id)?;
        let mut tx = permit.open(Access::Write).await?;
        let record = tx
            .insert_api_key(NewApiKey {
                id,
                name: name.to_owned(),
                prefix: key.chars().take(API_KEY_DISPLAY_LEN).collect(),
                key_hash: secrets::sha256(&key),
                role,
                created_by: access.principal().user(),
                expires_at,
                at: now,
            })
            .await?;
        tx.audit(
            "api_key.create",
            ("api_key", Some(id.to_string())),
            serde_json::json!({ "name": record.name, "role": role.name() }),
        )
        .await?;
        tx.invalidate(Invalidation::ApiKey(access.tenant_id(), id));
        tx.commit().await?;
        Ok(ApiKeyCreated { key, record })
    }

    pub async fn list_api_keys(
        &self,
        access: &TenantAccess,
        page: Page<ApiKeyId>,
        ctx: &RequestContext,
    ) -> Result<Paged<ApiKey>, ServiceError> {
        let mut tx = self
            .core
            .permit(access, ctx, Permission::ApiKeysManage, "api_key.list")
            .await?
            .open(Access::Read)
            .await?;
        let limit = page.limit;
        let keys = tx.list_api_keys(page).await?;
        Ok(Paged::new(keys, limit, |last| last.id.to_string()))
    }

    pub async fn revoke_api_key(
        &self,
        access: &TenantAccess,
        id: ApiKeyId,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let mut tx = self
            .core
            .permit(access, ctx, Permission::ApiKeysManage, "api_key.revoke")
            .await?
            .open(Access::Write)
            .await?;
        let key = tx
            .api_key(id)
            .await?
            .ok_or(ServiceError::NotFound("api_key_not_found"))?;
        if key.role > access.role() {
            return Err(ServiceError::Forbidden);
        }
        tx.revoke_api_key(id, self.core.now()).await?;
        tx.audit(
            "api_key.revoke",
            ("api_key", Some(id.to_string())),
            serde_json::json!({ "name": key.name }),
        )
        .await?;
        tx.invalidate(Invalidation::ApiKey(access.tenant_id(), id));
        tx.commit().await?;
        Ok(())
    }
}
