//! Request metrics and `/metrics` through the whole router, each test with
//! a recorder of its own (a thread-local one, on a single-threaded
//! runtime, so tests running side by side do not share counts).

use std::future::Future;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bulkhead_http::prometheus::Metrics;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use serde_json::json;

use crate::support::TestApp;

const TOKEN: &str = "metrics-token-for-tests";
const PASSWORD: &str = "a long enough password";

/// Runs `test` with `recorder` as the metrics recorder of its thread.
fn with_recorder<F: Future<Output = ()>>(recorder: &PrometheusRecorder, test: impl FnOnce() -> F) {
    metrics::with_local_recorder(recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test());
    });
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .send(
            Request::get("/metrics")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    String::from_utf8(response.body).unwrap()
}

/// Signs up, creates tenant `slug` and lists its members; the tenant's id.
async fn tenant_traffic(app: &TestApp, slug: &str) -> String {
    let signup = app
        .json_from(
            "192.0.2.1",
            Method::POST,
            "/v1/auth/signup",
            &[],
            json!({ "email": format!("{slug}@example.com"), "password": PASSWORD }),
        )
        .await;
    assert_eq!(signup.status, StatusCode::CREATED);
    let token = format!("Bearer {}", signup.json()["access_token"].as_str().unwrap());
    let auth = [("authorization", token.as_str())];
    let created = app
        .json_from(
            "192.0.2.1",
            Method::POST,
            "/v1/tenants",
            &auth,
            json!({ "slug": slug, "name": slug }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let members = format!("/v1/tenants/{slug}/members");
    let listed = app
        .json_from("192.0.2.1", Method::GET, &members, &auth, json!(null))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    created.json()["id"].as_str().unwrap().to_owned()
}

fn line_with(text: &str, parts: &[&str]) -> bool {
    text.lines()
        .any(|line| parts.iter().all(|part| line.contains(part)))
}

#[test]
fn requests_are_labelled_by_route_template_never_by_path_or_tenant() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = Metrics::new(recorder.handle(), TOKEN, false).unwrap();
    with_recorder(&recorder, || async {
        let app = TestApp::with_metrics(metrics);
        let tenant = tenant_traffic(&app, "metrics-acme").await;
        app.get("/v1/tenants/metrics-acme/members")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        app.get("/no/such/path/01a2049a").await;
        app.send(
            Request::builder()
                .method(Method::from_bytes(b"BREW").unwrap())
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let text = scrape(&app).await;
        assert!(
            line_with(
                &text,
                &[
                    "bulkhead_http_requests_total{",
                    r#"method="GET""#,
                    r#"route="/v1/tenants/{t}/members""#,
                    r#"status="200""#
                ]
            ),
            "{text}"
        );
        assert!(
            line_with(
                &text,
                &[
                    "bulkhead_http_requests_total{",
                    r#"route="unmatched""#,
                    r#"status="404""#
                ]
            ),
            "{text}"
        );
        assert!(
            line_with(
                &text,
                &[
                    "bulkhead_http_requests_total{",
                    r#"method="other""#,
                    r#"route="/healthz""#,
                    r#"status="405""#
                ]
            ),
            "{text}"
        );
        assert!(
            line_with(
                &text,
                &[r#"bulkhead_http_refusals_total{code="unauthenticated"} 1"#]
            ),
            "{text}"
        );
        for concrete in ["metrics-acme", "01a2049a", "BREW", tenant.as_str()] {
            assert!(!text.contains(concrete), "{concrete} is in:\n{text}");
        }
        assert!(!text.contains("tenant="), "{text}");
    });
}

#[test]
fn with_tenant_labels_on_the_request_counters_name_the_resolved_tenant() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = Metrics::new(recorder.handle(), TOKEN, true).unwrap();
    with_recorder(&recorder, || async {
        let app = TestApp::with_metrics(metrics);
        let tenant = tenant_traffic(&app, "labelled").await;
        let text = scrape(&app).await;
        assert!(
            line_with(
                &text,
                &[
                    "bulkhead_http_requests_total{",
                    r#"route="/v1/tenants/{t}/members""#,
                    &format!(r#"tenant="{tenant}""#)
                ]
            ),
            "{text}"
        );
        // A request that resolved no tenant has no tenant label.
        assert!(
            line_with(
                &text,
                &[
                    "bulkhead_http_requests_total{",
                    r#"route="/v1/auth/signup""#
                ]
            ),
            "{text}"
        );
        assert!(
            !line_with(&text, &[r#"route="/v1/auth/signup""#, "tenant="]),
            "{text}"
        );
    });
}

#[test]
fn metrics_need_the_token_and_are_refused_to_everyone_when_off() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = Metrics::new(recorder.handle(), TOKEN, false).unwrap();
    with_recorder(&recorder, || async {
        let app = TestApp::with_metrics(metrics);
        app.get("/metrics")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        let wrong = app
            .send(
                Request::get("/metrics")
                    .header("authorization", "Bearer not-the-metrics-token")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        wrong.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        scrape(&app).await;

        let off = TestApp::new();
        let response = off
            .send(
                Request::get("/metrics")
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        response.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    });
}
