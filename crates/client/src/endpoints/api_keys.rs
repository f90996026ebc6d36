//! `/v1/tenants/{t}/api-keys`.

use reqwest::Method;
use uuid::Uuid;

use crate::path::tenant_path;
use crate::types::{ApiKeyCreated, ApiKeyList, CreateApiKeyRequest, PageQuery};
use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/tenants/{t}/api-keys` (201): the key is in the answer and
    /// nowhere else. Use it with [`Client::with_token`].
    pub async fn create_api_key(
        &self,
        tenant: &str,
        request: &CreateApiKeyRequest,
    ) -> Result<ApiKeyCreated, ClientError> {
        let path = format!("{}/api-keys", tenant_path(tenant));
        self.call_with_body(Method::POST, &path, request).await
    }

    /// `GET /v1/tenants/{t}/api-keys`: one page of keys, without secrets.
    pub async fn list_api_keys(
        &self,
        tenant: &str,
        page: &PageQuery,
    ) -> Result<ApiKeyList, ClientError> {
        self.call_with_query(&format!("{}/api-keys", tenant_path(tenant)), page)
            .await
    }

    /// `DELETE /v1/tenants/{t}/api-keys/{id}`: revoke a key.
    pub async fn revoke_api_key(&self, tenant: &str, key_id: Uuid) -> Result<(), ClientError> {
        let path = format!("{}/api-keys/{key_id}", tenant_path(tenant));
        self.call_for_nothing(Method::DELETE, &path).await
    }
}
