//! `/v1/tenants` and `/v1/tenants/{t}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulkhead_api_types::{
    CreateTenantRequest, Problem, TenantList, TenantView, UpdateTenantRequest,
};
use bulkhead_service::Tenancy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppJson, Auth, Ctx, Tenant};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// Creates a tenant; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    request_body = CreateTenantRequest,
    responses((status = 201, body = TenantView), (status = 401, body = Problem), (status = 403, description = "forbidden: an API key cannot do this", body = Problem),
        (status = 409, description = "slug_taken", body = Problem), (status = 422, body = Problem)))]
async fn create_tenant(
    State(tenancy): State<Tenancy>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<CreateTenantRequest>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    let (tenant, _) = tenancy
        .create_tenant(&principal, &body.slug, &body.name, &ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(views::tenant(&tenant))))
}

/// The caller's tenants, with its role in each.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = TenantList), (status = 401, body = Problem)))]
async fn list_tenants(
    State(tenancy): State<Tenancy>,
    Auth(principal): Auth,
) -> Result<Json<TenantList>, ApiError> {
    let memberships = tenancy.my_tenants(&principal).await?;
    Ok(Json(TenantList {
        items: memberships.iter().map(views::tenant_with_role).collect(),
    }))
}

/// A tenant the caller belongs to.
#[utoipa::path(get, path = "/v1/tenants/{t}", tag = "tenants", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    responses((status = 200, body = TenantView), (status = 401, body = Problem),
        (status = 404, description = "tenant_not_found", body = Problem)))]
async fn get_tenant(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = tenancy.get_tenant(&access, &ctx).await?;
    Ok(Json(views::tenant(&tenant)))
}

/// Renames a tenant (admin and up).
#[utoipa::path(patch, path = "/v1/tenants/{t}", tag = "tenants", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = UpdateTenantRequest,
    responses((status = 200, body = TenantView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_tenant(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<UpdateTenantRequest>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = tenancy
        .update_tenant(&access, body.name.as_deref(), &ctx)
        .await?;
    Ok(Json(views::tenant(&tenant)))
}

/// Deletes a tenant and all its data (owner only).
#[utoipa::path(delete, path = "/v1/tenants/{t}", tag = "tenants", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_tenant(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
) -> Result<StatusCode, ApiError> {
    tenancy.delete_tenant(&access, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
