//! Every error answer is problem+json, whoever produced it.

use axum::http::{Method, StatusCode};

use crate::support::TestApp;

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = TestApp::new();
    let response = app.get("/no/such/thing").await;
    response.assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_that_says_what_is_allowed() {
    let app = TestApp::new();
    let response = app.request(Method::DELETE, "/healthz", Vec::new()).await;
    response.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let allow = response.header("allow").unwrap_or_default();
    assert!(allow.contains("GET"), "allow: {allow}");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_a_413_problem() {
    let app = TestApp::new();
    let response = app
        .request(Method::POST, "/healthz", vec![b'x'; 1024 * 1024 + 1])
        .await;
    response.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn a_body_within_the_limit_reaches_routing() {
    let app = TestApp::new();
    let response = app
        .request(Method::POST, "/nowhere", vec![b'x'; 1024 * 1024])
        .await;
    response.assert_problem(StatusCode::NOT_FOUND, "not_found");
}
