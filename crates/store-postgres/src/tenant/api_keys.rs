//! The tenant's API keys on PostgreSQL.

use async_trait::async_trait;
use bulkhead_domain::ApiKeyId;
use bulkhead_store::{ApiKey, ApiKeys, NewApiKey, Page, Result};
use time::OffsetDateTime;

use super::{PgTenantTx, after};
use crate::codec::{self, API_KEY_COLUMNS};

#[async_trait]
impl ApiKeys for PgTenantTx {
    async fn insert_api_key(&mut self, key: NewApiKey) -> Result<ApiKey> {
        let sql = format!(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, role, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {API_KEY_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(key.id.as_uuid())
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.key_hash[..])
            .bind(key.role.name())
            .bind(key.created_by.map(|id| *id.as_uuid()))
            .bind(key.at)
            .bind(key.expires_at);
        let inserted = self.tx.one(statement, codec::api_key).await?;
        self.usage.api_keys += 1;
        Ok(inserted)
    }

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let sql =
            format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        self.tx.optional(statement, codec::api_key).await
    }

    async fn list_api_keys(&mut self, page: Page<ApiKeyId>) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys
             WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit));
        self.tx.all(statement, codec::api_key).await
    }

    async fn revoke_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3
             WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(self.t())
        .bind(id.as_uuid())
        .bind(at);
        let revoked = self.tx.execute(statement).await? > 0;
        if revoked {
            self.usage.api_keys -= 1;
        }
        Ok(revoked)
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE api_keys SET last_used_at = greatest(coalesce(last_used_at, $3), $3)
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(self.t())
        .bind(id.as_uuid())
        .bind(at);
        Ok(self.tx.execute(statement).await? > 0)
    }
}
