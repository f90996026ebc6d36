//! The whole application: routes, fallbacks and the middleware stack.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower::ServiceExt as _;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{method_not_allowed, not_found};
use crate::{AppState, cors, edge, health, middleware, openapi, prometheus, routes};

/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Every documented route.
pub fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(prometheus::router())
        .merge(routes::v1())
}

/// Builds the application.
///
/// The routes sit inside an outer router so that a tenant named by the
/// request's host is written into the path before routing. Layers are
/// listed innermost first; each `.layer` wraps everything above it.
/// Security headers are outermost so that every answer carries them,
/// including errors made by other layers; the request id comes next so the
/// trace span can record it. CORS sits inside the trace, so preflights are
/// logged, and outside problem+json, so error answers carry its headers too
/// and a page can read why it was refused. Request metrics, when on, are
/// taken outside all of these but the request id and security headers, so
/// they count every answer, layers' refusals included; the route template
/// they are labelled with is noted by a layer on the routes, where the
/// router has matched it.
pub fn router(state: AppState) -> Router {
    let routes = openapi::split(documented_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Extractors buffer at most this much, and the limit layer refuses
        // larger bodies (by Content-Length up front, or while streaming).
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // The extractors count requests against the rate limits; this
        // writes the RateLimit-* headers of their answers.
        .layer(axum::middleware::from_fn(middleware::rate_limit::apply));
    let routes = match &state.metrics {
        Some(_) => routes.layer(axum::middleware::from_fn(
            middleware::metrics::capture_route,
        )),
        None => routes,
    };
    let routes = routes.with_state(state.clone());
    let edge_settings = state.edge.clone();
    let routes =
        routes.map_request(move |request| edge::rewrite_tenant_host(&edge_settings, request));
    let app = Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn(middleware::problem::normalize));
    let app = match cors::layer(&state.edge.cors_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    let app = app.layer(middleware::trace::layer());
    let app = match &state.metrics {
        Some(metrics) => app.layer(axum::middleware::from_fn_with_state(
            metrics.requests().clone(),
            middleware::metrics::record,
        )),
        None => app,
    };
    app.layer(axum::middleware::from_fn(middleware::request_id::assign))
        .layer(axum::middleware::from_fn(
            middleware::security_headers::apply,
        ))
}
