//! The OpenAPI 3.1 document, generated from the routes themselves: a route
//! exists in the router only if its handler is listed with its
//! `#[utoipa::path]`, so the document cannot miss one.

use axum::Json;
use axum::routing::get;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, Response};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Bulkhead", description = "A multi-tenant backend: tenants, users, roles, sessions, API keys and audit."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-up, login, refresh, logout"),
        (name = "me", description = "The signed-in user"),
        (name = "tenants"), (name = "members"), (name = "invitations"), (name = "api_keys"), (name = "audit"),
        (name = "admin", description = "Platform administration (audited)"),
        (name = "ops", description = "Probes and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token or bk_ API key")
                    .description(Some("An access token from login, or an API key"))
                    .build(),
            ),
        );
    }
}

/// Splits the documented router into the axum router and its document, and
/// serves the document at `/openapi.json`.
pub fn split(router: OpenApiRouter<AppState>) -> axum::Router<AppState> {
    let document = std::sync::Arc::new(document(router.clone()));
    let (router, _) = router.split_for_parts();
    router.route(
        "/openapi.json",
        get(move || {
            let document = std::sync::Arc::clone(&document);
            async move { Json((*document).clone()) }
        }),
    )
}

/// The document alone (for tests and tooling), this route included.
pub fn document(router: OpenApiRouter<AppState>) -> OpenApi {
    let (_, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(router)
        .split_for_parts();
    let operation = OperationBuilder::new()
        .tag("ops")
        .summary(Some("This document"))
        .response(
            "200",
            Response::new("The OpenAPI 3.1 document of this server"),
        )
        .build();
    document
        .paths
        .add_path_operation("/openapi.json", vec![HttpMethod::Get], operation);
    document
}
