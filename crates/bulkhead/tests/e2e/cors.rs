//! Cross-origin requests from browsers (issue 17, defect 8; RELIABILITY
//! B7): only the origins listed in `BULKHEAD_CORS_ORIGINS` get CORS
//! answers, preflights included; `*` is refused; without the setting the
//! server speaks no CORS at all.
//!
//! CORS is decided before any database work, so the server runs on SQLite.

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::json;

use crate::harness::{Backend, Options, TestServer};
use crate::support::{assert_one_line_failure, bulkhead, run};

const APP: &str = "https://app.example.com";
const DEV: &str = "http://localhost:5173";

async fn start() -> TestServer {
    let options = Options::default().env("BULKHEAD_CORS_ORIGINS", &format!("{APP}, {DEV}"));
    TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap()
}

fn request(server: &TestServer, method: Method, path: &str) -> RequestBuilder {
    server
        .server
        .client
        .request(method, server.server.url(path))
}

/// A browser's preflight for `method` with `headers` from `origin`.
async fn preflight(
    server: &TestServer,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Response {
    request(server, Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

/// The comma-separated values of every `name` header, lower-cased.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(HeaderName::from_bytes(name.as_bytes()).unwrap())
        .iter()
        .flat_map(|value| value.to_str().unwrap().split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

#[track_caller]
fn assert_allowed(headers: &HeaderMap, origin: &str) {
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(origin),
        "{headers:?}"
    );
    // Bearer tokens travel in a header the page sets itself: the API never
    // asks browsers to send cookies, so credentials mode stays off.
    assert!(
        !headers.contains_key("access-control-allow-credentials"),
        "{headers:?}"
    );
    assert!(
        list(headers, "vary").contains(&"origin".to_owned()),
        "{headers:?}"
    );
}

/// No origin is allowed: what a browser needs to let the page read the
/// answer is missing. (Other CORS headers may be there; they mean nothing
/// to a browser without this one.)
#[track_caller]
fn assert_no_cors(headers: &HeaderMap) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
    ] {
        assert!(!headers.contains_key(name), "{name}: {headers:?}");
    }
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_allows_the_methods_and_headers_the_api_uses() {
    let server = start().await;
    let requested = "authorization, content-type, if-match, idempotency-key, last-event-id";

    let response = preflight(
        &server,
        "/v1/tenants/acme/collections/notes/records/1",
        APP,
        "PATCH",
        requested,
    )
    .await;

    assert!(
        matches!(response.status().as_u16(), 200 | 204),
        "{}",
        response.status()
    );
    let headers = response.headers();
    assert_allowed(headers, APP);
    let methods = list(headers, "access-control-allow-methods");
    for method in ["get", "post", "put", "patch", "delete"] {
        assert!(
            methods.contains(&method.to_owned()),
            "{method}: {methods:?}"
        );
    }
    let allowed = list(headers, "access-control-allow-headers");
    for header in requested.split(", ") {
        assert!(
            allowed.contains(&header.to_owned()),
            "{header}: {allowed:?}"
        );
    }
    assert!(
        headers.contains_key("access-control-max-age"),
        "{headers:?}"
    );

    let from_dev = preflight(&server, "/v1/auth/login", DEV, "POST", "content-type").await;
    assert_allowed(from_dev.headers(), DEV);
}

#[tokio::test]
async fn an_allowed_origin_gets_its_origin_and_the_exposed_headers_on_answers_and_errors() {
    let server = start().await;
    let owner = server.signup("cors-owner@example.com").await;

    let me = request(&server, Method::GET, "/v1/me")
        .header("origin", APP)
        .bearer_auth(&owner.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_allowed(me.headers(), APP);
    let exposed = list(me.headers(), "access-control-expose-headers");
    for header in [
        "etag",
        "location",
        "retry-after",
        "ratelimit",
        "ratelimit-policy",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(
            exposed.contains(&header.to_owned()),
            "{header}: {exposed:?}"
        );
    }

    // A page must be able to read why it was refused.
    let refused = request(&server, Method::GET, "/v1/me")
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_allowed(refused.headers(), APP);
}

#[tokio::test]
async fn an_origin_that_is_not_listed_gets_no_cors_headers() {
    let server = start().await;
    for origin in [
        "https://evil.example.com",
        "http://app.example.com",
        "https://app.example.com.evil.example",
        "https://app.example.com:8443",
        "null",
    ] {
        let response = request(&server, Method::GET, "/healthz")
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_no_cors(response.headers());

        let response = preflight(&server, "/v1/auth/login", origin, "POST", "content-type").await;
        assert_no_cors(response.headers());
    }
}

#[tokio::test]
async fn the_event_stream_is_reachable_from_an_allowed_origin() {
    let server = start().await;
    let owner = server.signup("cors-stream@example.com").await;
    server.create_tenant(&owner, "cors-stream").await;
    let path = "/v1/tenants/cors-stream/events";

    let response = preflight(&server, path, APP, "GET", "authorization, last-event-id").await;
    assert_allowed(response.headers(), APP);

    let stream = request(&server, Method::GET, path)
        .header("origin", APP)
        .bearer_auth(&owner.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_allowed(stream.headers(), APP);
}

#[tokio::test]
async fn without_allowed_origins_the_server_speaks_no_cors() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();

    let response = preflight(&server, "/v1/auth/login", APP, "POST", "content-type").await;
    assert_eq!(response.status(), 405);
    assert_no_cors(response.headers());

    let response = request(&server, Method::POST, "/v1/auth/login")
        .header("origin", APP)
        .json(&json!({ "email": "nobody@example.com", "password": "not the password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_no_cors(response.headers());
    assert!(
        !response
            .headers()
            .contains_key("access-control-expose-headers"),
        "{:?}",
        response.headers()
    );
}

#[tokio::test]
async fn a_wildcard_origin_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0", "--data-dir"]);
    command
        .arg(dir.path().join("data"))
        .env("BULKHEAD_CORS_ORIGINS", "https://app.example.com,*");

    let line = assert_one_line_failure(&run(command, None).await);

    assert!(line.contains("BULKHEAD_CORS_ORIGINS"), "{line}");
    assert!(line.contains('*'), "{line}");
}
