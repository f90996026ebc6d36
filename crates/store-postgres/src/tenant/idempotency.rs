//! The tenant's `Idempotency-Key` claims on PostgreSQL.

use async_trait::async_trait;
use bulkhead_store::{IdempotencyClaim, IdempotencyKeys, Result};
use sqlx::Row;
use time::OffsetDateTime;

use super::PgTenantTx;

#[async_trait]
impl IdempotencyKeys for PgTenantTx {
    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim> {
        // A concurrent claimer's insert waits on ours (same key) until we
        // commit or roll back; it then finds our answer, or takes the key.
        let statement = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(self.t())
        .bind(key)
        .bind(&request_hash[..])
        .bind(at);
        if self.tx.execute(statement).await? == 1 {
            return Ok(IdempotencyClaim::New);
        }
        let statement = sqlx::query(
            "SELECT request_hash, status, response FROM idempotency_keys
             WHERE tenant_id = $1 AND key = $2",
        )
        .bind(self.t())
        .bind(key);
        let (hash, status, response): (Vec<u8>, Option<i32>, Option<serde_json::Value>) = self
            .tx
            .one(statement, |row| {
                Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            })
            .await?;
        Ok(IdempotencyClaim::of_taken(
            hash[..] == request_hash[..],
            status.map(i64::from),
            response,
        ))
    }

    async fn complete_idempotency_key(
        &mut self,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE idempotency_keys SET status = $3, response = $4 WHERE tenant_id = $1 AND key = $2",
        )
        .bind(self.t())
        .bind(key)
        .bind(i32::from(status))
        .bind(body);
        self.tx.execute(statement).await?;
        Ok(())
    }
}
