//! The tenant's `Idempotency-Key` claims and their answers.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::records::IdempotencyClaim;

#[async_trait]
pub trait IdempotencyKeys: Send {
    /// Claims an `Idempotency-Key` for a request with this body hash, or
    /// finds what it was used for. A claim while another open transaction
    /// holds the key is [`IdempotencyClaim::InFlight`] on PostgreSQL, not a
    /// wait; on SQLite it cannot happen, since one writer at a time means
    /// the first transaction has ended before the second can claim.
    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim>;
    async fn complete_idempotency_key(
        &mut self,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<()>;
    /// Deletes at most `limit` of the tenant's keys created before
    /// `created_before`, oldest first, and returns how many it deleted: the
    /// retention sweep, in batches so that no transaction holds many rows.
    async fn sweep_idempotency_keys(
        &mut self,
        created_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64>;
}
