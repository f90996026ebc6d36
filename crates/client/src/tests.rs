//! Unit tests: URL building, headers, error parsing from canned bodies, and
//! whole requests against a one-shot loopback server that answers with a
//! canned HTTP response.

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde_json::json;
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::path::{segment, tenant_path};
use crate::types::{
    AuditQuery, ChangePasswordRequest, CreateTenantRequest, LoginRequest, PageQuery, Role,
    UpdateMemberRequest,
};
use crate::{Client, ClientError, Method};

#[test]
fn base_urls_lose_their_trailing_slash_and_keep_their_prefix() {
    let client = Client::new("http://127.0.0.1:8080/").unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:8080");
    assert_eq!(client.url("/v1/me"), "http://127.0.0.1:8080/v1/me");
    assert_eq!(client.url("healthz"), "http://127.0.0.1:8080/healthz");

    let client = Client::new("https://example.com/bulkhead/").unwrap();
    assert_eq!(client.url("/v1/me"), "https://example.com/bulkhead/v1/me");
}

#[test]
fn a_base_url_that_cannot_serve_as_one_is_refused() {
    for base_url in [
        "",
        "127.0.0.1:8080",
        "ftp://example.com",
        "http://h/?a=1",
        "http://h/#f",
    ] {
        match Client::new(base_url) {
            Err(ClientError::InvalidRequest(message)) => assert!(!message.is_empty()),
            other => panic!("{base_url:?} gave {other:?}"),
        }
    }
}

#[test]
fn path_segments_are_escaped_so_they_stay_one_segment() {
    assert_eq!(segment("acme-1"), "acme-1");
    assert!(matches!(segment("acme"), std::borrow::Cow::Borrowed(_)));
    assert_eq!(segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
    assert_eq!(segment("é"), "%C3%A9");
    assert_eq!(tenant_path("x/../y"), "/v1/tenants/x%2F..%2Fy");
}

#[test]
fn with_token_and_with_header_make_copies_with_more_headers() {
    let anonymous = Client::new("http://127.0.0.1:1").unwrap();
    let ada = anonymous
        .with_token("tok")
        .with_header("user-agent", "tests/1")
        .with_header(USER_AGENT, HeaderValue::from_static("tests/2"));
    assert!(anonymous.headers().is_empty());
    assert_eq!(ada.headers()[AUTHORIZATION], "Bearer tok");
    assert!(ada.headers()[AUTHORIZATION].is_sensitive());
    assert_eq!(ada.headers()[USER_AGENT], "tests/2");
    assert_eq!(ada.headers().len(), 2);
    assert_eq!(
        ada.with_token("other").headers()[AUTHORIZATION],
        "Bearer other"
    );
}

#[tokio::test]
async fn a_client_with_an_invalid_header_sends_nothing() {
    let anonymous = Client::new("http://127.0.0.1:1").unwrap();
    for client in [
        anonymous.with_token("line\nbreak"),
        anonymous.with_header("bad name", "v"),
        anonymous.with_header("x-ok", "bad\r\nvalue"),
    ] {
        let error = client.me().await.unwrap_err();
        assert!(matches!(error, ClientError::InvalidRequest(_)), "{error:?}");
        let error = client.raw(Method::GET, "/healthz", None).await.unwrap_err();
        assert!(matches!(error, ClientError::InvalidRequest(_)), "{error:?}");
    }
}

fn headers(pairs: &[(reqwest::header::HeaderName, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| (name.clone(), HeaderValue::from_static(value)))
        .collect()
}

#[test]
fn an_error_answer_carries_its_problem_and_retry_after() {
    let body = br#"{"type":"about:blank","title":"Too Many Requests","status":429,
        "code":"rate_limited","detail":"Slow down.","a_later_field":1}"#;
    let error = ClientError::from_answer(429, &headers(&[(RETRY_AFTER, " 30 ")]), body);
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.code(), Some("rate_limited"));
    assert_eq!(error.retry_after(), Some(30));
    assert_eq!(error.problem().unwrap().detail, "Slow down.");
    assert_eq!(error.to_string(), "429 rate_limited: Slow down.");
}

#[test]
fn field_errors_of_a_validation_problem_are_kept() {
    let body = json!({
        "type": "about:blank", "title": "Unprocessable Entity", "status": 422,
        "code": "validation_failed", "detail": "Invalid fields.",
        "errors": [{"field": "slug", "code": "too_short", "message": "Too short."}],
    });
    let error = ClientError::from_answer(422, &HeaderMap::new(), body.to_string().as_bytes());
    let problem = error.problem().unwrap();
    assert_eq!(problem.errors.len(), 1);
    assert_eq!(problem.errors[0].field, "slug");
    assert_eq!(error.retry_after(), None);
}

#[test]
fn a_body_that_is_not_a_problem_becomes_an_unexpected_problem() {
    let html = b"<html><body>Bad gateway</body></html>";
    let error = ClientError::from_answer(
        502,
        &headers(&[(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT")]),
        html,
    );
    let problem = error.problem().unwrap();
    assert_eq!(problem.code, "unexpected");
    assert_eq!(problem.status, 502);
    assert_eq!(problem.title, "Bad Gateway");
    assert_eq!(problem.r#type, "about:blank");
    assert!(problem.detail.contains("Bad gateway"), "{}", problem.detail);
    // An HTTP-date is not a number of seconds.
    assert_eq!(error.retry_after(), None);

    let empty = ClientError::from_answer(500, &HeaderMap::new(), b"");
    assert_eq!(empty.code(), Some("unexpected"));
    assert!(empty.problem().unwrap().detail.contains("empty body"));

    let long = "x".repeat(10_000);
    let quoted = ClientError::from_answer(500, &HeaderMap::new(), long.as_bytes());
    assert!(quoted.problem().unwrap().detail.len() < 1_000);
}

/// A loopback server that answers one request with `response` and returns
/// the request it read, head and body.
async fn serve_once(response: String) -> (Client, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = socket.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            assert!(n > 0, "the client closed the connection early");
        }
        socket.write_all(response.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
        String::from_utf8(request).unwrap()
    });
    (Client::new(&format!("http://{address}")).unwrap(), server)
}

fn answer(status: &str, headers: &[&str], body: &str) -> String {
    let mut response = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for header in headers {
        response.push_str(header);
        response.push_str("\r\n");
    }
    response.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    response
}

#[tokio::test]
async fn a_typed_call_sends_its_token_and_body_and_decodes_the_answer() {
    let body = json!({
        "id": "00000000-0000-0000-0000-000000000007", "slug": "acme", "name": "Acme",
        "plan": "free", "created_at": "2025-01-02T03:04:05Z",
    });
    let (client, server) = serve_once(answer(
        "201 Created",
        &["content-type: application/json"],
        &body.to_string(),
    ))
    .await;
    let tenant = client
        .with_token("secret-token")
        .with_header("x-forwarded-for", "203.0.113.9")
        .create_tenant(&CreateTenantRequest {
            slug: "acme".into(),
            name: "Acme".into(),
        })
        .await
        .unwrap();
    assert_eq!(tenant.slug, "acme");
    assert_eq!(tenant.created_at, datetime!(2025-01-02 03:04:05 UTC));

    let request = server.await.unwrap();
    assert!(
        request.starts_with("POST /v1/tenants HTTP/1.1\r\n"),
        "{request}"
    );
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.contains("authorization: bearer secret-token\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("x-forwarded-for: 203.0.113.9\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("content-type: application/json\r\n"),
        "{request}"
    );
    assert!(
        request.ends_with(r#"{"slug":"acme","name":"Acme"}"#),
        "{request}"
    );
}

#[tokio::test]
async fn an_error_answer_becomes_an_api_error() {
    let problem = json!({
        "type": "about:blank", "title": "Not Found", "status": 404,
        "code": "tenant_not_found", "detail": "No such tenant.",
    });
    let (client, server) = serve_once(answer(
        "404 Not Found",
        &["content-type: application/problem+json"],
        &problem.to_string(),
    ))
    .await;
    let error = client.get_tenant("other tenant").await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.code(), Some("tenant_not_found"));
    let request = server.await.unwrap();
    assert!(
        request.starts_with("GET /v1/tenants/other%20tenant HTTP/1.1"),
        "{request}"
    );
}

#[tokio::test]
async fn an_answer_without_content_is_success_for_a_method_that_expects_none() {
    let (client, server) = serve_once(answer("204 No Content", &[], "")).await;
    client
        .change_password(&ChangePasswordRequest {
            current_password: "old".into(),
            new_password: "new".into(),
            end_other_sessions: true,
        })
        .await
        .unwrap();
    let request = server.await.unwrap();
    assert!(request.starts_with("POST /v1/me/password "), "{request}");
    assert!(
        request.contains(r#""end_other_sessions":true"#),
        "{request}"
    );
}

#[tokio::test]
async fn a_successful_answer_with_the_wrong_body_is_a_decode_error() {
    let (client, _server) = serve_once(answer("200 OK", &[], r#"{"status": 1}"#)).await;
    let error = client.healthz().await.unwrap_err();
    match error {
        ClientError::Decode(message) => assert!(message.contains("200"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn list_queries_go_into_the_query_string() {
    let (client, server) = serve_once(answer(
        "200 OK",
        &[],
        r#"{"items": [], "next_cursor": null}"#,
    ))
    .await;
    let page = client
        .list_audit(
            "acme",
            &AuditQuery {
                action: Some("member.removed".into()),
                since: Some(datetime!(2025-01-02 03:04:05 +1)),
                limit: Some(5),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    let request = server.await.unwrap();
    assert!(
        request.starts_with(
            "GET /v1/tenants/acme/audit?action=member.removed&since=2025-01-02T03%3A04%3A05%2B01%3A00&limit=5 "
        ),
        "{request}"
    );

    let (client, server) = serve_once(answer(
        "200 OK",
        &[],
        r#"{"items": [], "next_cursor": null}"#,
    ))
    .await;
    client
        .list_members("acme", &PageQuery::default())
        .await
        .unwrap();
    let request = server.await.unwrap();
    assert!(
        request.starts_with("GET /v1/tenants/acme/members HTTP/1.1"),
        "{request}"
    );
}

#[tokio::test]
async fn a_member_update_patches_the_members_path() {
    let body = json!({
        "user": {"id": Uuid::from_u128(2), "email": "b@example.com", "display_name": null},
        "role": "admin", "joined_at": "2025-01-02T03:04:05Z",
    });
    let (client, server) = serve_once(answer("200 OK", &[], &body.to_string())).await;
    let member = client
        .update_member(
            "acme",
            Uuid::from_u128(2),
            &UpdateMemberRequest { role: Role::Admin },
        )
        .await
        .unwrap();
    assert_eq!(member.role, Role::Admin);
    let request = server.await.unwrap();
    assert!(
        request.starts_with(
            "PATCH /v1/tenants/acme/members/00000000-0000-0000-0000-000000000002 HTTP/1.1"
        ),
        "{request}"
    );
}

#[tokio::test]
async fn raw_returns_any_answer_as_it_came() {
    let problem = json!({
        "type": "about:blank", "title": "Too Many Requests", "status": 429,
        "code": "rate_limited", "detail": "Slow down.",
    });
    let (client, server) = serve_once(answer(
        "429 Too Many Requests",
        &["retry-after: 7", "content-type: application/problem+json"],
        &problem.to_string(),
    ))
    .await;
    let response = client
        .raw(
            Method::POST,
            "/v1/auth/login?x=1",
            Some(json!({"email": "a@b.c"})),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 429);
    assert_eq!(response.header("Retry-After"), Some("7"));
    assert_eq!(response.json::<serde_json::Value>().unwrap(), problem);
    assert_eq!(response.problem().unwrap().code, "rate_limited");
    assert!(response.text().contains("Slow down."));
    let error = response.error_for_status().unwrap_err();
    assert_eq!(error.retry_after(), Some(7));
    let request = server.await.unwrap();
    assert!(
        request.starts_with("POST /v1/auth/login?x=1 HTTP/1.1"),
        "{request}"
    );
    assert!(request.ends_with(r#"{"email":"a@b.c"}"#), "{request}");
}

#[tokio::test]
async fn raw_bytes_sends_the_body_as_given() {
    let (client, server) = serve_once(answer("400 Bad Request", &[], "nope")).await;
    let response = client
        .raw_bytes(
            Method::POST,
            "/v1/auth/login",
            "application/json",
            "{not json",
        )
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(response.text(), "nope");
    assert_eq!(response.problem(), None);
    assert_eq!(response.problem_or_unexpected().code, "unexpected");
    let request = server.await.unwrap();
    assert!(request.ends_with("{not json"), "{request}");
}

#[tokio::test]
async fn no_server_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(&format!("http://{address}")).unwrap();
    let error = client
        .login(&LoginRequest {
            email: "a@b.c".into(),
            password: "p".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    assert_eq!(error.status(), None);
}

#[tokio::test]
async fn an_observer_sees_every_answer_with_its_request_even_an_error() {
    use std::sync::{Arc, Mutex};

    let problem = r#"{"type":"about:blank","title":"Not Found","status":404,"code":"tenant_not_found","detail":"No such tenant."}"#;
    let (client, _server) = serve_once(answer(
        "404 Not Found",
        &["content-type: application/problem+json"],
        problem,
    ))
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    // The observer is kept by the copies made after it is set.
    let observed = client
        .with_observer(move |exchange| {
            record.lock().unwrap().push((
                exchange.method.to_string(),
                exchange.url.path().to_owned(),
                exchange.request_headers.contains_key(AUTHORIZATION),
                exchange.status,
                exchange.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
                String::from_utf8(exchange.body.to_vec()).unwrap(),
            ));
        })
        .with_token("t");
    let error = observed.get_tenant("acme").await.unwrap_err();
    assert_eq!(error.code(), Some("tenant_not_found"));
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            "GET".to_owned(),
            "/v1/tenants/acme".to_owned(),
            true,
            404,
            "application/problem+json".to_owned(),
            problem.to_owned(),
        )]
    );
}
