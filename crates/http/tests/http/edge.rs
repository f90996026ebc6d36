//! Deployment-dependent request facts: client addresses behind proxies and
//! tenants named by subdomain.

use axum::http::{Method, StatusCode};
use bulkhead_http::EdgeSettings;
use serde_json::json;

use crate::support::{TestApp, TestResponse};

const PASSWORD: &str = "correct horse battery";

async fn failed_login(app: &TestApp, peer: &str, email: &str, forwarded_for: &str) -> StatusCode {
    let body = json!({ "email": email, "password": "wrong password here" });
    app.json_from(
        peer,
        Method::POST,
        "/v1/auth/login",
        &[("x-forwarded-for", forwarded_for)],
        body,
    )
    .await
    .status
}

/// Account `n`'s failed login from 192.0.2.10, which says it forwards
/// for 203.0.113.`n`: a different account and client each time.
async fn numbered_failed_login(app: &TestApp, n: u32) -> StatusCode {
    let (email, client) = (format!("u{n}@example.com"), format!("203.0.113.{n}"));
    failed_login(app, "192.0.2.10", &email, &client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_throttle_key() {
    let app = TestApp::new();
    // Five different accounts, so only the per-address budget can run out,
    // each attempt claiming to come from somewhere else.
    for i in 0..5 {
        let status = numbered_failed_login(&app, i).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = failed_login(&app, "192.0.2.10", "u9@example.com", "203.0.113.99").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the peer address was throttled, whatever the header said"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_forwards_the_client_address() {
    let edge = EdgeSettings {
        trusted_proxies: vec!["192.0.2.10".parse().unwrap()],
        ..EdgeSettings::default()
    };
    let app = TestApp::with_edge(edge);
    for i in 0..6 {
        // Every attempt through the same proxy, from a different client.
        let status = numbered_failed_login(&app, i).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_subdomain_addresses_that_tenant_for_its_members_only() {
    let edge = EdgeSettings {
        tenant_host: Some("{slug}.example.com".parse().unwrap()),
        ..EdgeSettings::default()
    };
    let app = TestApp::with_edge(edge);
    let signup = |email: &'static str| {
        let app = &app;
        async move {
            let body = json!({ "email": email, "password": PASSWORD });
            let response = app
                .json_from("192.0.2.1", Method::POST, "/v1/auth/signup", &[], body)
                .await;
            assert_eq!(response.status, StatusCode::CREATED);
            format!(
                "Bearer {}",
                response.json()["access_token"].as_str().unwrap()
            )
        }
    };
    let ada = signup("ada@example.com").await;
    let bob = signup("bob@example.com").await;
    let create = json!({ "slug": "acme", "name": "Acme" });
    let response = app
        .json_from(
            "192.0.2.1",
            Method::POST,
            "/v1/tenants",
            &[("authorization", &ada)],
            create,
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED);

    let members = get_on_acme_host(&app, &ada, "/v1/members").await;
    assert_eq!(
        members.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&members.body)
    );
    assert_eq!(
        members.json()["items"][0]["user"]["email"],
        "ada@example.com"
    );

    let outsider = get_on_acme_host(&app, &bob, "/v1/members").await;
    outsider.assert_problem(StatusCode::NOT_FOUND, "tenant_not_found");
    // Global paths stay global on a tenant host.
    let me = get_on_acme_host(&app, &bob, "/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
}

/// A GET on the tenant's own host, as the holder of `bearer`.
async fn get_on_acme_host(app: &TestApp, bearer: &str, path: &str) -> TestResponse {
    let headers = [("authorization", bearer), ("host", "acme.example.com")];
    app.json_from("192.0.2.1", Method::GET, path, &headers, json!(null))
        .await
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_of_the_router() {
    let app = TestApp::new();
    let document = app.get("/openapi.json").await.json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/auth/signup", &["post"][..]),
        ("/v1/auth/login", &["post"]),
        ("/v1/auth/refresh", &["post"]),
        ("/v1/auth/logout", &["post"]),
        ("/v1/me", &["get"]),
        ("/v1/me/sessions", &["get"]),
        ("/v1/me/sessions/{id}", &["delete"]),
        ("/v1/tenants", &["get", "post"]),
        ("/v1/tenants/{t}", &["get", "patch", "delete"]),
        ("/v1/tenants/{t}/members", &["get"]),
        ("/v1/tenants/{t}/members/{user_id}", &["patch", "delete"]),
        ("/v1/tenants/{t}/invitations", &["post"]),
        ("/v1/invitations/accept", &["post"]),
        ("/v1/tenants/{t}/api-keys", &["get", "post"]),
        ("/v1/tenants/{t}/api-keys/{id}", &["delete"]),
        ("/v1/tenants/{t}/audit", &["get"]),
        ("/v1/admin/tenants", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
    ] {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is missing"));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path} is missing");
        }
    }
    // And every documented operation answers something other than 404/405
    // for an anonymous caller: the document and the router agree.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let uri = path
                .replace("{t}", "acme")
                .replace("{tenant}", "acme")
                .replace("{id}", "01a2049a-8672-7267-999a-686b292ea18c")
                .replace("{user_id}", "01a2049a-8672-7267-999a-686b292ea18c");
            let method: Method = method.to_uppercase().parse().unwrap();
            let response = app
                .json_from("192.0.2.1", method.clone(), &uri, &[], json!({}))
                .await;
            assert!(
                response.status != StatusCode::NOT_FOUND
                    && response.status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri} is documented but not routed ({})",
                response.status
            );
        }
    }
}
