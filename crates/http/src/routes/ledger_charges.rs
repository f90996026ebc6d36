//! `/v1/tenants/{t}/ledger/charges`: metered costs debited to an account
//! times the tenant's markup, paid to the house account of its currency.
//!
//! A charge moves money, so it must carry an `Idempotency-Key`, answered
//! like a transfer's: a replay with the same body answers the first answer
//! again.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkhead_api_types::{ChargeView, CreateChargeRequest, Problem};
use bulkhead_domain::LedgerAccountId;
use bulkhead_service::Ledger;
use bulkhead_service::ledger::{ChargeAnswer, ChargeRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::required_idempotency_key;
use crate::extract::{AppJson, Ctx, Tenant};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_charge))
}

/// Charges a metered cost to an account: the caller's own
/// (`ledger.transfer`) or any (`ledger.admin`). `cost × markup`, rounded
/// half up, moves to the house account; an unlimited account is recorded
/// (`debited: false`), not debited.
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/charges", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"),
        ("Idempotency-Key" = String, Header, description = "required: a replay returns the first answer")),
    request_body = CreateChargeRequest,
    responses((status = 201, body = ChargeView),
        (status = 400, description = "idempotency_key_required", body = Problem),
        (status = 403, body = Problem), (status = 404, description = "account_not_found", body = Problem),
        (status = 409, description = "idempotency_key_in_flight: the first request with this key has not finished; retry after Retry-After", body = Problem),
        (status = 422, description = "insufficient_funds, limit_exceeded, amount_out_of_range, balance_overflow, validation_failed (cost, memo, account) or idempotency_key_reused", body = Problem)))]
async fn create_charge(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    AppJson(body): AppJson<CreateChargeRequest>,
) -> Result<Response, ApiError> {
    let key = required_idempotency_key(&headers)?;
    let request = ChargeRequest {
        account: LedgerAccountId::from_uuid(body.account),
        cost: &body.cost,
        memo: body.memo.as_deref(),
    };
    let sent = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let answer = ledger.charge(&access, &request, key, &sent, &ctx).await?;
    let (ChargeAnswer::Charged(body) | ChargeAnswer::Replayed(body)) = answer;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
