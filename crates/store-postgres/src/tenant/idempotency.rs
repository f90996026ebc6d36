//! The tenant's `Idempotency-Key` claims on PostgreSQL.
//!
//! A claim takes a transaction-level advisory lock on the key in the same
//! statement as its insert, and only inserts if it got the lock. The lock is
//! held until the claiming transaction ends, so a second claim of a key whose
//! first request is still running fails to take it, finds no committed row,
//! and answers [`IdempotencyClaim::InFlight`] (an HTTP 409) instead of
//! waiting on the unique index for a request that may take long. Once the
//! first transaction has ended the lock is free and the row, if committed,
//! is replayed.

use std::time::Duration;

use async_trait::async_trait;
use bulkhead_store::{IdempotencyClaim, IdempotencyKeys, Result};
use sqlx::Row;
use time::OffsetDateTime;

use super::PgTenantTx;

/// The first key of the advisory lock a claim holds ("idem", 0x6964656d).
/// PostgreSQL has one space of two-key advisory locks per database, shared
/// with the audit chain's lock (1635083369, "audi"); a class of its own
/// keeps a claim from ever waiting on, or being refused by, a tenant's audit
/// append whose second key happens to hash alike.
const CLAIM_LOCK_CLASS: i32 = 0x6964_656d;

/// How often, and how far apart, a claim that finds the key locked and no
/// committed answer looks again before it answers `InFlight`. A dropped
/// transaction is rolled back by the connection pool in a task of its own,
/// a moment after the drop, and holds its locks until then: without this
/// grace a request retried at once after a failed attempt (the ledger
/// retries contention immediately) could be told its own dead attempt is
/// still in flight.
const CLAIM_GRACE_POLLS: u32 = 10;
const CLAIM_GRACE_INTERVAL: Duration = Duration::from_millis(10);

#[async_trait]
impl IdempotencyKeys for PgTenantTx {
    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim> {
        let mut polls = 0;
        loop {
            // The lock is taken only when there is a row to insert, and is
            // re-entrant, so a transaction may claim its own key again. A
            // lock taken means no other open transaction has inserted the
            // key (every inserter holds it), so the insert never waits. Two
            // keys whose hashes collide share a lock: the second may be told
            // it is in flight while the first is, and a retry resolves it.
            //
            // Whether a row went in is read from RETURNING, not from the
            // command tag: Citus runs an INSERT … SELECT through the
            // coordinator and tags it with the rows it selected, counting a
            // row that ON CONFLICT then skipped.
            let statement = sqlx::query(
                "INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at)
                 SELECT $1, $2, $3, $4
                 WHERE pg_try_advisory_xact_lock($5, hashtext($1::text || ':' || $2))
                 ON CONFLICT (tenant_id, key) DO NOTHING
                 RETURNING true",
            )
            .bind(self.t())
            .bind(key)
            .bind(&request_hash[..])
            .bind(at)
            .bind(CLAIM_LOCK_CLASS);
            let inserted = self.tx.optional(statement, |_| Ok(())).await?;
            if inserted.is_some() {
                return Ok(IdempotencyClaim::New);
            }
            // A new snapshot: whatever committed before this statement.
            let statement = sqlx::query(
                "SELECT request_hash, status, response FROM idempotency_keys
                 WHERE tenant_id = $1 AND key = $2",
            )
            .bind(self.t())
            .bind(key);
            let taken: Option<(Vec<u8>, Option<i32>, Option<serde_json::Value>)> = self
                .tx
                .optional(statement, |row| {
                    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
                })
                .await?;
            if let Some((hash, status, response)) = taken {
                return Ok(IdempotencyClaim::of_taken(
                    hash[..] == request_hash[..],
                    status.map(i64::from),
                    response,
                ));
            }
            polls += 1;
            if polls >= CLAIM_GRACE_POLLS {
                return Ok(IdempotencyClaim::InFlight);
            }
            tokio::time::sleep(CLAIM_GRACE_INTERVAL).await;
        }
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

    async fn sweep_idempotency_keys(
        &mut self,
        created_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64> {
        // The batch is chosen by the (tenant_id, created_at) index; every
        // condition names the tenant, so under Citus it is one shard's
        // statement.
        let statement = sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key IN (
                 SELECT key FROM idempotency_keys
                 WHERE tenant_id = $1 AND created_at < $2
                 ORDER BY created_at, key LIMIT $3)",
        )
        .bind(self.t())
        .bind(created_before)
        .bind(i64::from(limit));
        self.tx.execute(statement).await
    }
}
