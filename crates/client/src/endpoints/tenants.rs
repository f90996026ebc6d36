//! `/v1/tenants` and `/v1/tenants/{t}`.

use reqwest::Method;

use crate::path::tenant_path;
use crate::types::{CreateTenantRequest, TenantList, TenantView, UpdateTenantRequest};
use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/tenants` (201): the caller becomes its owner; 409
    /// `slug_taken` when the slug is in use.
    pub async fn create_tenant(
        &self,
        request: &CreateTenantRequest,
    ) -> Result<TenantView, ClientError> {
        self.call_with_body(Method::POST, "/v1/tenants", request)
            .await
    }

    /// `GET /v1/tenants`: the tenants the caller is a member of, with the
    /// caller's role in each.
    pub async fn list_tenants(&self) -> Result<TenantList, ClientError> {
        self.call(Method::GET, "/v1/tenants").await
    }

    /// `GET /v1/tenants/{t}`; `tenant` is a slug or an id.
    pub async fn get_tenant(&self, tenant: &str) -> Result<TenantView, ClientError> {
        self.call(Method::GET, &tenant_path(tenant)).await
    }

    /// `PATCH /v1/tenants/{t}` (admin and above).
    pub async fn update_tenant(
        &self,
        tenant: &str,
        request: &UpdateTenantRequest,
    ) -> Result<TenantView, ClientError> {
        self.call_with_body(Method::PATCH, &tenant_path(tenant), request)
            .await
    }

    /// `DELETE /v1/tenants/{t}` (owner): removes all of the tenant's data.
    pub async fn delete_tenant(&self, tenant: &str) -> Result<(), ClientError> {
        self.call_for_nothing(Method::DELETE, &tenant_path(tenant))
            .await
    }
}
