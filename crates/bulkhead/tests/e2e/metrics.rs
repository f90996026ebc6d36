//! `GET /metrics` of the real binary, on both backends: the families the
//! operator relies on are there, requests are labelled by route template
//! and never by the concrete path or tenant, tenant ids appear only when
//! the operator turns tenant labels on, and the endpoint answers only to
//! the metrics token.

use bulkhead_client::Method;
use serde_json::json;

use crate::harness::{Backend, Options, TestServer, request};

const TOKEN: &str = "e2e-metrics-token-0123456789";

/// A server with metrics on (the token in a file of `dir`), and tenant
/// labels if `tenant_labels`.
async fn start(
    backend: Backend,
    dir: &tempfile::TempDir,
    tenant_labels: bool,
) -> Option<TestServer> {
    let token_file = dir.path().join("metrics-token");
    // A trailing newline, as `echo` or an editor leaves it, is not part of it.
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let mut options =
        Options::default().env("BULKHEAD_METRICS_TOKEN_FILE", token_file.to_str().unwrap());
    if tenant_labels {
        options = options.env("BULKHEAD_METRICS_TENANT_LABELS", "true");
    }
    TestServer::start_with(backend, options).await
}

/// The metrics text, scraped with the token.
async fn scrape(server: &TestServer) -> String {
    let response = request(
        &server.anon.with_token(TOKEN),
        Method::GET,
        "/metrics",
        None,
    )
    .await;
    assert_eq!(response.status, 200);
    let content_type = response.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    String::from_utf8(response.body.to_vec()).unwrap()
}

/// The value of the sample of `family` whose labels include every one of
/// `labels` (`name="value"`), if there is one.
fn sample(text: &str, family: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
}

#[track_caller]
fn expect_sample(text: &str, family: &str, labels: &[&str]) -> f64 {
    sample(text, family, labels)
        .unwrap_or_else(|| panic!("no {family} sample with {labels:?} in:\n{text}"))
}

scenario!(metrics_name_route_templates_and_never_tenants, backend);

async fn metrics_name_route_templates_and_never_tenants(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(backend, &dir, false).await else {
        return;
    };
    let owner = server.signup("metrics-owner@example.com").await;
    let tenant = server.create_tenant(&owner, "metrics-acme").await;
    let members = owner
        .send(Method::GET, "/v1/tenants/metrics-acme/members", None)
        .await;
    assert_eq!(members.status, 200);
    // Refusals, a failed login and a path no route has.
    assert_eq!(
        request(&server.anon, Method::GET, "/v1/me", None)
            .await
            .status,
        401
    );
    let login =
        json!({ "email": "metrics-owner@example.com", "password": "not the password at all" });
    assert_eq!(
        request(&server.anon, Method::POST, "/v1/auth/login", Some(login))
            .await
            .status,
        401
    );
    let unmatched = format!("/v1/nothing/{}", tenant.id);
    assert_eq!(
        request(&server.anon, Method::GET, &unmatched, None)
            .await
            .status,
        404
    );
    // An event stream, open while scraping.
    let stream = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/tenants/metrics-acme/events",
            server.server.addr
        ))
        .bearer_auth(&owner.tokens.access_token)
        .send()
        .await
        .unwrap();
    crate::contract::check_unread(
        "GET",
        stream.url(),
        stream.status().as_u16(),
        stream.headers(),
    );
    assert_eq!(stream.status(), 200);

    // Only the token opens it.
    for client in [
        server.anon.clone(),
        server.anon.with_token("not-the-metrics-token-at-all"),
    ] {
        let refused = request(&client, Method::GET, "/metrics", None).await;
        assert_eq!(refused.status, 401);
    }
    let text = scrape(&server).await;

    let members_label = r#"route="/v1/tenants/{t}/members""#;
    let ok = expect_sample(
        &text,
        "bulkhead_http_requests_total",
        &[r#"method="GET""#, members_label, r#"status="200""#],
    );
    assert_eq!(ok, 1.0);
    expect_sample(
        &text,
        "bulkhead_http_requests_total",
        &[
            r#"method="POST""#,
            r#"route="/v1/tenants""#,
            r#"status="201""#,
        ],
    );
    expect_sample(
        &text,
        "bulkhead_http_requests_total",
        &[r#"route="unmatched""#, r#"status="404""#],
    );
    let timed = expect_sample(
        &text,
        "bulkhead_http_request_duration_seconds_count",
        &[r#"method="GET""#, members_label],
    );
    assert_eq!(timed, 1.0);
    expect_sample(
        &text,
        "bulkhead_http_request_duration_seconds_bucket",
        &[members_label, r#"le="+Inf""#],
    );
    // Two scrapes without the token, and GET /v1/me.
    let refused = expect_sample(
        &text,
        "bulkhead_http_refusals_total",
        &[r#"code="unauthenticated""#],
    );
    assert_eq!(refused, 3.0);
    let failed = expect_sample(
        &text,
        "bulkhead_login_failures_total",
        &[r#"reason="invalid_credentials""#],
    );
    assert_eq!(failed, 1.0);
    assert_eq!(
        expect_sample(&text, "bulkhead_realtime_subscribers", &[]),
        1.0
    );
    let pool = match backend {
        Backend::Sqlite => r#"pool="sqlite_readers""#,
        Backend::Postgres => r#"pool="postgres""#,
    };
    assert!(expect_sample(&text, "bulkhead_db_pool_max_connections", &[pool]) >= 1.0);
    expect_sample(
        &text,
        "bulkhead_db_pool_connections",
        &[pool, r#"state="idle""#],
    );
    expect_sample(
        &text,
        "bulkhead_db_pool_connections",
        &[pool, r#"state="in_use""#],
    );
    let group_commits = sample(
        &text,
        "bulkhead_sqlite_group_commit_transactions_count",
        &[],
    );
    match backend {
        // Sign-up and the new tenant at least.
        Backend::Sqlite => assert!(group_commits.is_some_and(|n| n >= 2.0), "{text}"),
        Backend::Postgres => assert_eq!(group_commits, None),
    }

    // Never the concrete path, the slug or the tenant's id.
    for concrete in ["metrics-acme", &tenant.id.to_string(), "/v1/nothing"] {
        assert!(
            !text.contains(concrete),
            "{concrete} is in the metrics:\n{text}"
        );
    }
    assert!(!text.contains("tenant="), "{text}");
    drop(stream);
}

scenario!(
    tenant_labels_name_the_resolved_tenant_when_turned_on,
    backend
);

async fn tenant_labels_name_the_resolved_tenant_when_turned_on(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(backend, &dir, true).await else {
        return;
    };
    let owner = server.signup("labelled-owner@example.com").await;
    let tenant = server.create_tenant(&owner, "labelled").await;
    let members = owner
        .send(Method::GET, "/v1/tenants/labelled/members", None)
        .await;
    assert_eq!(members.status, 200);
    // An outsider naming the tenant resolves nothing: no label for it.
    let outsider = server.signup("labelled-outsider@example.com").await;
    let refused = outsider
        .send(Method::GET, "/v1/tenants/labelled/members", None)
        .await;
    assert_eq!(refused.status, 404);
    let text = scrape(&server).await;

    let tenant_label = format!(r#"tenant="{}""#, tenant.id);
    let labelled = expect_sample(
        &text,
        "bulkhead_http_requests_total",
        &[
            r#"route="/v1/tenants/{t}/members""#,
            r#"status="200""#,
            &tenant_label,
        ],
    );
    assert_eq!(labelled, 1.0);
    let outsider_line = sample(
        &text,
        "bulkhead_http_requests_total",
        &[r#"route="/v1/tenants/{t}/members""#, r#"status="404""#],
    );
    assert_eq!(outsider_line, Some(1.0));
    assert_eq!(
        sample(
            &text,
            "bulkhead_http_requests_total",
            &[r#"status="404""#, "tenant="],
        ),
        None,
        "{text}"
    );
    // The histogram stays per route: tenants would multiply its buckets.
    assert!(
        !text.lines().any(
            |line| line.starts_with("bulkhead_http_request_duration_seconds")
                && line.contains("tenant=")
        ),
        "{text}"
    );
    assert!(
        !text.contains("labelled\""),
        "the slug is never a label:\n{text}"
    );
}
