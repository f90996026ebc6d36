//! Credentials that must not work (RELIABILITY B4) and secrets that must
//! not be logged (G3), on both backends.
//!
//! The signing secret is unknown to the tests, so forged tokens are made
//! from real ones: the payload edited (expiry, audience, issuer, subject,
//! type) with the old signature kept, the signature tampered with, the
//! algorithm relabelled or `none`, the key id changed. Each must be 401 on
//! `GET /v1/me`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulkhead_client::Method;
use bulkhead_client::types::{
    AcceptInvitationRequest, ChangePasswordRequest, CreateApiKeyRequest, CreateInvitationRequest,
    LoginRequest, RefreshRequest, Role,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Backend, Options, TestServer, expect_error, expect_problem, request};

/// A JWT taken apart: header and payload as JSON, and the three segments
/// as they came.
struct Jwt {
    header: Value,
    payload: Value,
    segments: [String; 3],
}

impl Jwt {
    fn parse(token: &str) -> Jwt {
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 3, "not a JWT: {token}");
        let decode = |segment: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
        };
        Jwt {
            header: decode(segments[0]),
            payload: decode(segments[1]),
            segments: [
                segments[0].to_owned(),
                segments[1].to_owned(),
                segments[2].to_owned(),
            ],
        }
    }

    /// `header.payload.signature` with the given parts re-encoded.
    fn assemble(header: &Value, payload: &Value, signature: &str) -> String {
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
        format!("{}.{}.{signature}", encode(header), encode(payload))
    }

    /// The token with its payload edited and the original signature kept.
    fn with_payload(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut payload = self.payload.clone();
        edit(&mut payload);
        format!(
            "{}.{}.{}",
            self.segments[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()),
            self.segments[2]
        )
    }

    /// The token with its header edited, payload and signature kept.
    fn with_header(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut header = self.header.clone();
        edit(&mut header);
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            self.segments[1],
            self.segments[2]
        )
    }
}

/// `signature` with its first character changed (the first, because the
/// last one's low bits may be padding that decoders ignore).
fn tamper(signature: &str) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Shifts a numeric claim by `by` seconds.
fn shift(payload: &mut Value, claim: &str, by: i64) {
    let value = payload[claim]
        .as_i64()
        .unwrap_or_else(|| panic!("no numeric {claim}"));
    payload[claim] = json!(value + by);
}

/// Every credential in the negative set is 401 `unauthenticated` with
/// `WWW-Authenticate: Bearer` on `GET /v1/me`, while the genuine one
/// keeps working.
async fn forged_and_foreign_credentials_are_refused(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    // Another deployment: its own database, so its own signing key.
    let other = TestServer::start(Backend::Sqlite).await.unwrap();

    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let foreign = other.signup("ada@example.com").await;
    let jwt = Jwt::parse(&ada.tokens.access_token);
    for claim in ["exp", "iat", "aud", "iss", "sub"] {
        assert!(
            !jwt.payload[claim].is_null(),
            "access tokens carry `{claim}`: {}",
            jwt.payload
        );
    }
    assert_ne!(jwt.header["alg"], json!("none"));

    // An API key: valid on tenant routes, 403 on /v1/me; revoked, 401.
    let tenant = server.create_tenant(&ada, "acme").await;
    let key = ada
        .client
        .create_api_key(
            &tenant.slug,
            &CreateApiKeyRequest {
                name: "soon revoked".into(),
                role: Role::Viewer,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let key_client = server.anon.with_token(&key.key);
    key_client.get_tenant(&tenant.slug).await.unwrap();
    let on_me = request(&key_client, Method::GET, "/v1/me", None).await;
    expect_problem(&on_me, 403, "forbidden");
    ada.client
        .revoke_api_key(&tenant.slug, key.id)
        .await
        .unwrap();
    let mut altered_key: Vec<char> = key.key.chars().collect();
    let last = altered_key.len() - 1;
    altered_key[last] = if altered_key[last] == 'A' { 'B' } else { 'A' };
    let altered_key: String = altered_key.into_iter().collect();

    let none_header = json!({"alg": "none", "typ": "JWT"});
    let mut candidates: Vec<(&str, String)> = vec![
        ("garbage", "not-a-token".to_owned()),
        ("an empty bearer", String::new()),
        ("three empty segments", "..".to_owned()),
        (
            "alg none without a signature",
            Jwt::assemble(&none_header, &jwt.payload, ""),
        ),
        (
            "alg none keeping the signature",
            Jwt::assemble(&none_header, &jwt.payload, &jwt.segments[2]),
        ),
        (
            "alg None (capitalised) without a signature",
            Jwt::assemble(&json!({"alg": "None", "typ": "JWT"}), &jwt.payload, ""),
        ),
        (
            "alg relabelled HS512",
            jwt.with_header(|h| h["alg"] = json!("HS512")),
        ),
        (
            "alg relabelled RS256",
            jwt.with_header(|h| h["alg"] = json!("RS256")),
        ),
        (
            "an unknown kid",
            jwt.with_header(|h| h["kid"] = json!("no-such-key")),
        ),
        (
            "a header-supplied jwk",
            jwt.with_header(|h| h["jwk"] = json!({"kty": "oct", "k": "AAAA"})),
        ),
        (
            "a tampered signature",
            format!(
                "{}.{}.{}",
                jwt.segments[0],
                jwt.segments[1],
                tamper(&jwt.segments[2])
            ),
        ),
        (
            "no signature",
            format!("{}.{}.", jwt.segments[0], jwt.segments[1]),
        ),
        (
            "exp pushed into the future",
            jwt.with_payload(|p| shift(p, "exp", 86_400)),
        ),
        (
            "exp long past",
            jwt.with_payload(|p| {
                shift(p, "exp", -86_400);
                shift(p, "iat", -86_400);
            }),
        ),
        (
            "exp removed",
            jwt.with_payload(|p| {
                p.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "a wrong aud",
            jwt.with_payload(|p| p["aud"] = json!("someone-else")),
        ),
        (
            "a wrong iss",
            jwt.with_payload(|p| p["iss"] = json!("https://evil.example")),
        ),
        (
            "sub swapped to another user",
            jwt.with_payload(|p| p["sub"] = json!(bob.id().to_string())),
        ),
        (
            "typ refresh",
            jwt.with_payload(|p| p["typ"] = json!("refresh")),
        ),
        (
            "a refresh token as an access token",
            ada.tokens.refresh_token.clone(),
        ),
        ("a revoked API key", key.key.clone()),
        ("an API key with one character changed", altered_key),
        ("an API key prefix alone", key.prefix.clone()),
        (
            "a token of another deployment",
            foreign.tokens.access_token.clone(),
        ),
        (
            "a token of another deployment with our kid",
            Jwt::parse(&foreign.tokens.access_token)
                .with_header(|h| h["kid"] = jwt.header["kid"].clone()),
        ),
        (
            "a refresh token of another deployment",
            foreign.tokens.refresh_token.clone(),
        ),
    ];
    candidates.push((
        "two tokens",
        format!("{} {}", ada.tokens.access_token, ada.tokens.access_token),
    ));

    for (what, token) in &candidates {
        let response = server
            .anon
            .with_token(token)
            .raw(Method::GET, "/v1/me", None)
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(response.status, 401, "{what}: {}", response.text());
        expect_problem(&response, 401, "unauthenticated");
        assert!(!response.text().contains("ada@example.com"), "{what}");
    }

    // Other schemes and no header at all.
    for (what, client) in [
        ("no Authorization header", server.anon.clone()),
        (
            "Basic credentials",
            server
                .anon
                .with_header("authorization", "Basic YWRhQGV4YW1wbGUuY29tOnBhc3M="),
        ),
        (
            "a token without a scheme",
            server
                .anon
                .with_header("authorization", ada.tokens.access_token.as_str()),
        ),
    ] {
        let response = request(&client, Method::GET, "/v1/me", None).await;
        assert_eq!(response.status, 401, "{what}: {}", response.text());
        expect_problem(&response, 401, "unauthenticated");
    }

    // The genuine token still works: the refusals were not vacuous.
    let me = ada.client.me().await.unwrap();
    assert_eq!(me.user.id, ada.id());
    other
        .anon
        .with_token(&foreign.tokens.access_token)
        .me()
        .await
        .unwrap();
}
scenario!(forged_and_foreign_credentials_are_refused, backend);

/// A canary run (G3): the whole auth flow with marker passwords, then
/// the server's output is searched for every password, token and key
/// it handled. None may appear.
async fn secrets_never_reach_the_logs(backend: Backend) {
    // The most verbose application logging an operator might turn on.
    let options = Options::default().env("BULKHEAD_LOG", "debug");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let marker = Uuid::now_v7().simple().to_string();
    let first_password = format!("canary-{marker}-first");
    let second_password = format!("canary-{marker}-second");
    let wrong_password = format!("canary-{marker}-wrong");
    let mut secrets: Vec<(&str, String)> = vec![
        ("the first password", first_password.clone()),
        ("the second password", second_password.clone()),
        ("a wrong password", wrong_password.clone()),
    ];

    let ada = server
        .signup_with("canary@example.com", &first_password)
        .await;
    secrets.push((
        "the sign-up refresh token",
        ada.tokens.refresh_token.clone(),
    ));
    secrets.push(("the sign-up access token", ada.tokens.access_token.clone()));
    expect_error(
        server
            .anon
            .login(&LoginRequest {
                email: "canary@example.com".into(),
                password: wrong_password.clone(),
            })
            .await,
        401,
        "invalid_credentials",
    );
    let login = server.login("canary@example.com", &first_password).await;
    secrets.push((
        "the login refresh token",
        login.tokens.refresh_token.clone(),
    ));
    secrets.push(("the login access token", login.tokens.access_token.clone()));
    let refreshed = server
        .anon
        .refresh(&RefreshRequest {
            refresh_token: login.tokens.refresh_token.clone(),
        })
        .await
        .unwrap();
    secrets.push(("a rotated refresh token", refreshed.refresh_token.clone()));
    // A reuse, which the server refuses (and may log).
    expect_error(
        server
            .anon
            .refresh(&RefreshRequest {
                refresh_token: login.tokens.refresh_token.clone(),
            })
            .await,
        401,
        "invalid_refresh_token",
    );
    let current = server.anon.with_token(&refreshed.access_token);
    current
        .change_password(&ChangePasswordRequest {
            current_password: first_password.clone(),
            new_password: second_password.clone(),
            end_other_sessions: true,
        })
        .await
        .unwrap();
    let again = server.login("canary@example.com", &second_password).await;
    secrets.push(("the last refresh token", again.tokens.refresh_token.clone()));

    let tenant = server.create_tenant(&again, "canary").await;
    let key = again
        .client
        .create_api_key(
            &tenant.slug,
            &CreateApiKeyRequest {
                name: "canary key".into(),
                role: Role::Viewer,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    secrets.push(("an API key", key.key.clone()));
    server
        .anon
        .with_token(&key.key)
        .get_tenant(&tenant.slug)
        .await
        .unwrap();
    let invitation = again
        .client
        .create_invitation(
            &tenant.slug,
            &CreateInvitationRequest {
                email: "guest@example.com".into(),
                role: Role::Member,
            },
        )
        .await
        .unwrap();
    secrets.push(("an invitation token", invitation.token.clone()));
    let guest = server.signup("guest@example.com").await;
    guest
        .client
        .accept_invitation(&AcceptInvitationRequest {
            token: invitation.token.clone(),
        })
        .await
        .unwrap();
    // Rejected credentials are secrets too.
    let forged = format!("{}x", again.tokens.access_token);
    let _ = server.anon.with_token(&forged).me().await;
    again.client.logout().await.unwrap();

    let (status, stdout, stderr) = server.stop().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("/v1/auth/login") && stdout.contains("/v1/auth/refresh"),
        "the request logs were not captured, so the search below would prove nothing:\n{stdout}"
    );
    let logs = format!("{stdout}\n{stderr}");
    for (what, secret) in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "{what} appears in the server's output"
        );
    }
    assert!(
        !logs.contains(&marker),
        "the canary marker appears in the server's output"
    );
}
scenario!(secrets_never_reach_the_logs, backend);
