//! `/v1/admin/*`: platform administration, audited in the platform log.

use axum::Json;
use axum::extract::{Path, Query, State};
use bulkhead_api_types::{
    AdminTenantList, AdminTenantQuery, AdminTenantView, Problem, SetChargeMarkupRequest,
};
use bulkhead_domain::TenantId;
use bulkhead_service::{Admin, Principal, RequestContext};
use bulkhead_store::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppJson, Auth, Ctx, cursor, page_limit};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants))
        .routes(routes!(suspend))
        .routes(routes!(unsuspend))
        .routes(routes!(set_charge_markup))
}

/// Every tenant, paged and searchable (platform admins only).
#[utoipa::path(get, path = "/v1/admin/tenants", tag = "admin", operation_id = "admin_list_tenants", security(("bearer" = [])),
    params(AdminTenantQuery),
    responses((status = 200, body = AdminTenantList), (status = 403, body = Problem)))]
async fn list_tenants(
    State(admin): State<Admin>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Query(query): Query<AdminTenantQuery>,
) -> Result<Json<AdminTenantList>, ApiError> {
    let limit = page_limit(query.limit)?;
    let page = Page {
        after: cursor::<TenantId>(query.cursor.as_deref())?,
        limit,
    };
    let tenants = admin
        .admin_list_tenants(&principal, query.q.as_deref(), page, &ctx)
        .await?;
    let (items, next_cursor) = views::page(&tenants, views::admin_tenant);
    Ok(Json(AdminTenantList { items, next_cursor }))
}

/// Suspends a tenant: its members get 403 `tenant_suspended`.
#[utoipa::path(post, path = "/v1/admin/tenants/{t}/suspend", tag = "admin", operation_id = "admin_suspend_tenant", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    responses((status = 200, body = AdminTenantView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn suspend(
    State(admin): State<Admin>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(reference): Path<String>,
) -> Result<Json<AdminTenantView>, ApiError> {
    set_suspended(&admin, &principal, &reference, true, &ctx).await
}

/// Lifts a suspension.
#[utoipa::path(post, path = "/v1/admin/tenants/{t}/unsuspend", tag = "admin", operation_id = "admin_unsuspend_tenant", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    responses((status = 200, body = AdminTenantView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn unsuspend(
    State(admin): State<Admin>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(reference): Path<String>,
) -> Result<Json<AdminTenantView>, ApiError> {
    set_suspended(&admin, &principal, &reference, false, &ctx).await
}

/// Both ways of [`suspend`] and [`unsuspend`], answered alike.
async fn set_suspended(
    admin: &Admin,
    principal: &Principal,
    reference: &str,
    suspended: bool,
    ctx: &RequestContext,
) -> Result<Json<AdminTenantView>, ApiError> {
    let tenant = admin
        .admin_set_suspended(principal, reference, suspended, ctx)
        .await?;
    Ok(Json(views::admin_tenant(&tenant)))
}

/// Sets what the tenant's charges multiply a metered cost by (1 until
/// set); the platform log records the old and the new markup.
#[utoipa::path(put, path = "/v1/admin/tenants/{t}/charge-markup", tag = "admin", operation_id = "admin_set_charge_markup", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = SetChargeMarkupRequest,
    responses((status = 200, body = AdminTenantView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "validation_failed (markup)", body = Problem)))]
async fn set_charge_markup(
    State(admin): State<Admin>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(reference): Path<String>,
    AppJson(body): AppJson<SetChargeMarkupRequest>,
) -> Result<Json<AdminTenantView>, ApiError> {
    let tenant = admin
        .admin_set_charge_markup(&principal, &reference, &body.markup, &ctx)
        .await?;
    Ok(Json(views::admin_tenant(&tenant)))
}
