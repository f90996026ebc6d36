//! The error answers that come from shared parts of the server rather than
//! from one handler, added to every operation they can reach.
//!
//! A handler's `#[utoipa::path]` lists the answers particular to it (201,
//! 409 `slug_taken`, 412 `version_mismatch`, …). What an extractor, a layer
//! or the store answers for any route is written once here, so a new route
//! gets it without anyone remembering to copy it:
//!
//! | operation                                   | answer                            | from                    |
//! |---------------------------------------------|-----------------------------------|-------------------------|
//! | requires a bearer credential                | 401 `unauthenticated`             | `Auth`                  |
//! | takes a body                                | 400 `invalid_body`, 413           | `AppJson`, body limit   |
//! | has query or header parameters, or a uuid in its path | 400                     | `Query`, `Path`, handlers |
//! | names a tenant (`{t}`)                       | 403 `tenant_suspended`, 404       | `Tenant`                |
//! | has any other path parameter                | 404                               | the service             |
//! | reads the database (all but [`FROM_MEMORY`])  | 503 `not_ready`                   | `ApiError` from the store |
//! | requires a bearer credential, or is under `/v1/auth/` | 429 `rate_limited`       | `Auth`, `Tenant`, `AddressLimit` |
//!
//! Every answer of a rate-limited operation documents the `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` headers (sent whenever a
//! limit applies), and its 429 `Retry-After` too.
//!
//! Every error answer is `application/problem+json` with the `Problem`
//! schema, since `ApiError` and `middleware::problem` make every one so.
//! Public operations say `security: []` so that a reader (and a linter)
//! can tell "no credential needed" from "forgotten".

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, Object, OpenApi, Ref, RefOr, Response, Type};

use crate::error::PROBLEM_JSON;

/// Operations answered from memory: they never reach the database, so they
/// never answer 503.
const FROM_MEMORY: &[&str] = &["/healthz", "/openapi.json", "/metrics"];

/// Adds the shared answers to every operation of `document`.
pub fn add(document: &mut OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_to_operation(path, operation);
        }
    }
}

fn add_to_operation(path: &str, operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if secured {
        ensure(
            operation,
            401,
            "unauthenticated: no valid bearer token or API key",
        );
    } else {
        operation.security = Some(Vec::new());
    }
    if operation.request_body.is_some() {
        ensure(
            operation,
            400,
            "invalid_body: not JSON, or not of this shape",
        );
        ensure(operation, 413, "payload_too_large: the body is over 1 MiB");
    }
    let parameters = operation.parameters.clone().unwrap_or_default();
    let parsed_parameter = parameters.iter().any(|parameter| {
        matches!(
            parameter.parameter_in,
            ParameterIn::Query | ParameterIn::Header
        ) || (matches!(parameter.parameter_in, ParameterIn::Path) && is_uuid(parameter))
    });
    if parsed_parameter {
        ensure(operation, 400, "bad_request: a parameter is not valid");
    }
    let in_path = |name: &str| {
        parameters
            .iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Path) && p.name == name)
    };
    if in_path("t") {
        ensure(
            operation,
            403,
            "tenant_suspended, or the role does not allow this",
        );
        ensure(
            operation,
            404,
            "tenant_not_found: no such tenant, or the caller is not a member",
        );
    }
    if parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path))
    {
        ensure(operation, 404, "not_found: no such resource");
    }
    if !FROM_MEMORY.contains(&path) {
        ensure(
            operation,
            503,
            "not_ready: the database cannot be reached; see Retry-After",
        );
    }
    let rate_limited = secured || path.starts_with("/v1/auth/");
    if rate_limited {
        ensure(
            operation,
            429,
            "rate_limited: over a rate limit; see Retry-After and the RateLimit-* headers",
        );
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if is_error(status) {
            response.content.clear();
            response
                .content
                .insert(PROBLEM_JSON.to_owned(), problem_content());
        }
        if rate_limited {
            add_rate_limit_headers(response, status == "429");
        }
    }
}

/// The `RateLimit-*` headers (and for a 429, `Retry-After`).
fn add_rate_limit_headers(response: &mut Response, refused: bool) {
    let headers = [
        (
            "RateLimit-Limit",
            "requests allowed per window by the tightest limit that applies",
        ),
        ("RateLimit-Remaining", "requests left in that limit now"),
        (
            "RateLimit-Reset",
            "seconds until that limit is back to full",
        ),
    ];
    for (name, description) in headers {
        response
            .headers
            .entry(name.to_owned())
            .or_insert_with(|| integer_header(description));
    }
    if refused {
        response
            .headers
            .entry("Retry-After".to_owned())
            .or_insert_with(|| integer_header("seconds to wait before sending again"));
    }
}

fn integer_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Object::with_type(Type::Integer))
        .description(Some(description))
        .build()
}

/// Adds `status` with `description` unless the handler already documents
/// it (its own description is more precise).
fn ensure(operation: &mut Operation, status: u16, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(Response::new(description)));
}

fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

fn problem_content() -> Content {
    Content::new(Some(Ref::from_schema_name("Problem")))
}

fn is_uuid(parameter: &utoipa::openapi::path::Parameter) -> bool {
    serde_json::to_value(&parameter.schema)
        .ok()
        .and_then(|schema| schema.get("format").cloned())
        .is_some_and(|format| format == "uuid")
}
