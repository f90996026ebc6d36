//! `/v1/tenants/{t}/members*`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bulkhead_api_types::{MemberList, MemberView, PageQuery, Problem, UpdateMemberRequest};
use bulkhead_domain::UserId;
use bulkhead_service::Tenancy;
use bulkhead_store::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{AppJson, Ctx, Tenant, cursor, page_limit};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
}

/// The tenant's members, by user id.
#[utoipa::path(get, path = "/v1/tenants/{t}/members", tag = "members", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), PageQuery),
    responses((status = 200, body = MemberList), (status = 404, body = Problem)))]
async fn list_members(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Query(query): Query<PageQuery>,
) -> Result<Json<MemberList>, ApiError> {
    let limit = page_limit(query.limit)?;
    let page = Page {
        after: cursor::<UserId>(query.cursor.as_deref())?,
        limit,
    };
    let members = tenancy.list_members(&access, page, &ctx).await?;
    let (items, next_cursor) = views::page(&members, views::member);
    Ok(Json(MemberList { items, next_cursor }))
}

/// Changes a member's role (admin and up; only an owner grants or removes owner).
#[utoipa::path(patch, path = "/v1/tenants/{t}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("user_id" = Uuid, Path, description = "the member's user id")),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "last_owner", body = Problem)))]
async fn update_member(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, user_id)): Path<(String, Uuid)>,
    AppJson(body): AppJson<UpdateMemberRequest>,
) -> Result<Json<MemberView>, ApiError> {
    let member = tenancy
        .change_member_role(
            &access,
            UserId::from_uuid(user_id),
            views::domain_role(body.role),
            &ctx,
        )
        .await?;
    Ok(Json(views::member(&member)))
}

/// Removes a member (admin and up), or leaves (any member, for itself).
#[utoipa::path(delete, path = "/v1/tenants/{t}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("user_id" = Uuid, Path, description = "the member's user id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "last_owner", body = Problem)))]
async fn remove_member(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, user_id)): Path<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    tenancy
        .remove_member(&access, UserId::from_uuid(user_id), &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
