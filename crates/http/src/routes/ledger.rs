//! `/v1/tenants/{t}/ledger/*`: accounts, their postings, and transfers.
//!
//! Amounts travel as decimal strings at the account's scale. A transfer
//! moves money, so it must carry an `Idempotency-Key`: a replay with the
//! same body answers the first answer again, the same key with another body
//! is a 422, and the same key while the first request is still running is a
//! 409 with `Retry-After`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkhead_api_types::{
    AccountList, AccountView, BalanceQuery, BalanceView, CreateAccountRequest, CreateGrantRequest,
    CreateTransferRequest, PageQuery, PostingList, PostingView, Problem, TransferView,
};
use bulkhead_domain::ledger::{Amount, Scale};
use bulkhead_domain::{LedgerAccountId, UserId};
use bulkhead_service::Ledger;
use bulkhead_service::ledger::{
    GrantRequest, OpenAccount, TransferAnswer, TransferRequest, scale_of,
};
use bulkhead_store::ledger::{LedgerAccount, Posting};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppJson, Ctx, Tenant, cursor, idempotency_key, page_limit};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_account, list_accounts))
        .routes(routes!(get_account))
        .routes(routes!(account_entries))
        .routes(routes!(account_balance))
        .routes(routes!(create_transfer))
        .routes(routes!(create_grant))
}

/// The request's `Idempotency-Key`, which a request that moves money must
/// carry.
pub(super) fn required_idempotency_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    idempotency_key(headers)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "This request moves money: send an Idempotency-Key header so that a retry cannot move it twice.",
        )
    })
}

fn account_view(account: &LedgerAccount) -> Result<AccountView, ApiError> {
    let scale = scale_of(account)?;
    Ok(AccountView {
        id: *account.id.as_uuid(),
        name: account.name.clone(),
        currency: account.currency.clone(),
        scale: account.scale,
        balance: Amount::from_minor(account.balance).format(scale),
        available: Amount::from_minor(account.available()).format(scale),
        owner_id: account.owner_id.map(|owner| *owner.as_uuid()),
        limit_profile: account.limit_profile.clone(),
        unlimited: account.unlimited,
        allow_negative: account.allow_negative,
        created_at: account.created_at,
    })
}

fn posting_view(posting: &Posting, scale: Scale) -> PostingView {
    PostingView {
        seq: posting.seq,
        transfer_id: *posting.transfer_id.as_uuid(),
        kind: posting.kind.as_str().to_owned(),
        counterparty: *posting.counterparty.as_uuid(),
        amount: Amount::from_minor(posting.amount).format(scale),
        balance_after: Amount::from_minor(posting.balance_after).format(scale),
        memo: posting.memo.clone(),
        created_at: posting.created_at,
    }
}

/// Opens an account (`ledger.admin`).
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/accounts", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "validation_failed: name, currency, scale or owner_id", body = Problem)))]
async fn open_account(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<CreateAccountRequest>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let request = OpenAccount {
        name: &body.name,
        currency: &body.currency,
        scale: body.scale,
        owner_id: body.owner_id.map(UserId::from_uuid),
        allow_negative: body.allow_negative,
        unlimited: body.unlimited,
        limit_profile: body.limit_profile.as_deref(),
    };
    let account = ledger.open_account(&access, &request, &ctx).await?;
    Ok((StatusCode::CREATED, Json(account_view(&account)?)))
}

/// The accounts the caller may see (their own; every account with
/// `ledger.read`), oldest first.
#[utoipa::path(get, path = "/v1/tenants/{t}/ledger/accounts", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), PageQuery),
    responses((status = 200, body = AccountList), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn list_accounts(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Query(query): Query<PageQuery>,
) -> Result<Json<AccountList>, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = cursor::<LedgerAccountId>(query.cursor.as_deref())?;
    let page = ledger.accounts(&access, after, limit, &ctx).await?;
    let items = page
        .items
        .iter()
        .map(account_view)
        .collect::<Result<_, _>>()?;
    Ok(Json(AccountList {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// One account, with its balance and what is available of it.
#[utoipa::path(get, path = "/v1/tenants/{t}/ledger/accounts/{id}", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the account's id")),
    responses((status = 200, body = AccountView), (status = 404, description = "account_not_found", body = Problem)))]
async fn get_account(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<AccountView>, ApiError> {
    let id = account_id(&id)?;
    let account = ledger.account(&access, id, &ctx).await?;
    Ok(Json(account_view(&account)?))
}

/// The account's postings, newest first.
#[utoipa::path(get, path = "/v1/tenants/{t}/ledger/accounts/{id}/entries", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the account's id"), PageQuery),
    responses((status = 200, body = PostingList), (status = 400, body = Problem), (status = 404, description = "account_not_found", body = Problem)))]
async fn account_entries(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Json<PostingList>, ApiError> {
    let id = account_id(&id)?;
    let limit = page_limit(query.limit)?;
    let before = cursor::<i64>(query.cursor.as_deref())?;
    let statement = ledger.statement(&access, id, before, limit, &ctx).await?;
    let scale = scale_of(&statement.account)?;
    Ok(Json(PostingList {
        items: statement
            .postings
            .items
            .iter()
            .map(|posting| posting_view(posting, scale))
            .collect(),
        next_cursor: statement.postings.next_cursor,
    }))
}

/// The account's balance as of a time: after the newest of its postings
/// made by then.
#[utoipa::path(get, path = "/v1/tenants/{t}/ledger/accounts/{id}/balance", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("id" = Uuid, Path, description = "the account's id"), BalanceQuery),
    responses((status = 200, body = BalanceView), (status = 400, body = Problem), (status = 404, description = "account_not_found", body = Problem)))]
async fn account_balance(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<BalanceQuery>,
) -> Result<Json<BalanceView>, ApiError> {
    let id = account_id(&id)?;
    let found = ledger.balance_at(&access, id, query.at, &ctx).await?;
    Ok(Json(BalanceView {
        account: *found.account.id.as_uuid(),
        at: found.at,
        balance: Amount::from_minor(found.balance).format(scale_of(&found.account)?),
        seq: found.seq,
    }))
}

/// Moves an amount from one account to another of the same currency and
/// scale: from the caller's own account (`ledger.transfer`) or from any
/// (`ledger.admin`).
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/transfers", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"),
        ("Idempotency-Key" = String, Header, description = "required: a replay returns the first answer")),
    request_body = CreateTransferRequest,
    responses((status = 201, body = TransferView),
        (status = 400, description = "idempotency_key_required", body = Problem),
        (status = 403, body = Problem), (status = 404, description = "account_not_found: the source", body = Problem),
        (status = 409, description = "idempotency_key_in_flight: the first request with this key has not finished; retry after Retry-After", body = Problem),
        (status = 422, description = "insufficient_funds, currency_mismatch, same_account, balance_overflow, validation_failed (amount, to, memo: also `reason_required` when an admin moves money out of an account someone else owns) or idempotency_key_reused", body = Problem)))]
async fn create_transfer(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    AppJson(body): AppJson<CreateTransferRequest>,
) -> Result<Response, ApiError> {
    let key = required_idempotency_key(&headers)?;
    let request = TransferRequest {
        from: LedgerAccountId::from_uuid(body.from),
        to: LedgerAccountId::from_uuid(body.to),
        amount: &body.amount,
        memo: body.memo.as_deref(),
    };
    let sent = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let answer = ledger.transfer(&access, &request, key, &sent, &ctx).await?;
    let (TransferAnswer::Posted(body) | TransferAnswer::Replayed(body)) = answer;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Credits an account from the tenant's house account of its currency
/// (`ledger.admin`), with a reason for the audit log.
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/grants", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"),
        ("Idempotency-Key" = String, Header, description = "required: a replay returns the first answer")),
    request_body = CreateGrantRequest,
    responses((status = 201, body = TransferView),
        (status = 400, description = "idempotency_key_required", body = Problem),
        (status = 403, body = Problem), (status = 404, description = "account_not_found", body = Problem),
        (status = 422, description = "validation_failed (amount, reason, account), balance_overflow or idempotency_key_reused", body = Problem)))]
async fn create_grant(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    AppJson(body): AppJson<CreateGrantRequest>,
) -> Result<Response, ApiError> {
    let key = required_idempotency_key(&headers)?;
    let request = GrantRequest {
        account: LedgerAccountId::from_uuid(body.account),
        amount: &body.amount,
        reason: &body.reason,
    };
    let sent = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let answer = ledger.grant(&access, &request, key, &sent, &ctx).await?;
    let (TransferAnswer::Posted(body) | TransferAnswer::Replayed(body)) = answer;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// An account id from the path; one that is not an id names no account.
fn account_id(text: &str) -> Result<LedgerAccountId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::from(bulkhead_service::ServiceError::NotFound(
            "account_not_found",
        ))
    })
}
