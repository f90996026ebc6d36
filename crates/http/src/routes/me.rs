//! `/v1/me*`: the signed-in user's profile, sessions and password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulkhead_api_types::{ChangePasswordRequest, MeResponse, Problem, SessionList, UserView};
use bulkhead_domain::SessionId;
use bulkhead_service::Identity;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{AppJson, Auth, Ctx};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(change_password))
}

/// The caller and the tenants it belongs to.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = Problem), (status = 403, description = "an API key has no profile", body = Problem)))]
async fn me(
    State(identity): State<Identity>,
    Auth(principal): Auth,
) -> Result<Json<MeResponse>, ApiError> {
    let me = identity.me(&principal).await?;
    Ok(Json(MeResponse {
        user: UserView {
            id: *me.user.as_uuid(),
            email: me.state.email,
            display_name: me.state.display_name,
            created_at: me.state.created_at,
        },
        memberships: me.memberships.iter().map(views::membership).collect(),
    }))
}

/// The caller's sessions, newest first.
#[utoipa::path(get, path = "/v1/me/sessions", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = Problem), (status = 403, description = "forbidden: an API key cannot do this", body = Problem)))]
async fn sessions(
    State(identity): State<Identity>,
    Auth(principal): Auth,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = identity.my_sessions(&principal).await?;
    Ok(Json(SessionList {
        items: sessions
            .iter()
            .map(|(session, current)| views::session(session, *current))
            .collect(),
    }))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/v1/me/sessions/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "a session id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, description = "forbidden: an API key cannot do this", body = Problem),
        (status = 404, description = "session_not_found", body = Problem)))]
async fn revoke_session(
    State(identity): State<Identity>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    identity
        .revoke_my_session(&principal, SessionId::from_uuid(id), &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the caller's password; the current one is required.
#[utoipa::path(post, path = "/v1/me/password", tag = "me", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = Problem), (status = 403, description = "forbidden: an API key cannot do this", body = Problem),
        (status = 422, description = "wrong current password or invalid new one", body = Problem)))]
async fn change_password(
    State(identity): State<Identity>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    identity
        .change_password(
            &principal,
            &body.current_password,
            &body.new_password,
            body.end_other_sessions,
            &ctx,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
