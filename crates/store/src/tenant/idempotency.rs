//! The tenant's `Idempotency-Key` claims and their answers.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::records::IdempotencyClaim;

#[async_trait]
pub trait IdempotencyKeys: Send {
    /// Claims an `Idempotency-Key` for a request with this body hash, or
    /// finds what it was used for. Concurrent claims of one key serialise:
    /// the second waits for the first transaction and then sees its answer.
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
}
