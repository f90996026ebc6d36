//! The HTTP surface of the identity API, on both backends: security headers
//! on a sample of answers (errors included), body limits, strict bodies,
//! page-size clamping, and the OpenAPI document listing every route of the
//! contract.

use bulkhead_client::types::{CreateApiKeyRequest, Role};
use bulkhead_client::{Client, Method, RawResponse};
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, expect_not_5xx, expect_problem, request};

/// The largest accepted body.
const MIB: usize = 1024 * 1024;

/// Every route of the identity and access contract, as `(method, path)`
/// with the path as the OpenAPI document writes it.
pub const CONTRACT_ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/auth/signup"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("get", "/v1/me"),
    ("post", "/v1/me/password"),
    ("get", "/v1/me/sessions"),
    ("delete", "/v1/me/sessions/{id}"),
    ("post", "/v1/tenants"),
    ("get", "/v1/tenants"),
    ("get", "/v1/tenants/{t}"),
    ("patch", "/v1/tenants/{t}"),
    ("delete", "/v1/tenants/{t}"),
    ("get", "/v1/tenants/{t}/members"),
    ("patch", "/v1/tenants/{t}/members/{user_id}"),
    ("delete", "/v1/tenants/{t}/members/{user_id}"),
    ("post", "/v1/tenants/{t}/invitations"),
    ("post", "/v1/invitations/accept"),
    ("get", "/v1/tenants/{t}/api-keys"),
    ("post", "/v1/tenants/{t}/api-keys"),
    ("delete", "/v1/tenants/{t}/api-keys/{id}"),
    ("get", "/v1/tenants/{t}/audit"),
    ("get", "/v1/admin/tenants"),
    ("post", "/v1/admin/tenants/{t}/suspend"),
    ("post", "/v1/admin/tenants/{t}/unsuspend"),
];

/// How many times an oversized body is sent before giving up on reading
/// the server's answer.
const OVERSIZED_ATTEMPTS: usize = 10;

/// Sends `body` (over the limit) to `path` and returns the 413 answer.
///
/// The server answers before reading the body and then closes the
/// connection with the rest of the body unread (without saying
/// `Connection: close`), so the client, still sending, sometimes gets a
/// reset instead of the answer, and a connection kept for reuse is dead.
/// Each attempt therefore goes on a connection of its own; resets are
/// counted and printed, and the body sent again: every answer that does
/// arrive must be the 413, and one must arrive.
async fn expect_too_large(client: &Client, path: &str, body: Vec<u8>) -> RawResponse {
    let mut resets = Vec::new();
    for _ in 0..OVERSIZED_ATTEMPTS {
        let fresh = crate::contract::checked(Client::new(client.base_url()).unwrap());
        match fresh
            .raw_bytes(Method::POST, path, "application/json", body.clone())
            .await
        {
            Ok(response) => {
                if !resets.is_empty() {
                    eprintln!(
                        "{path}: the 413 came after {} connection reset(s): {resets:?}",
                        resets.len()
                    );
                }
                expect_problem(&response, 413, "payload_too_large");
                return response;
            }
            Err(error) => resets.push(error.to_string()),
        }
    }
    panic!("{path}: no answer to an oversized body in {OVERSIZED_ATTEMPTS} attempts: {resets:#?}");
}

/// Asserts the security headers of RELIABILITY B7 on one answer.
#[track_caller]
pub fn expect_security_headers(response: &RawResponse, what: &str) {
    let hsts = response
        .header("strict-transport-security")
        .unwrap_or_else(|| panic!("{what}: no Strict-Transport-Security"));
    let max_age: u64 = hsts
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("max-age="))
        .and_then(|value| value.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("{what}: HSTS without a max-age: {hsts:?}"));
    assert!(
        max_age >= 31_536_000,
        "{what}: HSTS max-age {max_age} < 1 year"
    );
    assert!(
        hsts.to_ascii_lowercase().contains("includesubdomains"),
        "{what}: HSTS without includeSubDomains: {hsts:?}"
    );
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    let csp = response
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP without frame-ancestors 'none': {csp:?}"
    );
    assert!(
        response.header("referrer-policy").is_some(),
        "{what}: no Referrer-Policy"
    );
    assert_ne!(
        response.header("access-control-allow-origin"),
        Some("*"),
        "{what}: CORS open to every origin"
    );
}

/// Security headers on successes and failures alike; 413 over 1 MiB
/// and not at 1 MiB; 400 for malformed bodies; silly page sizes never
/// cause a 5xx; an unknown route is a 404 problem.
async fn headers_limits_and_malformed_input(server: TestServer) {
    let ada = server.signup("ada@example.com").await;
    let tenant = server.create_tenant(&ada, "acme").await;
    let members_path = format!("/v1/tenants/{}/members", tenant.slug);
    let anon = &server.anon;

    let mut sample = vec![
        (
            "GET /healthz",
            request(anon, Method::GET, "/healthz", None).await,
        ),
        ("GET /v1/me", ada.send(Method::GET, "/v1/me", None).await),
        (
            "GET /v1/me anonymous",
            request(anon, Method::GET, "/v1/me", None).await,
        ),
        (
            "a failed login",
            request(
                anon,
                Method::POST,
                "/v1/auth/login",
                Some(json!({"email": "ada@example.com", "password": "not the passphrase"})),
            )
            .await,
        ),
        (
            "an unknown route",
            request(anon, Method::GET, "/v1/nope", None).await,
        ),
        (
            "a tenant that does not exist",
            ada.send(Method::GET, "/v1/tenants/no-such-tenant", None)
                .await,
        ),
        (
            "GET members",
            ada.send(Method::GET, &members_path, None).await,
        ),
        (
            "GET /openapi.json",
            request(anon, Method::GET, "/openapi.json", None).await,
        ),
    ];

    // Over 1 MiB: 413 `payload_too_large`, as a problem.
    let oversized = format!(
        r#"{{"email":"{}@example.com","password":"x"}}"#,
        "a".repeat(MIB)
    );
    assert!(oversized.len() > MIB);
    let too_large = expect_too_large(anon, "/v1/auth/signup", oversized.into_bytes()).await;
    expect_too_large(anon, "/v1/auth/login", vec![b' '; MIB + 1]).await;
    // Exactly 1 MiB is within the limit: refused for its content only.
    let skeleton = r#"{"email":"@example.com","password":"x"}"#;
    let exact = format!(
        r#"{{"email":"{}@example.com","password":"x"}}"#,
        "a".repeat(MIB - skeleton.len())
    );
    assert_eq!(exact.len(), MIB);
    let at_limit = crate::contract::checked(Client::new(anon.base_url()).unwrap())
        .raw_bytes(Method::POST, "/v1/auth/signup", "application/json", exact)
        .await
        .unwrap();
    assert_ne!(
        at_limit.status,
        413,
        "1 MiB exactly is allowed: {}",
        at_limit.text()
    );
    expect_not_5xx(&at_limit, "a 1 MiB sign-up");
    sample.push(("a 413", too_large));

    // Malformed JSON, a wrong type, unknown fields: 400 `invalid_body`.
    for (what, path, body) in [
        ("truncated JSON", "/v1/auth/login", "{\"email\":".to_owned()),
        ("not JSON at all", "/v1/auth/signup", "email=ada".to_owned()),
        ("a JSON array", "/v1/auth/signup", "[]".to_owned()),
        (
            "a number for a string",
            "/v1/auth/login",
            r#"{"email":1,"password":"x"}"#.to_owned(),
        ),
        (
            "an unknown field on sign-up",
            "/v1/auth/signup",
            format!(r#"{{"email":"eve@example.com","password":"{PASSWORD}","role":"owner"}}"#),
        ),
        (
            "an unknown field on login",
            "/v1/auth/login",
            format!(r#"{{"email":"ada@example.com","password":"{PASSWORD}","otp":"1"}}"#),
        ),
    ] {
        let response = anon
            .raw_bytes(Method::POST, path, "application/json", body)
            .await
            .unwrap();
        assert_eq!(response.status, 400, "{what}: {}", response.text());
        expect_problem(&response, 400, "invalid_body");
        if what == "an unknown field on sign-up" {
            sample.push(("a 400", response));
        }
    }
    let unknown_on_tenant = ada
        .send(
            Method::PATCH,
            &format!("/v1/tenants/{}", tenant.slug),
            Some(json!({"name": "Acme", "slug": "evil", "plan": "enterprise"})),
        )
        .await;
    expect_problem(&unknown_on_tenant, 400, "invalid_body");
    assert_eq!(ada.client.get_tenant(&tenant.slug).await.unwrap(), tenant);

    // Page sizes: clamped to at most 100 items, or refused; never a 5xx.
    for _ in 0..3 {
        let n = server.unique();
        server
            .add_member(
                &ada,
                &tenant.slug,
                &format!("member{n}@example.com"),
                Role::Viewer,
            )
            .await;
    }
    for query in [
        "limit=1000",
        "limit=4294967296",
        "limit=0",
        "limit=-1",
        "limit=abc",
        "cursor=not-a-cursor",
        "cursor=",
        "limit=1&cursor=%00%ff",
    ] {
        let response = ada
            .send(Method::GET, &format!("{members_path}?{query}"), None)
            .await;
        expect_not_5xx(&response, query);
        assert!(
            matches!(response.status, 200 | 400 | 422),
            "{query}: {} {}",
            response.status,
            response.text()
        );
        if query.starts_with("limit=") && query != "limit=1&cursor=%00%ff" {
            // Outside 1 to 100, or not a number: refused, never clamped.
            assert_eq!(response.status, 400, "{query}: {}", response.text());
        }
        if response.status == 200 {
            let page: Value = response.json().unwrap();
            let n = page["items"].as_array().unwrap().len();
            assert!(n <= 100, "{query}: {n} items");
        }
    }

    // Over a hundred keys (and so over a hundred audit entries): a page
    // never holds more than a hundred, and a cursor leads on.
    for n in 0..101 {
        ada.client
            .create_api_key(
                &tenant.slug,
                &CreateApiKeyRequest {
                    name: format!("key {n}"),
                    role: Role::Viewer,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
    }
    for path in ["api-keys", "audit"] {
        for query in ["", "?limit=1000", "?limit=100"] {
            let what = format!("{path}{query}");
            let response = ada
                .send(
                    Method::GET,
                    &format!("/v1/tenants/{}/{path}{query}", tenant.slug),
                    None,
                )
                .await;
            expect_not_5xx(&response, &what);
            if query == "?limit=1000" {
                // Over the documented maximum of 100: refused, not clamped.
                expect_problem(&response, 400, "invalid_limit");
                continue;
            }
            let page: Value = response.json().unwrap();
            let n = page["items"].as_array().unwrap().len();
            assert!((1..=100).contains(&n), "{what}: {n} items");
            assert!(
                page["next_cursor"].is_string(),
                "{what}: {n} of over a hundred items and no cursor"
            );
        }
    }

    for (what, response) in &sample {
        expect_security_headers(response, what);
    }
    let unknown = request(anon, Method::GET, "/v1/nope", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.header("content-type"),
        Some("application/problem+json")
    );
}
scenario!(headers_limits_and_malformed_input);

/// `GET /openapi.json` is an OpenAPI 3.1 document listing every route of
/// the contract with its method.
async fn the_openapi_document_lists_every_route(server: TestServer) {
    let response = request(&server.anon, Method::GET, "/openapi.json", None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let document: Value = response.json().unwrap();
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "OpenAPI version {version:?}");
    let paths = document["paths"].as_object().expect("no paths");
    let missing: Vec<String> = CONTRACT_ROUTES
        .iter()
        .filter(|(method, path)| paths.get(*path).and_then(|p| p.get(*method)).is_none())
        .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from /openapi.json: {missing:#?}"
    );
}
scenario!(the_openapi_document_lists_every_route);
