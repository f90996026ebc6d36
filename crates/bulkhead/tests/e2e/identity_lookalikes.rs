//! Lookalike email addresses (issue 17, defect 4), on both backends: after
//! `victimX@example.com` signs up, no address that looks like it makes a
//! second account. Spellings with the same email key (case, fullwidth
//! letters, an IDN domain and its punycode) are the same account: sign-up
//! answers as for any taken address, and login reaches that account.
//! Spellings that only look alike (a Cyrillic letter, a zero-width space, a
//! stray combining mark) are refused as invalid, and so are invitations to
//! them. Accounts that collided before keys existed survive the migration
//! that adds them.

use bulkhead_client::Method;
use bulkhead_client::types::{CreateInvitationRequest, LoginRequest, PageQuery, Role};
use serde_json::json;

use crate::harness::{
    Backend, Options, PASSWORD, TestServer, expect_error, expect_problem, invalid_fields,
};
use crate::support::assert_success;

const VICTIM: &str = "victimX@example.com";

/// Same key as [`VICTIM`]: one account.
const SAME_ACCOUNT: &[&str] = &[
    "VictimX@example.com",
    "victimx@EXAMPLE.COM",
    "\u{ff56}ictimX@example.com",
    "\u{ff56}\u{ff49}\u{ff43}\u{ff54}\u{ff49}\u{ff4d}\u{ff38}\u{ff20}example.com",
];

/// Looks like [`VICTIM`] and is refused.
const REFUSED: &[&str] = &[
    "victimX@ex\u{0430}mple.com",
    "vi\u{0441}timX@example.com",
    "victim\u{200b}X@example.com",
    "victimX\u{200d}@example.com",
    "victim\u{202e}X@example.com",
    "victimX\u{0301}@example.com",
    "victimX@ex\u{0301}ample.com",
];

/// Servers that believe `X-Forwarded-For` from loopback, so each refused
/// sign-up can come from an address of its own: a taken address counts
/// against the client's address (no enumeration at speed), and these tests
/// make more than the free attempts.
fn behind_a_proxy() -> Options {
    Options::default().env("BULKHEAD_TRUSTED_PROXIES", "127.0.0.1")
}

/// `POST /v1/auth/signup` for `email`, from an address of its own.
async fn signup_status(server: &TestServer, email: &str) -> bulkhead_client::RawResponse {
    let n = server.unique();
    server
        .anon
        .with_header(
            "x-forwarded-for",
            format!("198.51.{}.{}", n / 250, n % 250 + 1),
        )
        .raw(
            Method::POST,
            "/v1/auth/signup",
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await
        .unwrap()
}

async fn lookalike_emails_never_become_new_accounts(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, behind_a_proxy()).await else {
        return;
    };
    let victim = server.signup(VICTIM).await;
    assert_eq!(victim.tokens.user.email, VICTIM);

    for email in SAME_ACCOUNT {
        let response = signup_status(&server, email).await;
        expect_problem(&response, 409, "email_taken");
        let tokens = server
            .anon
            .login(&LoginRequest {
                email: (*email).to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .unwrap_or_else(|error| panic!("logging in as {email:?}: {error}"));
        assert_eq!(
            tokens.user.id,
            victim.id(),
            "{email:?} reached another account"
        );
    }

    for email in REFUSED {
        let response = signup_status(&server, email).await;
        let problem = expect_problem(&response, 422, "validation_failed");
        assert_eq!(
            invalid_fields(&problem),
            ["email".to_owned()].into(),
            "{email:?}"
        );
    }

    // An IDN domain and its punycode: one account, stored as A-labels.
    let idn = server.signup("idn@b\u{00fc}cher.de").await;
    assert_eq!(idn.tokens.user.email, "idn@xn--bcher-kva.de");
    for email in ["idn@xn--bcher-kva.de", "idn@B\u{00dc}CHER.de"] {
        expect_problem(&signup_status(&server, email).await, 409, "email_taken");
        let tokens = server
            .anon
            .login(&LoginRequest {
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .unwrap();
        assert_eq!(tokens.user.id, idn.id(), "{email:?}");
    }

    // Invitations: the fullwidth spelling invites the victim, who accepts
    // it; a lookalike is refused; the member list shows one victim.
    let owner = server.signup("owner@example.com").await;
    let slug = format!("lookalikes-{}", server.unique());
    server.create_tenant(&owner, &slug).await;
    for email in REFUSED {
        let result = owner
            .client
            .create_invitation(
                &slug,
                &CreateInvitationRequest {
                    email: (*email).to_owned(),
                    role: Role::Member,
                },
            )
            .await;
        expect_error(result, 422, "validation_failed");
    }
    let invitation = owner
        .client
        .create_invitation(
            &slug,
            &CreateInvitationRequest {
                email: "\u{ff56}ictimX@EXAMPLE.com".to_owned(),
                role: Role::Member,
            },
        )
        .await
        .unwrap();
    let accepted = victim
        .client
        .accept_invitation(&bulkhead_client::types::AcceptInvitationRequest {
            token: invitation.token,
        })
        .await
        .unwrap();
    assert_eq!(accepted.role, Role::Member);
    let members = owner
        .client
        .list_members(&slug, &PageQuery::default())
        .await
        .unwrap();
    let emails: Vec<&str> = members
        .items
        .iter()
        .map(|member| member.user.email.as_str())
        .collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.contains(&VICTIM), "{emails:?}");
}
scenario!(lookalike_emails_never_become_new_accounts, backend);

/// Accounts from before email keys (written through the old schema) whose
/// addresses now share a key, oldest first in each pair.
const BEFORE_KEYS: &[(&str, &str)] = &[
    ("Ada@example.com", "ada@example.com"),
    ("bob@b\u{00fc}cher.de", "bob@xn--bcher-kva.de"),
    ("carol\u{200b}@example.com", "carol@example.com"),
];

/// The migration that adds email keys loses and blocks no account: each
/// of two colliding accounts still logs in with its own stored address,
/// both are reported (a warning naming them when the server starts, and
/// `bulkhead admin email-collisions`), another spelling reaches the older
/// one, and the key is taken for new sign-ups.
async fn accounts_sharing_a_key_before_the_migration_survive_it(backend: Backend) {
    let mut options = behind_a_proxy();
    for (older, newer) in BEFORE_KEYS {
        options = options
            .account_before_email_keys(older)
            .account_before_email_keys(newer);
    }
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };

    let mut pairs = Vec::new();
    for (older, newer) in BEFORE_KEYS {
        let older_account = server.login(older, PASSWORD).await;
        let newer_account = server.login(newer, PASSWORD).await;
        assert_eq!(older_account.tokens.user.email, *older);
        assert_eq!(newer_account.tokens.user.email, *newer);
        assert_ne!(older_account.id(), newer_account.id(), "{older} / {newer}");
        expect_problem(&signup_status(&server, newer).await, 409, "email_taken");
        pairs.push((older_account.id(), newer_account.id()));
    }
    let holder = server.login("ADA@example.com", PASSWORD).await;
    assert_eq!(holder.id(), pairs[0].0);

    let listed = assert_success(&server.cli(&["admin", "email-collisions"]).await);
    // The command's lines are tab-separated; its log lines are JSON.
    let lines: Vec<&str> = listed.lines().filter(|l| l.contains('\t')).collect();
    assert_eq!(lines.len(), 2 * BEFORE_KEYS.len(), "{listed}");
    for (older, newer) in &pairs {
        let older_line = lines.iter().position(|l| l.contains(&older.to_string()));
        let newer_line = lines.iter().position(|l| l.contains(&newer.to_string()));
        assert!(
            matches!((older_line, newer_line), (Some(o), Some(n)) if n == o + 1),
            "{listed}"
        );
    }

    let (_, logs, _) = server.stop().await;
    for (older, newer) in &pairs {
        assert!(
            logs.lines().any(|line| line.contains("share one key")
                && line.contains(&older.to_string())
                && line.contains(&newer.to_string())),
            "no warning names {older} and {newer}: {logs}"
        );
    }
}
scenario!(
    accounts_sharing_a_key_before_the_migration_survive_it,
    backend
);
