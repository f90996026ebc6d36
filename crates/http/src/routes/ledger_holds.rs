//! `/v1/tenants/{t}/ledger/holds*`: amounts reserved on an account, then
//! captured (to the tenant's house account of the currency) or released.
//!
//! Placing a hold moves no money yet but reserves it, so it takes an
//! `Idempotency-Key` like a transfer. Capturing or releasing a hold that is
//! no longer open answers 409 (`hold_expired`, `hold_settled`), which makes
//! retrying them safe without a key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkhead_api_types::{
    CaptureHoldRequest, CreateHoldRequest, HoldView, Problem, SettledHoldView,
};
use bulkhead_domain::{HoldId, LedgerAccountId};
use bulkhead_service::Ledger;
use bulkhead_service::ledger::{HoldAnswer, HoldRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::required_idempotency_key;
use crate::extract::{AppJson, Ctx, Tenant};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_hold))
        .routes(routes!(get_hold))
        .routes(routes!(capture_hold))
        .routes(routes!(release_hold))
}

/// A hold id from the path; one that is not an id names no hold.
fn hold_id(text: &str) -> Result<HoldId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::from(bulkhead_service::ServiceError::NotFound("hold_not_found")))
}

/// Reserves part of an account's available balance: the caller's own
/// account (`ledger.transfer`) or any (`ledger.admin`).
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/holds", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"),
        ("Idempotency-Key" = String, Header, description = "required: a replay returns the first answer")),
    request_body = CreateHoldRequest,
    responses((status = 201, body = HoldView),
        (status = 400, description = "idempotency_key_required", body = Problem),
        (status = 403, body = Problem), (status = 404, description = "account_not_found", body = Problem),
        (status = 422, description = "insufficient_funds, limit_exceeded, validation_failed (amount, expires_in_seconds, memo) or idempotency_key_reused", body = Problem)))]
async fn place_hold(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    AppJson(body): AppJson<CreateHoldRequest>,
) -> Result<Response, ApiError> {
    let key = required_idempotency_key(&headers)?;
    let request = HoldRequest {
        account: LedgerAccountId::from_uuid(body.account),
        amount: &body.amount,
        expires_in_seconds: body.expires_in_seconds,
        memo: body.memo.as_deref(),
    };
    let sent = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let answer = ledger
        .place_hold(&access, &request, key, &sent, &ctx)
        .await?;
    let (HoldAnswer::Placed(body) | HoldAnswer::Replayed(body)) = answer;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// One hold, with its status now.
#[utoipa::path(get, path = "/v1/tenants/{t}/ledger/holds/{id}", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the hold's id")),
    responses((status = 200, body = HoldView), (status = 404, description = "hold_not_found", body = Problem)))]
async fn get_hold(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let hold = ledger.hold(&access, hold_id(&id)?, &ctx).await?;
    Ok(Json(hold).into_response())
}

/// Captures the hold, all of it or `amount`, to the tenant's house account
/// of the currency, and releases the rest.
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/holds/{id}/capture", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the hold's id")),
    request_body = CaptureHoldRequest,
    responses((status = 200, body = SettledHoldView), (status = 403, body = Problem),
        (status = 404, description = "hold_not_found", body = Problem),
        (status = 409, description = "hold_expired or hold_settled", body = Problem),
        (status = 422, description = "validation_failed (amount beyond the hold), limit_exceeded", body = Problem)))]
async fn capture_hold(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, String)>,
    AppJson(body): AppJson<CaptureHoldRequest>,
) -> Result<Response, ApiError> {
    let settled = ledger
        .settle_hold(&access, hold_id(&id)?, true, body.amount.as_deref(), &ctx)
        .await?;
    Ok(Json(settled).into_response())
}

/// Releases the whole hold.
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/holds/{id}/release", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the hold's id")),
    responses((status = 200, body = SettledHoldView), (status = 403, body = Problem),
        (status = 404, description = "hold_not_found", body = Problem),
        (status = 409, description = "hold_expired or hold_settled", body = Problem)))]
async fn release_hold(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let settled = ledger
        .settle_hold(&access, hold_id(&id)?, false, None, &ctx)
        .await?;
    Ok(Json(settled).into_response())
}
