//! The OpenAPI 3.1 document, generated from the routes themselves: a route
//! exists in the router only if its handler is listed with its
//! `#[utoipa::path]`, so the document cannot miss one. The error answers
//! that shared parts of the server give are added by [`answers`].

mod answers;

use axum::Json;
use axum::routing::get;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Bulkhead", description = "A multi-tenant backend: tenants, users, roles, sessions, API keys, audit, collections and a ledger."),
    modifiers(&BearerAuth),
    // Relative: the document describes the server that serves it.
    servers((url = "/", description = "The server this document came from")),
    tags(
        (name = "auth", description = "Sign-up, login, refresh, logout"),
        (name = "me", description = "The signed-in user"),
        (name = "tenants", description = "Tenants the caller belongs to"),
        (name = "members", description = "Who belongs to a tenant, with which role"),
        (name = "invitations", description = "Bringing someone into a tenant"),
        (name = "api_keys", description = "A tenant's keys for programs"),
        (name = "audit", description = "A tenant's audit log"),
        (name = "collections", description = "A tenant's typed collections"),
        (name = "records", description = "Records of a collection, and their live changes"),
        (name = "ledger", description = "A tenant's ledger: accounts, transfers and their postings"),
        (name = "admin", description = "Platform administration (audited)"),
        (name = "ops", description = "Probes, metrics and this document"),
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
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token in the server's metrics token file (--metrics-token-file)",
                    ))
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
        .operation_id(Some("openapi"))
        .summary(Some("This document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The OpenAPI 3.1 document of this server")
                .content(
                    "application/json",
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::Object))),
                ),
        )
        .build();
    document
        .paths
        .add_path_operation("/openapi.json", vec![HttpMethod::Get], operation);
    answers::add(&mut document);
    document
}
