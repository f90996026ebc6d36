//! The whole application: routes, fallbacks and the middleware stack.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::{method_not_allowed, not_found};
use crate::{AppState, health, middleware};

/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the application.
///
/// Layers are listed innermost first; each `.layer` wraps everything above
/// it. Security headers are outermost so that every answer carries them,
/// including errors made by other layers; the request id comes next so the
/// trace span can record it.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Extractors buffer at most this much, and the limit layer refuses
        // larger bodies (by Content-Length up front, or while streaming).
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(middleware::problem::normalize))
        .layer(middleware::trace::layer())
        .layer(axum::middleware::from_fn(middleware::request_id::assign))
        .layer(axum::middleware::from_fn(
            middleware::security_headers::apply,
        ))
        .with_state(state)
}
