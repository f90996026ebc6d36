//! `/v1/tenants/{t}/api-keys*`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bulkhead_api_types::{ApiKeyCreated, ApiKeyList, CreateApiKeyRequest, PageQuery, Problem};
use bulkhead_domain::ApiKeyId;
use bulkhead_service::Tenancy;
use bulkhead_store::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{AppJson, Ctx, Tenant, cursor, page_limit};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
}

/// Creates an API key acting in this tenant only; the key is shown once.
#[utoipa::path(post, path = "/v1/tenants/{t}/api-keys", tag = "api_keys", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyCreated), (status = 403, description = "forbidden, or quota_exceeded: `quota` names the plan's limit", body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_api_key(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let created = tenancy
        .create_api_key(
            &access,
            &body.name,
            views::domain_role(body.role),
            body.expires_at,
            &ctx,
        )
        .await?;
    let record = &created.record;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: *record.id.as_uuid(),
            key: created.key,
            prefix: record.prefix.clone(),
            role: views::role(record.role),
            name: record.name.clone(),
            expires_at: record.expires_at,
        }),
    ))
}

/// The tenant's API keys (never the keys themselves).
#[utoipa::path(get, path = "/v1/tenants/{t}/api-keys", tag = "api_keys", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), PageQuery),
    responses((status = 200, body = ApiKeyList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_api_keys(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Query(query): Query<PageQuery>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let limit = page_limit(query.limit)?;
    let page = Page {
        after: cursor::<ApiKeyId>(query.cursor.as_deref())?,
        limit,
    };
    let keys = tenancy.list_api_keys(&access, page, &ctx).await?;
    let (items, next_cursor) = views::page(&keys, views::api_key);
    Ok(Json(ApiKeyList { items, next_cursor }))
}

/// Revokes an API key; it stops working on the next request.
#[utoipa::path(delete, path = "/v1/tenants/{t}/api-keys/{id}", tag = "api_keys", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the key's id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, description = "api_key_not_found", body = Problem)))]
async fn revoke_api_key(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    tenancy
        .revoke_api_key(&access, ApiKeyId::from_uuid(id), &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
