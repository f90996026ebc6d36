//! Tests of the checker in [`crate::contract`]: it must refuse what the
//! document does not allow, or the end-to-end suite checks nothing.

use serde_json::{Value, json};

use crate::contract::{Answer, Contract, contract, served_document};
use crate::support::Server;

fn answer<'a>(
    method: &'a str,
    path: &'a str,
    status: u16,
    content_type: &'a str,
    body: &'a str,
) -> Answer<'a> {
    Answer {
        method,
        path,
        host_header: false,
        status,
        content_type: Some(content_type),
        body: Some(body.as_bytes()),
    }
}

/// The checker's verdict on an answer to `GET /v1/tenants/acme`.
fn check_get_tenant(status: u16, content_type: &str, body: &str) -> Result<(), String> {
    contract().check(&answer(
        "GET",
        "/v1/tenants/acme",
        status,
        content_type,
        body,
    ))
}

const TENANT_ID: &str = "0191a5b0-0000-7000-8000-000000000001";

fn tenant_view(id: &str) -> String {
    json!({
        "id": id,
        "slug": "acme",
        "name": "Acme",
        "plan": "free",
        "created_at": "2026-01-02T03:04:05Z"
    })
    .to_string()
}

#[test]
fn an_answer_that_fits_its_schema_passes() {
    let body = tenant_view(TENANT_ID);
    let result = check_get_tenant(200, "application/json", &body);
    assert_eq!(result, Ok(()));
}

#[test]
fn a_body_that_breaks_its_schema_is_refused() {
    // Not a uuid where the schema says `format: uuid`.
    let body = tenant_view("not-a-uuid");
    let result = check_get_tenant(200, "application/json", &body);
    assert!(result.is_err(), "{result:?}");
    // A required field missing.
    let result = check_get_tenant(200, "application/json", "{}");
    let mismatch = result.unwrap_err();
    assert!(mismatch.contains("slug"), "{mismatch}");
}

#[test]
fn an_undocumented_status_is_refused() {
    let result = check_get_tenant(418, "application/problem+json", "{}");
    let mismatch = result.unwrap_err();
    assert!(mismatch.contains("418 is not documented"), "{mismatch}");
}

#[test]
fn an_error_sent_as_plain_json_is_refused() {
    let problem = json!({"type": "about:blank", "title": "Not Found", "status": 404,
        "code": "tenant_not_found", "detail": "No such tenant."})
    .to_string();
    let documented = check_get_tenant(404, "application/problem+json", &problem);
    assert_eq!(documented, Ok(()));
    let result = check_get_tenant(404, "application/json", &problem);
    let mismatch = result.unwrap_err();
    assert!(mismatch.contains("came as application/json"), "{mismatch}");
}

#[test]
fn a_success_on_a_path_the_document_lacks_is_refused() {
    let result = contract().check(&answer("GET", "/v1/nowhere", 200, "application/json", "{}"));
    assert!(result.is_err(), "{result:?}");
    let problem = json!({"type": "about:blank", "title": "Not Found", "status": 404,
        "code": "not_found", "detail": "No resource exists at this address."})
    .to_string();
    let result = contract().check(&answer(
        "GET",
        "/v1/nowhere",
        404,
        "application/problem+json",
        &problem,
    ));
    assert_eq!(result, Ok(()));
}

#[test]
fn a_body_where_none_is_documented_is_refused() {
    let result = contract().check(&answer(
        "DELETE",
        "/v1/tenants/acme",
        204,
        "application/json",
        "{}",
    ));
    assert!(result.is_err(), "{result:?}");
}

/// Defect 7 of issue 17 in miniature: a view documented as a request
/// schema that forbids extra properties, plus the fields the view adds.
/// Every real answer failed such a schema; the checker must say so.
#[test]
fn a_view_made_of_a_closed_request_schema_is_refused() {
    let document: Value = json!({
        "openapi": "3.1.0",
        "paths": {"/things/{id}": {"get": {"responses": {"200": {
            "description": "a thing",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingView"}}}
        }}}}},
        "components": {"schemas": {
            "ThingSpec": {"type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {"name": {"type": "string"}}},
            "ThingView": {"allOf": [{"$ref": "#/components/schemas/ThingSpec"},
                {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}]}
        }}
    });
    let checker = Contract::new(&document);
    let body = json!({"name": "x", "version": 1}).to_string();
    let result = checker.check(&answer("GET", "/things/1", 200, "application/json", &body));
    assert!(result.is_err(), "{result:?}");
}

/// The checker uses a document built in process; it must be the one the
/// binary serves.
#[tokio::test]
async fn the_served_document_is_the_one_checked_against() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    let served: Value = server.get("/openapi.json").await.json().await.unwrap();
    assert!(
        served == served_document(),
        "/openapi.json differs from the document the checks use"
    );
}
