//! The keys that sign access tokens.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::SigningKey;

#[async_trait]
pub trait SigningKeys: Send {
    /// Serialises signing-key bootstrap and rotation across server processes
    /// until this transaction ends, so two processes starting at once agree
    /// on one key.
    async fn lock_signing_keys(&mut self) -> Result<()>;
    /// Every signing key, newest first.
    async fn signing_keys(&mut self) -> Result<Vec<SigningKey>>;
    async fn insert_signing_key(&mut self, key: SigningKey) -> Result<()>;
    async fn retire_signing_keys(&mut self, except_kid: &str, at: OffsetDateTime) -> Result<u64>;
}
