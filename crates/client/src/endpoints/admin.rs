//! The platform administrator's endpoints: `/v1/admin/tenants`. Each call
//! is audited by the server.

use reqwest::Method;

use crate::path::segment;
use crate::types::{AdminTenantList, AdminTenantQuery, AdminTenantView, SetChargeMarkupRequest};
use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/admin/tenants?q=&limit=&cursor=`: every tenant, searched by
    /// slug or name.
    pub async fn admin_list_tenants(
        &self,
        query: &AdminTenantQuery,
    ) -> Result<AdminTenantList, ClientError> {
        self.call_with_query("/v1/admin/tenants", query).await
    }

    /// `POST /v1/admin/tenants/{t}/suspend`: the tenant as it is now.
    pub async fn admin_suspend_tenant(&self, tenant: &str) -> Result<AdminTenantView, ClientError> {
        let path = format!("/v1/admin/tenants/{}/suspend", segment(tenant));
        self.call(Method::POST, &path).await
    }

    /// `POST /v1/admin/tenants/{t}/unsuspend`: the tenant as it is now.
    pub async fn admin_unsuspend_tenant(
        &self,
        tenant: &str,
    ) -> Result<AdminTenantView, ClientError> {
        let path = format!("/v1/admin/tenants/{}/unsuspend", segment(tenant));
        self.call(Method::POST, &path).await
    }

    /// `PUT /v1/admin/tenants/{t}/charge-markup`: the tenant with its new
    /// markup.
    pub async fn admin_set_charge_markup(
        &self,
        tenant: &str,
        request: &SetChargeMarkupRequest,
    ) -> Result<AdminTenantView, ClientError> {
        let path = format!("/v1/admin/tenants/{}/charge-markup", segment(tenant));
        self.call_with_body(Method::PUT, &path, request).await
    }
}
