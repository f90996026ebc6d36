//! Liveness and readiness probes.

use axum::http::StatusCode;
use bulkhead_store::Store;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::new();
    let response = app.get("/healthz").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn healthz_does_not_need_the_database() {
    let app = TestApp::new();
    app.store.close().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_ready_when_the_database_does() {
    let app = TestApp::new();
    let response = app.get("/readyz").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({"status": "ready"}));
}

#[tokio::test]
async fn readyz_answers_503_problem_once_the_store_is_closed() {
    let app = TestApp::new();
    let internal = app.store.readiness().await;
    assert!(internal.is_ok());
    app.store.close().await;
    let cause = app.store.readiness().await.unwrap_err().to_string();

    let response = app.get("/readyz").await;

    response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    let body = String::from_utf8(response.body.clone()).unwrap();
    assert!(!body.contains(&cause), "{body} leaks {cause}");
    assert!(!body.to_lowercase().contains("sqlite"), "{body}");
}
