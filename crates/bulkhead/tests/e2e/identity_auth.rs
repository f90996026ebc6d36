//! Identity end to end, on both backends: sign-up, login, refresh rotation,
//! logout, sessions, password change, login throttling and enumeration,
//! `X-Forwarded-For` believed only from trusted proxies, and closed
//! sign-up.

use std::collections::BTreeSet;

use bulkhead_client::types::{
    AuditQuery, ChangePasswordRequest, CreateTenantRequest, LoginRequest, MeResponse,
    RefreshRequest, TokenResponse,
};
use bulkhead_client::{Client, Method, RawResponse};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{
    Account, Backend, Options, PASSWORD, TestServer, expect_error, expect_problem, invalid_fields,
    request,
};

/// How many refreshes of one token race each other.
const RACERS: usize = 16;

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

/// The id of the session `account` is signed in with.
async fn current_session(account: &Account) -> Uuid {
    let sessions = account.client.list_sessions().await.unwrap();
    let current: Vec<_> = sessions.items.iter().filter(|s| s.current).collect();
    assert_eq!(
        current.len(),
        1,
        "exactly one current session: {sessions:?}"
    );
    current[0].id
}

/// Asserts `client` is refused on `GET /v1/me` with 401 `unauthenticated`.
async fn expect_signed_out(client: &Client, what: &str) {
    let response = request(client, Method::GET, "/v1/me", None).await;
    assert_eq!(response.status, 401, "{what}: {}", response.text());
    expect_problem(&response, 401, "unauthenticated");
}

/// The account's refresh token no longer works: 401 `invalid_refresh_token`.
async fn expect_refresh_refused(server: &TestServer, account: &Account) {
    let refreshed = server
        .anon
        .refresh(&RefreshRequest {
            refresh_token: account.tokens.refresh_token.clone(),
        })
        .await;
    expect_error(refreshed, 401, "invalid_refresh_token");
}

async fn expect_signed_in(client: &Client, what: &str) -> MeResponse {
    client
        .me()
        .await
        .unwrap_or_else(|error| panic!("{what}: GET /v1/me failed: {error}"))
}

/// Sign-up answers 201 with a bearer pair; the access token reads
/// `/v1/me`; bad input is 422 naming every bad field, 409 for a taken
/// email, 400 for malformed JSON or unknown fields; login opens a fresh
/// session; logout ends it on the next request.
async fn signup_login_me_and_logout(server: TestServer) {
    let anon = &server.anon;
    let response = request(
        anon,
        Method::POST,
        "/v1/auth/signup",
        Some(json!({
            "email": "ada@example.com",
            "password": PASSWORD,
            "display_name": "Ada Lovelace",
        })),
    )
    .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let tokens: TokenResponse = response.json().unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert_eq!(tokens.user.email, "ada@example.com");
    assert_eq!(tokens.user.display_name.as_deref(), Some("Ada Lovelace"));
    assert_ne!(tokens.access_token, tokens.refresh_token);
    let ada = server.account("ada@example.com", tokens.clone());

    let response = ada.send(Method::GET, "/v1/me", None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let me: MeResponse = response.json().unwrap();
    assert_eq!(me.user, tokens.user);
    assert!(me.memberships.is_empty(), "{me:?}");

    // The same address again, whatever its case in the domain.
    for email in ["ada@example.com", "ada@EXAMPLE.com"] {
        let taken = request(
            anon,
            Method::POST,
            "/v1/auth/signup",
            Some(login_body(email, "another fine passphrase")),
        )
        .await;
        expect_problem(&taken, 409, "email_taken");
    }

    // Every bad field is named at once.
    let invalid = request(
        anon,
        Method::POST,
        "/v1/auth/signup",
        Some(login_body("not-an-email", "short")),
    )
    .await;
    let problem = expect_problem(&invalid, 422, "validation_failed");
    assert_eq!(
        invalid_fields(&problem),
        BTreeSet::from(["email".to_owned(), "password".to_owned()]),
        "{problem:?}"
    );
    for error in &problem.errors {
        assert!(
            !error.code.is_empty() && !error.message.is_empty(),
            "{problem:?}"
        );
    }
    // Length-based policy: 11 refused, 12 and 128 accepted, 129 refused;
    // a common password is refused whatever its length.
    for (n, password, accepted) in [
        (0, "a".repeat(11), false),
        (1, "b".repeat(12), true),
        (2, "c".repeat(128), true),
        (3, "d".repeat(129), false),
        (4, "password123456".to_owned(), false),
    ] {
        let email = format!("length{n}@example.com");
        let response = request(
            anon,
            Method::POST,
            "/v1/auth/signup",
            Some(login_body(&email, &password)),
        )
        .await;
        if accepted {
            assert_eq!(
                response.status,
                201,
                "{} chars: {}",
                password.len(),
                response.text()
            );
        } else {
            let problem = expect_problem(&response, 422, "validation_failed");
            assert_eq!(
                invalid_fields(&problem),
                BTreeSet::from(["password".to_owned()]),
                "{password:?}: {problem:?}"
            );
        }
    }
    // A password is taken as given: a 64-character emoji password
    // signs in again byte for byte.
    let emoji = "🔐".repeat(64);
    server.signup_with("emoji@example.com", &emoji).await;
    server.login("emoji@example.com", &emoji).await;

    // Malformed JSON and unknown fields are 400 `invalid_body`, not 422.
    let malformed = anon
        .raw_bytes(
            Method::POST,
            "/v1/auth/signup",
            "application/json",
            "{\"email\":",
        )
        .await
        .unwrap();
    expect_problem(&malformed, 400, "invalid_body");
    let unknown = request(
        anon,
        Method::POST,
        "/v1/auth/signup",
        Some(json!({
            "email": "eve@example.com",
            "password": PASSWORD,
            "is_platform_admin": true,
        })),
    )
    .await;
    expect_problem(&unknown, 400, "invalid_body");
    expect_error(
        anon.login(&LoginRequest {
            email: "eve@example.com".into(),
            password: PASSWORD.into(),
        })
        .await,
        401,
        "invalid_credentials",
    );

    // Login: 200, a fresh session with its own tokens.
    let response = request(
        anon,
        Method::POST,
        "/v1/auth/login",
        Some(login_body("ada@example.com", PASSWORD)),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let second: TokenResponse = response.json().unwrap();
    assert_eq!(second.token_type, "Bearer");
    assert_eq!(second.expires_in, 900);
    assert_eq!(second.user.id, tokens.user.id);
    assert_ne!(second.refresh_token, tokens.refresh_token);
    let ada2 = server.account("ada@example.com", second);
    assert_ne!(current_session(&ada).await, current_session(&ada2).await);

    // Logout: 204, then the still-unexpired access token and the
    // session's refresh token are refused; the other session lives on.
    let logout = ada.send(Method::POST, "/v1/auth/logout", None).await;
    assert_eq!(logout.status, 204, "{}", logout.text());
    assert!(logout.body.is_empty());
    expect_signed_out(&ada.client, "after logout").await;
    expect_error(
        anon.refresh(&RefreshRequest {
            refresh_token: ada.tokens.refresh_token.clone(),
        })
        .await,
        401,
        "invalid_refresh_token",
    );
    expect_signed_in(&ada2.client, "the other session").await;
    let anonymous_logout = request(anon, Method::POST, "/v1/auth/logout", None).await;
    expect_problem(&anonymous_logout, 401, "unauthenticated");
}
scenario!(signup_login_me_and_logout);

/// A wrong password and an unknown email get byte-identical answers.
async fn login_failures_do_not_reveal_accounts(server: TestServer) {
    server.signup("victim@example.com").await;
    let wrong_password = request(
        &server.anon,
        Method::POST,
        "/v1/auth/login",
        Some(login_body("victim@example.com", "not the right passphrase")),
    )
    .await;
    let unknown_email = request(
        &server.anon,
        Method::POST,
        "/v1/auth/login",
        Some(login_body("nobody@example.com", "not the right passphrase")),
    )
    .await;
    expect_problem(&wrong_password, 401, "invalid_credentials");
    expect_problem(&unknown_email, 401, "invalid_credentials");
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(
        wrong_password.header("content-type"),
        unknown_email.header("content-type")
    );
    assert_eq!(
        wrong_password.header("www-authenticate"),
        unknown_email.header("www-authenticate")
    );
    assert_eq!(
        wrong_password.text(),
        unknown_email.text(),
        "the bodies differ, which tells an attacker which accounts exist"
    );
}
scenario!(login_failures_do_not_reveal_accounts);

/// Five quick failures for one account are free; the sixth attempt is
/// 429 with a numeric `Retry-After`, even with the right password.
async fn login_is_throttled_after_five_quick_failures(server: TestServer) {
    server.signup("target@example.com").await;
    for attempt in 1..=5 {
        let response = request(
            &server.anon,
            Method::POST,
            "/v1/auth/login",
            Some(login_body(
                "target@example.com",
                &format!("wrong guess number {attempt}"),
            )),
        )
        .await;
        assert_eq!(
            response.status,
            401,
            "attempt {attempt}: {}",
            response.text()
        );
        expect_problem(&response, 401, "invalid_credentials");
    }
    for (what, password) in [
        ("a sixth wrong guess", "wrong guess number 6"),
        ("the right password", PASSWORD),
    ] {
        let response = request(
            &server.anon,
            Method::POST,
            "/v1/auth/login",
            Some(login_body("target@example.com", password)),
        )
        .await;
        expect_problem(&response, 429, "throttled");
        let retry_after = response
            .header("retry-after")
            .unwrap_or_else(|| panic!("{what}: a 429 without Retry-After"));
        let seconds: u64 = retry_after
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{what}: Retry-After {retry_after:?} is not a number"));
        assert!(
            (1..=900).contains(&seconds),
            "{what}: Retry-After {seconds}"
        );
        crate::identity_http::expect_security_headers(&response, "a 429");
    }
}
scenario!(login_is_throttled_after_five_quick_failures);

/// Every refresh rotates; the previous token is refused (and reusing it
/// within the grace window does not end the session); of sixteen
/// concurrent refreshes of one token exactly one wins, and the winner's
/// token goes on working.
async fn refresh_rotates_and_only_one_concurrent_refresh_wins(server: TestServer) {
    let ada = server.signup("ada@example.com").await;
    let anon = &server.anon;
    let r0 = ada.tokens.refresh_token.clone();

    let response = request(
        anon,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": r0})),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let first: TokenResponse = response.json().unwrap();
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.expires_in, 900);
    assert_eq!(first.user.id, ada.id());
    assert_ne!(first.refresh_token, r0);
    assert_ne!(first.access_token, ada.tokens.access_token);
    expect_signed_in(
        &anon.with_token(&first.access_token),
        "the refreshed access token",
    )
    .await;

    // The rotated token is dead.
    let reuse = request(
        anon,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": r0})),
    )
    .await;
    expect_problem(&reuse, 401, "invalid_refresh_token");
    // Within the grace window that reuse did not end the session.
    let second = anon
        .refresh(&RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap();

    for garbage in ["", "not-a-refresh-token", &ada.tokens.access_token] {
        let response = request(
            anon,
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": garbage})),
        )
        .await;
        assert!(
            matches!(response.status, 401 | 422),
            "refresh with {garbage:?}: {} {}",
            response.status,
            response.text()
        );
        if response.status == 401 {
            expect_problem(&response, 401, "invalid_refresh_token");
        }
    }

    // Sixteen refreshes of one token at once: exactly one succeeds.
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let anon = anon.clone();
        let token = second.refresh_token.clone();
        racers.spawn(async move {
            request(
                &anon,
                Method::POST,
                "/v1/auth/refresh",
                Some(json!({"refresh_token": token})),
            )
            .await
        });
    }
    let answers = racers.join_all().await;
    let winners: Vec<_> = answers.iter().filter(|r| r.status == 200).collect();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(winners.len(), 1, "statuses: {statuses:?}");
    for loser in answers.iter().filter(|r| r.status != 200) {
        expect_problem(loser, 401, "invalid_refresh_token");
    }
    let winner: TokenResponse = winners[0].json().unwrap();
    expect_signed_in(
        &anon.with_token(&winner.access_token),
        "the winner's access token",
    )
    .await;
    let after = anon
        .refresh(&RefreshRequest {
            refresh_token: winner.refresh_token.clone(),
        })
        .await
        .unwrap_or_else(|error| panic!("the winner's refresh token: {error}"));
    expect_signed_in(&anon.with_token(&after.access_token), "after the race").await;
}
scenario!(refresh_rotates_and_only_one_concurrent_refresh_wins);

/// Sessions are listed with the current one marked; revoking another
/// session kills its unexpired access token on the next request;
/// another user's session is 404.
async fn sessions_are_listed_and_revoked_at_once(server: TestServer) {
    let first = server.signup("ada@example.com").await;
    let second = server.login("ada@example.com", PASSWORD).await;
    let third = server.login("ada@example.com", PASSWORD).await;
    let other = server.signup("bob@example.com").await;

    let response = first.send(Method::GET, "/v1/me/sessions", None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let listed: Value = response.json().unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{listed}");
    assert_eq!(
        items.iter().filter(|s| s["current"] == json!(true)).count(),
        1,
        "{listed}"
    );
    let first_id = current_session(&first).await;
    let second_id = current_session(&second).await;
    let third_id = current_session(&third).await;
    assert_eq!(
        BTreeSet::from([first_id, second_id, third_id]).len(),
        3,
        "each login is its own session"
    );

    // Revoke the second session from the first.
    let revoke = first
        .send(
            Method::DELETE,
            &format!("/v1/me/sessions/{second_id}"),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204, "{}", revoke.text());
    expect_signed_out(&second.client, "a revoked session's access token").await;
    expect_refresh_refused(&server, &second).await;
    expect_signed_in(&first.client, "the revoking session").await;
    expect_signed_in(&third.client, "an untouched session").await;

    // Another user's session, and one that never existed, are 404.
    for id in [first_id, Uuid::now_v7()] {
        let response = other
            .send(Method::DELETE, &format!("/v1/me/sessions/{id}"), None)
            .await;
        expect_problem(&response, 404, "session_not_found");
    }
    expect_signed_in(&first.client, "a session another user tried to revoke").await;

    // Logout of the third; only the first is left.
    third.client.logout().await.unwrap();
    expect_signed_out(&third.client, "after logout").await;
    let left: Vec<Uuid> = first
        .client
        .list_sessions()
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![first_id]);
}
scenario!(sessions_are_listed_and_revoked_at_once);

/// Changing the password needs the current one; with
/// `end_other_sessions` every other session ends at once, the one that
/// asked lives on; the old password stops working.
async fn password_change_can_end_the_other_sessions(server: TestServer) {
    let first = server.signup("ada@example.com").await;
    let second = server.login("ada@example.com", PASSWORD).await;
    let new_password = "an entirely new passphrase";

    let response = first
        .send(
            Method::POST,
            "/v1/me/password",
            Some(json!({
                "current_password": "not the current one",
                "new_password": new_password,
                "end_other_sessions": true,
            })),
        )
        .await;
    assert!(
        (400..500).contains(&response.status) && response.status != 401,
        "a wrong current password: {} {}",
        response.status,
        response.text()
    );
    let common = first
        .send(
            Method::POST,
            "/v1/me/password",
            Some(json!({
                "current_password": PASSWORD,
                "new_password": "password123456",
            })),
        )
        .await;
    let problem = expect_problem(&common, 422, "validation_failed");
    assert!(
        invalid_fields(&problem).contains("new_password"),
        "{problem:?}"
    );
    expect_signed_in(&second.client, "after refused changes").await;

    let response = first
        .send(
            Method::POST,
            "/v1/me/password",
            Some(json!({
                "current_password": PASSWORD,
                "new_password": new_password,
                "end_other_sessions": true,
            })),
        )
        .await;
    assert_eq!(response.status, 204, "{}", response.text());
    expect_signed_out(&second.client, "another session after the change").await;
    expect_refresh_refused(&server, &second).await;
    expect_signed_in(&first.client, "the session that changed it").await;
    expect_error(
        server
            .anon
            .login(&LoginRequest {
                email: "ada@example.com".into(),
                password: PASSWORD.into(),
            })
            .await,
        401,
        "invalid_credentials",
    );
    let again = server.login("ada@example.com", new_password).await;

    // Without the flag the other sessions stay.
    again
        .client
        .change_password(&ChangePasswordRequest {
            current_password: new_password.into(),
            new_password: "yet another new passphrase".into(),
            end_other_sessions: false,
        })
        .await
        .unwrap();
    expect_signed_in(&first.client, "without end_other_sessions").await;

    // Without a session there is no password to change.
    let anonymous = request(
        &server.anon,
        Method::POST,
        "/v1/me/password",
        Some(json!({"current_password": PASSWORD, "new_password": new_password})),
    )
    .await;
    expect_problem(&anonymous, 401, "unauthenticated");
}
scenario!(password_change_can_end_the_other_sessions);

/// With `BULKHEAD_SIGNUP_OPEN=false` sign-up is 403 `signup_closed`;
/// accounts made by the operator still sign in.
async fn signup_can_be_closed(backend: Backend) {
    let options = Options::default()
        .env("BULKHEAD_SIGNUP_OPEN", "false")
        .admin("root@example.com");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let closed = request(
        &server.anon,
        Method::POST,
        "/v1/auth/signup",
        Some(login_body("new@example.com", PASSWORD)),
    )
    .await;
    expect_problem(&closed, 403, "signup_closed");
    let admin = server.login_admin("root@example.com").await;
    expect_signed_in(&admin.client, "an operator-made account").await;
}
scenario!(signup_can_be_closed, backend);

/// Fails one login for an unknown email, sent as if forwarded for `ip`.
async fn failed_login_from(server: &TestServer, email: &str, ip: &str) -> RawResponse {
    server
        .anon
        .with_header("x-forwarded-for", ip)
        .raw(
            Method::POST,
            "/v1/auth/login",
            Some(login_body(email, "not anybody's passphrase")),
        )
        .await
        .unwrap()
}

/// `owner` creates a tenant, sending `X-Forwarded-For: forwarded_for`;
/// returns the address the audit log gives its `tenant.create` entry.
async fn audited_ip_of_creation(
    owner: &Account,
    forwarded_for: &str,
    tenant: &str,
    name: &str,
) -> Option<String> {
    owner
        .client
        .with_header("x-forwarded-for", forwarded_for)
        .create_tenant(&CreateTenantRequest {
            slug: tenant.into(),
            name: name.into(),
        })
        .await
        .unwrap();
    let log = owner
        .client
        .list_audit(
            tenant,
            &AuditQuery {
                action: Some("tenant.create".into()),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1, "{log:?}");
    log.items[0].ip.clone()
}

/// Without trusted proxies `X-Forwarded-For` is ignored: a client cannot
/// pick the address it is throttled and audited by, so five failures from
/// one peer spend that peer's budget whatever the header says. Behind a
/// trusted proxy the forwarded address is the client's.
async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    let Some(direct) = TestServer::start(backend).await else {
        return;
    };
    let ada = direct.signup("ada@example.com").await;
    assert_eq!(
        audited_ip_of_creation(&ada, "198.51.100.99", "direct", "Direct")
            .await
            .as_deref(),
        Some("127.0.0.1"),
        "an untrusted X-Forwarded-For reached the audit log"
    );
    for n in 1..=5 {
        let response = failed_login_from(
            &direct,
            &format!("nobody{n}@example.com"),
            &format!("198.51.100.{n}"),
        )
        .await;
        expect_problem(&response, 401, "invalid_credentials");
    }
    let sixth = failed_login_from(&direct, "nobody6@example.com", "198.51.100.6").await;
    assert_eq!(
        sixth.status,
        429,
        "a spoofed X-Forwarded-For escaped the per-address throttle: {}",
        sixth.text()
    );
    expect_problem(&sixth, 429, "throttled");
    drop(direct);

    let options = Options::default().env("BULKHEAD_TRUSTED_PROXIES", "127.0.0.1");
    let proxied = TestServer::start_with(backend, options).await.unwrap();
    let bob = proxied.signup("bob@example.com").await;
    assert_eq!(
        audited_ip_of_creation(&bob, "203.0.113.9", "proxied", "Proxied")
            .await
            .as_deref(),
        Some("203.0.113.9"),
        "the client's address behind a trusted proxy"
    );
    for n in 1..=5 {
        let response =
            failed_login_from(&proxied, &format!("nobody{n}@example.com"), "203.0.113.7").await;
        expect_problem(&response, 401, "invalid_credentials");
    }
    let same_client = failed_login_from(&proxied, "nobody6@example.com", "203.0.113.7").await;
    expect_problem(&same_client, 429, "throttled");
    let other_client = failed_login_from(&proxied, "nobody7@example.com", "203.0.113.8").await;
    expect_problem(&other_client, 401, "invalid_credentials");
}
scenario!(forwarded_addresses_count_only_from_trusted_proxies, backend);

/// Issue 17, defect 5: failed logins against other accounts from one
/// address (an office NAT, or everyone behind a proxy that is not in
/// `BULKHEAD_TRUSTED_PROXIES`) slow that address down, but a person who
/// signed up or logged in from there before still gets in with their
/// correct password. An account never seen from the address is refused
/// for a few seconds like any guess, without its password being checked.
/// (The service tests drive the delays with a manual clock.)
async fn a_correct_password_logs_in_from_an_address_that_failed_for_others(backend: Backend) {
    // A trusted proxy lets the test speak from two client addresses.
    let options = Options::default().env("BULKHEAD_TRUSTED_PROXIES", "127.0.0.1");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    const SHARED: &str = "203.0.113.7";
    let login_from = |email: &str, password: &str, ip: &str| {
        let client = server.anon.with_header("x-forwarded-for", ip);
        let body = login_body(email, password);
        async move { request(&client, Method::POST, "/v1/auth/login", Some(body)).await }
    };
    let signup_from = |email: &str, ip: &str| {
        let client = server.anon.with_header("x-forwarded-for", ip);
        let body = login_body(email, PASSWORD);
        async move {
            let response = request(&client, Method::POST, "/v1/auth/signup", Some(body)).await;
            assert_eq!(response.status, 201, "{}", response.text());
        }
    };
    signup_from("ada@example.com", SHARED).await;
    signup_from("bob@example.com", "198.51.100.2").await;
    let retry_after = |response: &RawResponse, what: &str| -> u64 {
        expect_problem(response, 429, "throttled");
        let seconds: u64 = response
            .header("retry-after")
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("{what}: a 429 without a numeric Retry-After"));
        assert!(
            (1..=4).contains(&seconds),
            "{what}: the address waits {seconds} s, more than a few seconds"
        );
        seconds
    };
    let mut n_slowed = 0;
    for n in 1..=105 {
        let response = login_from(
            &format!("stuffed{n}@example.com"),
            "not anybody's passphrase",
            SHARED,
        )
        .await;
        match response.status {
            401 => {
                expect_problem(&response, 401, "invalid_credentials");
            }
            429 => {
                n_slowed += 1;
                retry_after(&response, &format!("failure {n}"));
            }
            status => panic!("failure {n}: {status} {}", response.text()),
        }
    }
    assert!(n_slowed > 0, "the address was never slowed down");
    // Ada signed up from this address: her right password is let in while
    // it is slowed.
    let response = login_from("ada@example.com", PASSWORD, SHARED).await;
    assert_eq!(
        response.status,
        200,
        "other accounts' failures refused Ada at her own address: {}",
        response.text()
    );
    // Bob never used the address: right after a checked guess (the delay
    // is then 4 s), his right password waits like any guess, answered
    // before it is checked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let guess = login_from("stuffed@example.com", "not anybody's passphrase", SHARED).await;
        if guess.status == 401 {
            break;
        }
        retry_after(&guess, "a guess while slowed");
        assert!(
            std::time::Instant::now() < deadline,
            "the address stayed shut for 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let bob = login_from("bob@example.com", PASSWORD, SHARED).await;
    assert_eq!(bob.status, 429, "{}", bob.text());
    retry_after(&bob, "Bob's right password from the slowed address");
    let elsewhere = login_from("bob@example.com", PASSWORD, "198.51.100.2").await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text());
    signup_from("newcomer@example.com", SHARED).await;
}
scenario!(
    a_correct_password_logs_in_from_an_address_that_failed_for_others,
    backend
);
