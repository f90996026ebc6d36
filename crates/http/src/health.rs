//! Probes: `/healthz` says the process is alive, `/readyz` that it can serve.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState};

/// A readiness probe that hangs is as bad as one that fails; give up well
/// before a typical orchestrator's probe timeout.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub status: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Alive: answers without touching the database, so a slow database never
/// gets a healthy process restarted.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Status)))]
async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Ready: the database answers and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Status), (status = 503, description = "not_ready")))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    match tokio::time::timeout(READINESS_TIMEOUT, state.store().readiness()).await {
        Ok(Ok(())) => Ok(Json(Status { status: "ready" })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            Err(ApiError::not_ready())
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = READINESS_TIMEOUT.as_millis() as u64,
                "readiness check timed out"
            );
            Err(ApiError::not_ready())
        }
    }
}
