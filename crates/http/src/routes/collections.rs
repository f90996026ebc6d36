//! `/v1/tenants/{t}/collections` and `/v1/tenants/{t}/collections/{name}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bulkhead_api_types::{CollectionList, CollectionSpec, CollectionView, Problem};
use bulkhead_service::Data;
use bulkhead_service::collections::CollectionInfo;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::etag::if_match;
use crate::extract::{AppJson, Ctx, Tenant};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_collection, list_collections))
        .routes(routes!(
            get_collection,
            update_collection,
            delete_collection
        ))
}

fn view(info: &CollectionInfo) -> Result<CollectionView, ApiError> {
    let spec: CollectionSpec = serde_json::from_value(
        serde_json::to_value(info.schema.to_draft()).map_err(|_| ApiError::internal())?,
    )
    .map_err(|_| ApiError::internal())?;
    Ok(CollectionView::new(
        spec,
        info.row.version,
        info.row.created_at,
        info.row.updated_at,
    ))
}

fn draft(spec: CollectionSpec) -> Result<bulkhead_domain::collection::SchemaDraft, ApiError> {
    // The wire shape and the schema draft are the same JSON; the domain
    // type does the validating.
    let value = serde_json::to_value(spec).map_err(|_| ApiError::internal())?;
    serde_json::from_value(value).map_err(|error| ApiError::invalid_body(error.to_string()))
}

/// Creates a collection (manager and up).
#[utoipa::path(post, path = "/v1/tenants/{t}/collections", tag = "collections", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = CollectionSpec,
    responses((status = 201, body = CollectionView), (status = 403, description = "forbidden, or quota_exceeded: `quota` names the plan's limit", body = Problem), (status = 404, body = Problem),
        (status = 409, description = "collection_exists", body = Problem), (status = 422, body = Problem)))]
async fn create_collection(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<CollectionSpec>,
) -> Result<(StatusCode, Json<CollectionView>), ApiError> {
    let info = data.create_collection(&access, draft(body)?, &ctx).await?;
    Ok((StatusCode::CREATED, Json(view(&info)?)))
}

/// The tenant's collections.
#[utoipa::path(get, path = "/v1/tenants/{t}/collections", tag = "collections", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    responses((status = 200, body = CollectionList), (status = 404, body = Problem)))]
async fn list_collections(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
) -> Result<Json<CollectionList>, ApiError> {
    let collections = data.list_collections(&access, &ctx).await?;
    Ok(Json(CollectionList {
        items: collections.iter().map(view).collect::<Result<_, _>>()?,
    }))
}

/// One collection.
#[utoipa::path(get, path = "/v1/tenants/{t}/collections/{name}", tag = "collections", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name")),
    responses((status = 200, body = CollectionView), (status = 404, body = Problem)))]
async fn get_collection(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<CollectionView>, ApiError> {
    let info = data.get_collection(&access, &name, &ctx).await?;
    Ok(Json(view(&info)?))
}

/// Replaces a collection's definition (manager and up); changes that could
/// invalidate stored records are refused. `If-Match: <version>` optional.
#[utoipa::path(patch, path = "/v1/tenants/{t}/collections/{name}", tag = "collections", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"),
        ("If-Match" = Option<String>, Header, description = "the expected version")),
    request_body = CollectionSpec,
    responses((status = 200, body = CollectionView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, description = "version_mismatch", body = Problem), (status = 422, body = Problem)))]
async fn update_collection(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
    AppJson(body): AppJson<CollectionSpec>,
) -> Result<Json<CollectionView>, ApiError> {
    let expected = if_match(&headers)?;
    let info = data
        .update_collection(&access, &name, draft(body)?, expected, &ctx)
        .await?;
    Ok(Json(view(&info)?))
}

/// Deletes a collection and all its records (manager and up).
#[utoipa::path(delete, path = "/v1/tenants/{t}/collections/{name}", tag = "collections", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_collection(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    data.delete_collection(&access, &name, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
