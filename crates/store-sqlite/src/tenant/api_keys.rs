//! The tenant's API keys on SQLite.

use async_trait::async_trait;
use bulkhead_domain::ApiKeyId;
use bulkhead_store::{ApiKey, ApiKeys, NewApiKey, Page, Result};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::SqliteTenantTx;
use crate::codec::{Micros, id_param, opt_micros};
use crate::rows::{self, API_KEY_COLUMNS};

#[async_trait]
impl ApiKeys for SqliteTenantTx {
    async fn insert_api_key(&mut self, key: NewApiKey) -> Result<ApiKey> {
        let sql = format!(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, role, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {API_KEY_COLUMNS}"
        );
        let binds = params![
            self.t(),
            id_param(&key.id),
            key.name,
            key.prefix,
            key.key_hash,
            key.role.name(),
            key.created_by.as_ref().map(id_param),
            Micros(key.at),
            opt_micros(key.expires_at)
        ];
        let inserted = self
            .tx
            .statement(&sql, |s| s.query_row(binds, rows::api_key))?;
        self.usage.api_keys += 1;
        Ok(inserted)
    }

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let sql =
            format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 AND id = ?2");
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], rows::api_key)
                .optional()
        })
    }

    async fn list_api_keys(&mut self, page: Page<ApiKeyId>) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys
             WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::api_key)?
                .collect()
        })
    }

    async fn revoke_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool> {
        let sql = "UPDATE api_keys SET revoked_at = ?3
                   WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL";
        let binds = params![self.t(), id_param(&id), Micros(at)];
        let revoked = self.tx.statement(sql, |s| s.execute(binds))? > 0;
        if revoked {
            self.usage.api_keys -= 1;
        }
        Ok(revoked)
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool> {
        let sql = "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?3), ?3)
                   WHERE tenant_id = ?1 AND id = ?2";
        let binds = params![self.t(), id_param(&id), Micros(at)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }
}
