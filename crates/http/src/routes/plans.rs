//! Plans: `/v1/admin/plans` and a tenant's plan (platform admins, audited
//! in the platform log), and `/v1/tenants/{t}/usage` (`usage.read`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bulkhead_api_types::{
    AdminTenantView, CreatePlanRequest, PlanLimitsView, PlanList, PlanView, Problem,
    SetPlanRequest, UpdatePlanRequest, UsageCounts, UsageDay, UsageQuery, UsageView,
};
use bulkhead_domain::plan::PlanLimits;
use bulkhead_service::Plans;
use bulkhead_service::plans::{PlanChange, PlanRequest};
use bulkhead_store::plans::Plan;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppJson, Auth, Ctx, Tenant};
use crate::{ApiError, AppState, views};

/// How many days `GET …/usage` gives unless asked, and at most.
const DEFAULT_USAGE_DAYS: u32 = 30;
const MAX_USAGE_DAYS: u32 = 366;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(get_plan, update_plan))
        .routes(routes!(set_tenant_plan))
        .routes(routes!(usage))
}

fn limits_view(limits: &PlanLimits) -> PlanLimitsView {
    PlanLimitsView {
        members: limits.members,
        records: limits.records,
        storage_bytes: limits.storage_bytes,
        collections: limits.collections,
        api_keys: limits.api_keys,
        requests_per_minute: limits.requests_per_minute,
        realtime_connections: limits.realtime_connections,
    }
}

fn limits_of(view: &PlanLimitsView) -> PlanLimits {
    PlanLimits {
        members: view.members,
        records: view.records,
        storage_bytes: view.storage_bytes,
        collections: view.collections,
        api_keys: view.api_keys,
        requests_per_minute: view.requests_per_minute,
        realtime_connections: view.realtime_connections,
    }
}

fn plan_view(plan: &Plan) -> PlanView {
    PlanView {
        name: plan.name.to_string(),
        limits: limits_view(&plan.terms.limits),
        ledger_markup: plan.terms.ledger_markup.map(|m| m.format()),
        created_at: plan.created_at,
        updated_at: plan.updated_at,
    }
}

/// Every plan, by name (platform admins only).
#[utoipa::path(get, path = "/v1/admin/plans", tag = "admin", operation_id = "admin_list_plans", security(("bearer" = [])),
    responses((status = 200, body = PlanList), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_plans(
    State(plans): State<Plans>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
) -> Result<Json<PlanList>, ApiError> {
    let items = plans.list(&principal, &ctx).await?;
    Ok(Json(PlanList {
        items: items.iter().map(plan_view).collect(),
    }))
}

/// Adds a plan; the platform log records it.
#[utoipa::path(post, path = "/v1/admin/plans", tag = "admin", operation_id = "admin_create_plan", security(("bearer" = [])),
    request_body = CreatePlanRequest,
    responses((status = 201, body = PlanView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "plan_exists", body = Problem),
        (status = 422, description = "validation_failed (name, ledger_markup, limits)", body = Problem)))]
async fn create_plan(
    State(plans): State<Plans>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<CreatePlanRequest>,
) -> Result<(StatusCode, Json<PlanView>), ApiError> {
    let request = PlanRequest {
        limits: limits_of(&body.limits),
        ledger_markup: body.ledger_markup.as_deref(),
    };
    let plan = plans.create(&principal, &body.name, &request, &ctx).await?;
    Ok((StatusCode::CREATED, Json(plan_view(&plan))))
}

/// One plan (platform admins only).
#[utoipa::path(get, path = "/v1/admin/plans/{name}", tag = "admin", operation_id = "admin_get_plan", security(("bearer" = [])),
    params(("name" = String, Path, description = "the plan's name")),
    responses((status = 200, body = PlanView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "plan_not_found", body = Problem)))]
async fn get_plan(
    State(plans): State<Plans>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> Result<Json<PlanView>, ApiError> {
    let plan = plans.get(&principal, &name, &ctx).await?;
    Ok(Json(plan_view(&plan)))
}

/// Changes a plan; its tenants get the new limits on their next request.
/// The platform log records the old and the new terms.
#[utoipa::path(patch, path = "/v1/admin/plans/{name}", tag = "admin", operation_id = "admin_update_plan", security(("bearer" = [])),
    params(("name" = String, Path, description = "the plan's name")),
    request_body = UpdatePlanRequest,
    responses((status = 200, body = PlanView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "plan_not_found", body = Problem),
        (status = 422, description = "validation_failed (ledger_markup, limits)", body = Problem)))]
async fn update_plan(
    State(plans): State<Plans>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    AppJson(body): AppJson<UpdatePlanRequest>,
) -> Result<Json<PlanView>, ApiError> {
    let change = PlanChange {
        limits: body.limits.as_ref().map(limits_of),
        ledger_markup: body.ledger_markup.as_ref().map(|m| m.as_deref()),
    };
    let plan = plans.update(&principal, &name, &change, &ctx).await?;
    Ok(Json(plan_view(&plan)))
}

/// Puts a tenant on a plan, from its next request on; the platform log
/// records the move.
#[utoipa::path(put, path = "/v1/admin/tenants/{t}/plan", tag = "admin", operation_id = "admin_set_tenant_plan", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = SetPlanRequest,
    responses((status = 200, body = AdminTenantView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 422, description = "validation_failed (plan)", body = Problem)))]
async fn set_tenant_plan(
    State(plans): State<Plans>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(reference): Path<String>,
    AppJson(body): AppJson<SetPlanRequest>,
) -> Result<Json<AdminTenantView>, ApiError> {
    let tenant = plans
        .assign(&principal, &reference, &body.plan, &ctx)
        .await?;
    Ok(Json(views::admin_tenant(&tenant)))
}

/// The tenant's plan, its limits, what it holds, and its metered use day
/// by day (`usage.read`: managers and up).
#[utoipa::path(get, path = "/v1/tenants/{t}/usage", tag = "tenants", operation_id = "tenant_usage", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), UsageQuery),
    responses((status = 200, body = UsageView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "tenant_not_found", body = Problem),
        (status = 422, description = "validation_failed (days)", body = Problem)))]
async fn usage(
    State(plans): State<Plans>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Query(query): Query<UsageQuery>,
) -> Result<Json<UsageView>, ApiError> {
    let days = query.days.unwrap_or(DEFAULT_USAGE_DAYS);
    if !(1..=MAX_USAGE_DAYS).contains(&days) {
        return Err(ApiError::validation(vec![crate::error::FieldError {
            field: "days".into(),
            code: "out_of_range".into(),
            message: format!("from 1 to {MAX_USAGE_DAYS}"),
        }]));
    }
    let report = plans.usage(&access, days, &ctx).await?;
    let held = report.usage;
    Ok(Json(UsageView {
        plan: report.plan.to_string(),
        limits: limits_view(&report.limits),
        usage: UsageCounts {
            members: held.members,
            records: held.records,
            storage_bytes: held.storage_bytes,
            collections: held.collections,
            api_keys: held.api_keys,
            requests_this_minute: report.requests_this_minute,
        },
        daily: report.daily.iter().map(usage_day).collect(),
    }))
}

fn usage_day(day: &bulkhead_store::metering::UsageDay) -> UsageDay {
    UsageDay {
        day: day.day.to_string(),
        requests: day.requests,
        records_created: day.records_created,
        storage_bytes: day.storage_bytes,
        active_users: day.active_users,
    }
}
