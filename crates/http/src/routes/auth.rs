//! `/v1/auth/*`: sign-up, login, refresh, logout. Each counts against the
//! client address's rate limit ([`AddressLimit`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulkhead_api_types::{LoginRequest, Problem, RefreshRequest, SignupRequest, TokenResponse};
use bulkhead_service::Identity;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AddressLimit, AppJson, Auth, Ctx};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, body = TokenResponse),
        (status = 403, description = "sign-up is closed", body = Problem),
        (status = 409, description = "email_taken", body = Problem),
        (status = 422, description = "validation_failed", body = Problem),
        (status = 429, description = "throttled", body = Problem)))]
async fn signup(
    State(identity): State<Identity>,
    _: AddressLimit,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<SignupRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let tokens = identity
        .signup(
            &body.email,
            &body.password,
            body.display_name.as_deref(),
            &ctx,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::tokens(tokens))))
}

/// Signs in with email and password. An unknown email and a wrong password
/// get the same answer.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "invalid_credentials", body = Problem),
        (status = 429, description = "throttled; see Retry-After", body = Problem)))]
async fn login(
    State(identity): State<Identity>,
    _: AddressLimit,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let tokens = identity.login(&body.email, &body.password, &ctx).await?;
    Ok(Json(views::tokens(tokens)))
}

/// Exchanges a refresh token for a new pair; the old refresh token dies.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "invalid_refresh_token", body = Problem)))]
async fn refresh(
    State(identity): State<Identity>,
    _: AddressLimit,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let tokens = identity.refresh(&body.refresh_token, &ctx).await?;
    Ok(Json(views::tokens(tokens)))
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, description = "forbidden: an API key cannot do this", body = Problem)))]
async fn logout(
    State(identity): State<Identity>,
    _: AddressLimit,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
) -> Result<StatusCode, ApiError> {
    identity.logout(&principal, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
