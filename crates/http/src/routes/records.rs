//! `/v1/tenants/{t}/collections/{name}/records*`.
//!
//! Records carry their version as an `ETag`; `If-Match: <version>` makes
//! writes conditional (412 on mismatch). `Idempotency-Key` on create
//! returns the first answer on a replay.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkhead_api_types::{Problem, RecordList, RecordQuery, RecordView};
use bulkhead_domain::RecordId;
use bulkhead_service::Data;
use bulkhead_service::records::{ListRequest, RecordCreated, RecordWrite};
use bulkhead_store::Record;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::etag::{if_match, tag};
use crate::extract::{AppJson, Ctx, Tenant, idempotency_key, page_limit};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_record, list_records))
        .routes(routes!(
            get_record,
            replace_record,
            patch_record,
            delete_record
        ))
}

/// An idempotent replay of a create: the answer stored the first time (a
/// tree), with its version as the `ETag`.
fn replayed(body: serde_json::Value) -> Response {
    let version = body.get("version").and_then(serde_json::Value::as_i64);
    tag((StatusCode::CREATED, Json(body)).into_response(), version)
}

/// The record, written by the views' fast writer (the bytes printing its
/// tree would give, without parsing the stored document into one), with
/// its version as the `ETag`.
fn record_response(status: StatusCode, record: &Record) -> Response {
    tag(
        (status, json_bytes(views::record_bytes(record))).into_response(),
        Some(record.version),
    )
}

/// JSON already written (by the views' record writers) as a response.
fn json_bytes(body: Vec<u8>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Creates a record owned by the caller.
#[utoipa::path(post, path = "/v1/tenants/{t}/collections/{name}/records", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"),
        ("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    request_body = Object,
    responses((status = 201, body = RecordView), (status = 403, description = "forbidden, or quota_exceeded: `quota` names the plan's limit", body = Problem), (status = 404, body = Problem),
        (status = 409, description = "idempotency_key_in_flight: the first request with this key has not finished; retry after Retry-After", body = Problem),
        (status = 422, description = "validation_failed or idempotency_key_reused", body = Problem)))]
async fn create_record(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(&headers)?;
    Ok(
        match data
            .create_record(&access, &name, &body, idempotency_key, &ctx)
            .await?
        {
            RecordCreated::New(record) => record_response(StatusCode::CREATED, &record),
            RecordCreated::Replayed(body) => replayed(body),
        },
    )
}

/// Records matching `filter`, in `sort` order, a page at a time.
#[utoipa::path(get, path = "/v1/tenants/{t}/collections/{name}/records", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"), RecordQuery),
    responses((status = 200, body = RecordList), (status = 400, description = "invalid_filter, invalid_sort or invalid_cursor", body = Problem), (status = 404, body = Problem)))]
async fn list_records(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name)): Path<(String, String)>,
    Query(query): Query<RecordQuery>,
) -> Result<Response, ApiError> {
    let request = ListRequest {
        filter: query.filter.as_deref(),
        sort: query.sort.as_deref(),
        cursor: query.cursor.as_deref(),
        limit: page_limit(query.limit)?,
    };
    let page = data.list_records(&access, &name, &request, &ctx).await?;
    Ok(json_bytes(views::record_page_bytes(&page)))
}

/// One record; 404 for a record of another tenant or one the caller may not see.
#[utoipa::path(get, path = "/v1/tenants/{t}/collections/{name}/records/{id}", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"), ("id" = Uuid, Path, description = "the record's id")),
    responses((status = 200, body = RecordView), (status = 404, body = Problem)))]
async fn get_record(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name, id)): Path<(String, String, Uuid)>,
) -> Result<Response, ApiError> {
    let record = data
        .get_record(&access, &name, RecordId::from_uuid(id), &ctx)
        .await?;
    Ok(record_response(StatusCode::OK, &record))
}

async fn write(
    data: Data,
    access: bulkhead_service::TenantAccess,
    ctx: bulkhead_service::RequestContext,
    (name, id): (String, Uuid),
    headers: &HeaderMap,
    body: serde_json::Value,
    patch: bool,
) -> Result<Response, ApiError> {
    let request = RecordWrite {
        data: &body,
        patch,
        expected_version: if_match(headers)?,
    };
    let record = data
        .write_record(&access, &name, RecordId::from_uuid(id), &request, &ctx)
        .await?;
    Ok(record_response(StatusCode::OK, &record))
}

/// Replaces a record's fields.
#[utoipa::path(put, path = "/v1/tenants/{t}/collections/{name}/records/{id}", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"), ("id" = Uuid, Path, description = "the record's id"),
        ("If-Match" = Option<String>, Header, description = "the expected version")),
    request_body = Object,
    responses((status = 200, body = RecordView), (status = 403, description = "forbidden, or quota_exceeded: `quota` names the plan's limit", body = Problem), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn replace_record(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name, id)): Path<(String, String, Uuid)>,
    headers: HeaderMap,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    write(data, access, ctx, (name, id), &headers, body, false).await
}

/// Changes some of a record's fields; `null` clears an optional one.
#[utoipa::path(patch, path = "/v1/tenants/{t}/collections/{name}/records/{id}", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"), ("id" = Uuid, Path, description = "the record's id"),
        ("If-Match" = Option<String>, Header, description = "the expected version")),
    request_body = Object,
    responses((status = 200, body = RecordView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn patch_record(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name, id)): Path<(String, String, Uuid)>,
    headers: HeaderMap,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    write(data, access, ctx, (name, id), &headers, body, true).await
}

/// Deletes a record.
#[utoipa::path(delete, path = "/v1/tenants/{t}/collections/{name}/records/{id}", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the collection's name"), ("id" = Uuid, Path, description = "the record's id"),
        ("If-Match" = Option<String>, Header, description = "the expected version")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn delete_record(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name, id)): Path<(String, String, Uuid)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    data.delete_record(
        &access,
        &name,
        RecordId::from_uuid(id),
        if_match(&headers)?,
        &ctx,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
