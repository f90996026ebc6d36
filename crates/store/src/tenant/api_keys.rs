//! The tenant's API keys.

use async_trait::async_trait;
use bulkhead_domain::ApiKeyId;
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::{ApiKey, NewApiKey, Page};

#[async_trait]
pub trait ApiKeys: Send {
    async fn insert_api_key(&mut self, key: NewApiKey) -> Result<ApiKey>;
    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>>;
    async fn list_api_keys(&mut self, page: Page<ApiKeyId>) -> Result<Vec<ApiKey>>;
    /// Revokes a key that is not yet revoked; `false` if there was none.
    async fn revoke_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool>;
    async fn touch_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool>;
}
