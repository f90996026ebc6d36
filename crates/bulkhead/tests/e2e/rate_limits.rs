//! Rate limits over HTTP: the burst (exactly N, then 429 with the headers),
//! tenants that do not touch each other's budget, the cap on open event
//! streams, the platform admin's audited exemption, and limits and caps
//! shared by two server processes through Redis (and kept per process when
//! Redis is out of reach).
//!
//! The Redis tests need a Redis at `BULKHEAD_TEST_REDIS_URL` (by default
//! `redis://127.0.0.1:6379`); without one they are skipped with a message,
//! except under `CI=true`, where they fail. Each test uses keys under a
//! prefix of its own, so tests never share a budget.

use bulkhead_client::types::Role;
use bulkhead_client::{Method, RawResponse};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{
    ADMIN_PASSWORD, Account, Backend, Options, PASSWORD, TestServer, expect_problem,
};
use crate::support::Server;

/// Asserts the `RateLimit-*` headers of an answer.
#[track_caller]
fn expect_limit_headers(response: &RawResponse, limit: u32, remaining: u32) {
    let number = |name: &str| -> u64 {
        response
            .header(name)
            .unwrap_or_else(|| panic!("no {name} on a {} answer", response.status))
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number"))
    };
    assert_eq!(number("ratelimit-limit"), u64::from(limit));
    assert_eq!(number("ratelimit-remaining"), u64::from(remaining));
    let reset = number("ratelimit-reset");
    assert!((1..=60).contains(&reset), "RateLimit-Reset {reset}");
}

/// Asserts a 429 `rate_limited` with its headers, returning Retry-After.
#[track_caller]
fn expect_rate_limited(response: &RawResponse, limit: u32) -> u64 {
    expect_problem(response, 429, "rate_limited");
    expect_limit_headers(response, limit, 0);
    let retry_after: u64 = response
        .header("retry-after")
        .expect("a 429 says when to retry")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    retry_after
}

async fn start(backend: Backend, env: &[(&str, &str)]) -> Option<TestServer> {
    let options = env
        .iter()
        .fold(Options::default(), |options, (name, value)| {
            options.env(name, value)
        });
    TestServer::start_with(backend, options).await
}

async fn me(account: &Account) -> RawResponse {
    account.send(Method::GET, "/v1/me", None).await
}

async fn get_tenant(account: &Account, slug: &str) -> RawResponse {
    account
        .send(Method::GET, &format!("/v1/tenants/{slug}"), None)
        .await
}

/// C5's burst: a principal allowed 5 a minute gets exactly 5 answers, each
/// saying how many are left, then 429 with Retry-After.
async fn a_burst_gets_exactly_its_limit_then_429_with_the_headers(backend: Backend) {
    let Some(server) = start(backend, &[("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "5")]).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    for remaining in (0..5).rev() {
        let response = me(&ada).await;
        assert_eq!(response.status, 200, "{}", response.text());
        expect_limit_headers(&response, 5, remaining);
    }
    let refused = me(&ada).await;
    let retry_after = expect_rate_limited(&refused, 5);
    assert_eq!(retry_after, 12, "one request comes back every 60/5 s");
    // Someone else is not held back by Ada's limit.
    let bob = server.signup("bob@example.com").await;
    expect_limit_headers(&me(&bob).await, 5, 4);
    // Nor is Ada on the auth routes, which count by address.
    let again = server.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        me(&again).await.status,
        429,
        "a new session shares its user's limit"
    );
}
scenario!(
    a_burst_gets_exactly_its_limit_then_429_with_the_headers,
    backend
);

/// The auth routes count per client address: sign-ups, logins and
/// refreshes together, successful or not.
async fn the_auth_routes_are_limited_per_address(backend: Backend) {
    let Some(server) = start(backend, &[("BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS", "4")]).await
    else {
        return;
    };
    let signup = server
        .anon
        .raw(
            Method::POST,
            "/v1/auth/signup",
            Some(json!({ "email": "ada@example.com", "password": PASSWORD })),
        )
        .await
        .unwrap();
    assert_eq!(signup.status, 201);
    expect_limit_headers(&signup, 4, 3);
    let login = json!({ "email": "ada@example.com", "password": PASSWORD });
    for remaining in (0..3).rev() {
        let response = server
            .anon
            .raw(Method::POST, "/v1/auth/login", Some(login.clone()))
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        expect_limit_headers(&response, 4, remaining);
    }
    let refused = server
        .anon
        .raw(Method::POST, "/v1/auth/login", Some(login))
        .await
        .unwrap();
    expect_rate_limited(&refused, 4);
    let refresh = server
        .anon
        .raw(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({ "refresh_token": "whatever" })),
        )
        .await
        .unwrap();
    expect_rate_limited(&refresh, 4);
}
scenario!(the_auth_routes_are_limited_per_address, backend);

/// C5: tenant A at its limit gets 429s, for every one of its members;
/// tenant B, and A's members elsewhere, get none.
async fn one_tenant_at_its_limit_does_not_limit_another(backend: Backend) {
    let Some(server) = start(backend, &[("BULKHEAD_RATE_LIMIT_PER_TENANT", "5")]).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    server.create_tenant(&ada, "acme").await;
    server.create_tenant(&bob, "globex").await;
    let carol = server
        .add_member(&ada, "acme", "carol@example.com", Role::Member)
        .await;
    let mut accepted = 0;
    let refused = loop {
        let response = get_tenant(&ada, "acme").await;
        if response.status == 429 {
            break response;
        }
        assert_eq!(response.status, 200, "{}", response.text());
        accepted += 1;
        assert!(accepted <= 5, "more than the tenant's 5 were served");
    };
    expect_rate_limited(&refused, 5);
    expect_rate_limited(&get_tenant(&carol, "acme").await, 5);
    for remaining in (0..5).rev() {
        let response = get_tenant(&bob, "globex").await;
        assert_eq!(response.status, 200, "{}", response.text());
        expect_limit_headers(&response, 5, remaining);
    }
    assert_eq!(me(&carol).await.status, 200, "Carol outside acme");
}
scenario!(one_tenant_at_its_limit_does_not_limit_another, backend);

/// An open event stream, held until dropped.
async fn open_stream(server: &TestServer, account: &Account, tenant: &str) -> reqwest::Response {
    open_stream_on(&server.server, account, tenant).await
}

/// An open event stream on one process (a replica's, say).
async fn open_stream_on(server: &Server, account: &Account, tenant: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://{}/v1/tenants/{tenant}/events", server.addr))
        .bearer_auth(&account.tokens.access_token)
        .send()
        .await
        .unwrap()
}

/// Asserts a refused event stream: 429 `rate_limited` with the headers.
async fn expect_stream_refused(response: reqwest::Response, limit: u32) {
    assert_eq!(response.status(), 429);
    let headers = response.headers();
    assert_eq!(headers["ratelimit-limit"], limit.to_string().as_str());
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("ratelimit-reset"));
    assert!(headers.contains_key("retry-after"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited");
}

/// A principal may hold 2 streams open; the third is 429 with the headers,
/// and closing one makes room. The tenant's cap counts all its members.
async fn open_event_streams_are_capped_per_principal_and_tenant(backend: Backend) {
    let Some(server) = start(
        backend,
        &[
            ("BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL", "2"),
            ("BULKHEAD_RATE_LIMIT_STREAMS_PER_TENANT", "3"),
        ],
    )
    .await
    else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    server.create_tenant(&ada, "acme").await;
    let bob = server
        .add_member(&ada, "acme", "bob@example.com", Role::Member)
        .await;
    let first = open_stream(&server, &ada, "acme").await;
    let second = open_stream(&server, &ada, "acme").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open_stream(&server, &ada, "acme").await;
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["ratelimit-limit"], "2");
    assert_eq!(third.headers()["ratelimit-remaining"], "0");
    assert!(third.headers().contains_key("ratelimit-reset"));
    assert!(third.headers().contains_key("retry-after"));
    let problem: serde_json::Value = third.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited");
    // Bob has his own 2, but the tenant only 3 in all.
    let bobs = open_stream(&server, &bob, "acme").await;
    assert_eq!(bobs.status(), 200);
    let over_tenant = open_stream(&server, &bob, "acme").await;
    assert_eq!(over_tenant.status(), 429);
    assert_eq!(over_tenant.headers()["ratelimit-limit"], "3");
    // Closing a stream gives its place back once the server sees it go.
    drop(first);
    let mut reopened = None;
    for _ in 0..200 {
        let attempt = open_stream(&server, &ada, "acme").await;
        if attempt.status() == 200 {
            reopened = Some(attempt);
            break;
        }
        assert_eq!(attempt.status(), 429);
        tokio::task::yield_now().await;
    }
    assert!(
        reopened.is_some(),
        "a closed stream never gave its place back"
    );
    drop((second, bobs));
}
scenario!(
    open_event_streams_are_capped_per_principal_and_tenant,
    backend
);

/// A platform admin over a limit is served, and the tenant's log says so
/// once per window, not once per request; a user is refused.
async fn a_platform_admin_is_exempt_and_audited(backend: Backend) {
    let options = Options::default()
        .admin("root@example.com")
        .env("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "3");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let root = server.login("root@example.com", ADMIN_PASSWORD).await;
    server.create_tenant(&root, "ops").await;
    for _ in 0..8 {
        let response = get_tenant(&root, "ops").await;
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let audit = root
        .send(
            Method::GET,
            "/v1/tenants/ops/audit?action=rate_limit.exempt",
            None,
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text());
    let items = audit.json::<serde_json::Value>().unwrap()["items"].clone();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 1, "one entry per window: {items:?}");
    assert_eq!(items[0]["actor"]["id"], root.id().to_string());
    assert_eq!(items[0]["details"]["reason"], "platform_admin");
    let ada = server.signup("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(me(&ada).await.status, 200);
    }
    expect_rate_limited(&me(&ada).await, 3);
}
scenario!(a_platform_admin_is_exempt_and_audited, backend);

/// The Redis the shared-limit tests use, or `None` (outside CI) when none
/// answers.
async fn test_redis() -> Option<String> {
    #[allow(clippy::disallowed_methods, reason = "tests read their own settings")]
    let url = std::env::var("BULKHEAD_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let answered = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await.ok()?;
        (&reply == b"+PONG\r\n").then_some(())
    };
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), answered)
        .await
        .ok()
        .flatten();
    if answered.is_some() {
        return Some(url);
    }
    let message = format!("Redis at {address} does not answer PING");
    #[allow(clippy::disallowed_methods, reason = "tests read their own settings")]
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; under CI the Redis tests must run");
    }
    eprintln!("SKIPPED: {message}; set BULKHEAD_TEST_REDIS_URL to run the Redis tests");
    None
}

/// A key prefix no other test uses.
fn unique_prefix() -> String {
    format!("bulkhead-e2e:{}:", uuid::Uuid::now_v7().simple())
}

/// Two processes on one Redis share the address's budget (4 in all, not 4
/// each) and the login throttle's count of failures.
async fn two_processes_share_one_redis_limit(backend: Backend) {
    let Some(redis) = test_redis().await else {
        return;
    };
    let prefix = unique_prefix();
    let env = [
        ("BULKHEAD_REDIS_URL", redis.as_str()),
        ("BULKHEAD_REDIS_KEY_PREFIX", prefix.as_str()),
        ("BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS", "6"),
    ];
    let Some(one) = start(backend, &env).await else {
        return;
    };
    let two = start(backend, &env).await.unwrap();
    let login = |email: &str| json!({ "email": email, "password": "not the password at all" });
    // Five failed logins for one account, alternating between processes:
    // the sixth is throttled wherever it goes, as on one process.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let server = if i % 2 == 0 { &one } else { &two };
        let response = server
            .anon
            .raw(
                Method::POST,
                "/v1/auth/login",
                Some(login("ada@example.com")),
            )
            .await
            .unwrap();
        statuses.push(response.status);
        if i < 5 {
            expect_limit_headers(&response, 6, 5 - i);
        } else {
            expect_problem(&response, 429, "throttled");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // The address's sixth request went to process two; the seventh is over
    // the shared limit on both.
    let over = one
        .anon
        .raw(
            Method::POST,
            "/v1/auth/login",
            Some(login("bob@example.com")),
        )
        .await
        .unwrap();
    expect_rate_limited(&over, 6);
    let over = two
        .anon
        .raw(
            Method::POST,
            "/v1/auth/login",
            Some(login("bob@example.com")),
        )
        .await
        .unwrap();
    expect_rate_limited(&over, 6);
}
scenario!(two_processes_share_one_redis_limit, backend);

/// Two replicas of one PostgreSQL deployment share a user's budget through
/// Redis: 4 in all, whichever process serves them; and a platform admin's
/// exemption is audited once per window, not once per process.
#[tokio::test]
async fn replicas_share_a_principals_limit_through_redis() {
    let Some(redis) = test_redis().await else {
        return;
    };
    let prefix = unique_prefix();
    let options = Options::default()
        .admin("root@example.com")
        .env("BULKHEAD_REDIS_URL", &redis)
        .env("BULKHEAD_REDIS_KEY_PREFIX", &prefix)
        .env("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "4");
    let Some(server) = TestServer::start_with(Backend::Postgres, options).await else {
        return;
    };
    let Some((_replica, replica_anon)) = server
        .replica_with(&[
            ("BULKHEAD_REDIS_URL", &redis),
            ("BULKHEAD_REDIS_KEY_PREFIX", &prefix),
            ("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "4"),
        ])
        .await
    else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let on_replica = replica_anon.with_token(&ada.tokens.access_token);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let response = if i % 2 == 0 {
            me(&ada).await
        } else {
            crate::harness::request(&on_replica, Method::GET, "/v1/me", None).await
        };
        statuses.push(response.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);

    let root = server.login("root@example.com", ADMIN_PASSWORD).await;
    server.create_tenant(&root, "ops").await;
    let root_on_replica = replica_anon.with_token(&root.tokens.access_token);
    for i in 0..10 {
        let response = if i % 2 == 0 {
            get_tenant(&root, "ops").await
        } else {
            crate::harness::request(&root_on_replica, Method::GET, "/v1/tenants/ops", None).await
        };
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let audit = root
        .send(
            Method::GET,
            "/v1/tenants/ops/audit?action=rate_limit.exempt",
            None,
        )
        .await;
    let items = audit.json::<serde_json::Value>().unwrap()["items"].clone();
    assert_eq!(
        items.as_array().unwrap().len(),
        1,
        "once per window across processes: {items}"
    );
}

/// Two replicas on one Redis share the caps on open event streams: a
/// principal allowed 2 holds 2 across both processes, not 2 on each, and
/// the tenant's 3 counts every member's streams on either; a stream closed
/// on one process makes room on the other, and so do all the streams of a
/// process that stops.
#[tokio::test]
async fn replicas_share_the_caps_on_open_event_streams_through_redis() {
    let Some(redis) = test_redis().await else {
        return;
    };
    let prefix = unique_prefix();
    let env = [
        ("BULKHEAD_REDIS_URL", redis.as_str()),
        ("BULKHEAD_REDIS_KEY_PREFIX", prefix.as_str()),
        ("BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL", "2"),
        ("BULKHEAD_RATE_LIMIT_STREAMS_PER_TENANT", "3"),
    ];
    let Some(one) = start(Backend::Postgres, &env).await else {
        return;
    };
    let Some((two, _)) = one.replica_with(&env).await else {
        return;
    };
    let ada = one.signup("ada@example.com").await;
    one.create_tenant(&ada, "acme").await;
    let bob = one
        .add_member(&ada, "acme", "bob@example.com", Role::Member)
        .await;
    let first = open_stream_on(&one.server, &ada, "acme").await;
    let second = open_stream_on(&two, &ada, "acme").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    expect_stream_refused(open_stream_on(&one.server, &ada, "acme").await, 2).await;
    expect_stream_refused(open_stream_on(&two, &ada, "acme").await, 2).await;
    // Bob has his own 2, but the tenant only 3 in all.
    let bobs = open_stream_on(&two, &bob, "acme").await;
    assert_eq!(bobs.status(), 200);
    expect_stream_refused(open_stream_on(&one.server, &bob, "acme").await, 3).await;
    // Ada's stream on process one closes; her place is taken on two once
    // process one has seen it go and told Redis.
    drop(first);
    let mut reopened = None;
    for _ in 0..500 {
        let attempt = open_stream_on(&two, &ada, "acme").await;
        if attempt.status() == 200 {
            reopened = Some(attempt);
            break;
        }
        assert_eq!(attempt.status(), 429);
        tokio::task::yield_now().await;
    }
    assert!(
        reopened.is_some(),
        "a stream closed on one process never made room on the other"
    );
    expect_stream_refused(open_stream_on(&one.server, &ada, "acme").await, 2).await;
    // Every stream is on process two now. Stopped gracefully, it gives
    // their places back as it goes: they are free on process one at once,
    // not when their leases run out.
    let (status, _) = two.stop_with("TERM").await;
    assert!(status.success(), "{status}");
    drop((second, bobs, reopened));
    let mut held = Vec::new();
    for account in [&ada, &ada, &bob] {
        let stream = open_stream_on(&one.server, account, "acme").await;
        assert_eq!(stream.status(), 200, "a stopped process held its places");
        held.push(stream);
    }
    expect_stream_refused(open_stream_on(&one.server, &bob, "acme").await, 3).await;
}

/// With Redis out of reach, every request is still answered, promptly and
/// never with a 5xx, and the limits hold in the process.
async fn an_unreachable_redis_falls_back_to_the_process(backend: Backend) {
    // Nothing listens on port 1 of loopback: connections are refused.
    let Some(server) = start(
        backend,
        &[
            ("BULKHEAD_REDIS_URL", "redis://127.0.0.1:1"),
            ("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "3"),
        ],
    )
    .await
    else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    for remaining in (0..3).rev() {
        let response = me(&ada).await;
        assert_eq!(response.status, 200, "{}", response.text());
        expect_limit_headers(&response, 3, remaining);
    }
    expect_rate_limited(&me(&ada).await, 3);
    let (_, logs, _) = server.stop().await;
    assert!(
        logs.contains("Redis is unreachable"),
        "the fallback is logged:\n{logs}"
    );
}
scenario!(an_unreachable_redis_falls_back_to_the_process, backend);
