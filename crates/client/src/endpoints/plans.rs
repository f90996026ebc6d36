//! Plans and usage: `/v1/admin/plans` and a tenant's plan (platform
//! admins, each change audited by the server), and
//! `/v1/tenants/{t}/usage` (`usage.read`).

use reqwest::Method;

use crate::path::{segment, tenant_path};
use crate::types::{
    AdminTenantView, CreatePlanRequest, PlanList, PlanView, SetPlanRequest, UpdatePlanRequest,
    UsageQuery, UsageView,
};
use crate::{Client, ClientError};

fn plan_path(name: &str) -> String {
    format!("/v1/admin/plans/{}", segment(name))
}

impl Client {
    /// `GET /v1/admin/plans`: every plan, by name.
    pub async fn admin_list_plans(&self) -> Result<PlanList, ClientError> {
        self.call(Method::GET, "/v1/admin/plans").await
    }

    /// `GET /v1/admin/plans/{name}`.
    pub async fn admin_get_plan(&self, name: &str) -> Result<PlanView, ClientError> {
        self.call(Method::GET, &plan_path(name)).await
    }

    /// `POST /v1/admin/plans` (201).
    pub async fn admin_create_plan(
        &self,
        request: &CreatePlanRequest,
    ) -> Result<PlanView, ClientError> {
        self.call_with_body(Method::POST, "/v1/admin/plans", request)
            .await
    }

    /// `PATCH /v1/admin/plans/{name}`: what the request leaves out stays.
    pub async fn admin_update_plan(
        &self,
        name: &str,
        request: &UpdatePlanRequest,
    ) -> Result<PlanView, ClientError> {
        self.call_with_body(Method::PATCH, &plan_path(name), request)
            .await
    }

    /// `PUT /v1/admin/tenants/{t}/plan`: the tenant on its new plan.
    pub async fn admin_set_tenant_plan(
        &self,
        tenant: &str,
        request: &SetPlanRequest,
    ) -> Result<AdminTenantView, ClientError> {
        let path = format!("/v1/admin/tenants/{}/plan", segment(tenant));
        self.call_with_body(Method::PUT, &path, request).await
    }

    /// `GET /v1/tenants/{t}/usage?days=`: the tenant's plan, limits, what
    /// it holds now, and its last `days` UTC days of metered use.
    pub async fn tenant_usage(
        &self,
        tenant: &str,
        query: &UsageQuery,
    ) -> Result<UsageView, ClientError> {
        let path = format!("{}/usage", tenant_path(tenant));
        self.call_with_query(&path, query).await
    }
}
