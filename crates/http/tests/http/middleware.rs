//! Security headers and request ids on every answer.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use uuid::Uuid;

use crate::support::{TestApp, TestResponse};

fn assert_security_headers(response: &TestResponse) {
    assert_eq!(
        response.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        response.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
}

async fn get_with_request_id(app: &TestApp, id: &str) -> TestResponse {
    app.send(
        Request::get("/healthz")
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn security_headers_are_on_successes() {
    let app = TestApp::new();
    let response = app.get("/healthz").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_security_headers(&response);
}

#[tokio::test]
async fn security_headers_are_on_errors() {
    let app = TestApp::new();
    let response = app.get("/missing").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_security_headers(&response);
}

#[tokio::test]
async fn a_sane_request_id_is_echoed() {
    let app = TestApp::new();
    let id = "req_01-ABCdef";
    let response = get_with_request_id(&app, id).await;
    assert_eq!(response.header("x-request-id"), Some(id));

    let longest = "a".repeat(64);
    let response = get_with_request_id(&app, &longest).await;
    assert_eq!(response.header("x-request-id"), Some(longest.as_str()));
}

#[tokio::test]
async fn a_missing_request_id_is_generated_as_a_uuid_v7() {
    let app = TestApp::new();
    let first = app.get("/healthz").await;
    let second = app.get("/missing").await;
    let first = Uuid::parse_str(first.header("x-request-id").unwrap()).unwrap();
    let second = Uuid::parse_str(second.header("x-request-id").unwrap()).unwrap();
    assert_eq!(first.get_version_num(), 7);
    assert_ne!(first, second);
}

#[tokio::test]
async fn an_unsafe_or_long_request_id_is_replaced() {
    let app = TestApp::new();
    for id in ["has space", "semi;colon", &"a".repeat(65), "slash/inside"] {
        let response = get_with_request_id(&app, id).await;
        let echoed = response.header("x-request-id").unwrap();
        assert_ne!(echoed, id);
        assert_eq!(Uuid::parse_str(echoed).unwrap().get_version_num(), 7);
    }
}
