//! The tenant's `Idempotency-Key` claims on SQLite.
//!
//! A claim never answers [`IdempotencyClaim::InFlight`] here: every write
//! transaction holds the one writer from its start to its end, so a second
//! claim of a key cannot run until the first claim's transaction has
//! committed (and is replayed) or rolled back (and the key is free).

use async_trait::async_trait;
use bulkhead_store::{IdempotencyClaim, IdempotencyKeys, Result, StoreError};
use rusqlite::params;
use time::OffsetDateTime;

use super::SqliteTenantTx;
use crate::codec::Micros;

#[async_trait]
impl IdempotencyKeys for SqliteTenantTx {
    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim> {
        let inserted = self.tx.statement(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant_id, key) DO NOTHING",
            |s| s.execute(params![self.t(), key, request_hash, Micros(at)]),
        )?;
        if inserted == 1 {
            return Ok(IdempotencyClaim::New);
        }
        let (hash, status, response): ([u8; 32], Option<i64>, Option<String>) = self.tx.statement(
            "SELECT request_hash, status, response FROM idempotency_keys
                 WHERE tenant_id = ?1 AND key = ?2",
            |s| {
                s.query_row(params![self.t(), key], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
            },
        )?;
        let body = response
            .map(|response| serde_json::from_str(&response))
            .transpose()
            .map_err(StoreError::internal)?;
        Ok(IdempotencyClaim::of_taken(
            hash == *request_hash,
            status,
            body,
        ))
    }

    async fn complete_idempotency_key(
        &mut self,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<()> {
        self.tx.statement(
            "UPDATE idempotency_keys SET status = ?3, response = ?4 WHERE tenant_id = ?1 AND key = ?2",
            |s| s.execute(params![self.t(), key, status, body.to_string()]),
        )?;
        Ok(())
    }

    async fn sweep_idempotency_keys(
        &mut self,
        created_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64> {
        // SQLite's DELETE has no LIMIT unless built with it; the batch is
        // chosen by the (tenant_id, created_at) index instead.
        let deleted = self.tx.statement(
            "DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key IN (
                 SELECT key FROM idempotency_keys
                 WHERE tenant_id = ?1 AND created_at < ?2
                 ORDER BY created_at, key LIMIT ?3)",
            |s| s.execute(params![self.t(), Micros(created_before), limit]),
        )?;
        Ok(deleted as u64)
    }
}
