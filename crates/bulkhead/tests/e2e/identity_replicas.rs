//! Revocation across processes (RELIABILITY B3, C4): two `bulkhead serve`
//! processes share one PostgreSQL database, as replicas of a deployment
//! do, each with its own authentication cache. A revocation made through
//! one reaches the other by LISTEN/NOTIFY, which is asynchronous: inside
//! one process a revocation holds from the very next request (the other
//! identity scenarios check that), across processes within [`MAX_LAG`].
//! Every case where the replica still answered once is printed, so the
//! size of the window stays visible.
//!
//! PostgreSQL only: a SQLite file is served by one process.

use std::time::{Duration, Instant};

use bulkhead_client::types::{
    ChangePasswordRequest, CreateApiKeyRequest, PageQuery, Role, UpdateMemberRequest,
};
use bulkhead_client::{Client, Method};

use crate::harness::{Backend, Options, PASSWORD, TestServer, request};

/// How many sessions are revoked one after another, to catch a race.
const ROUNDS: usize = 10;

/// The longest a replica may go on accepting a revoked credential.
const MAX_LAG: Duration = Duration::from_secs(1);

/// When to stop asking a replica that has not caught up (to report the
/// lag rather than hang).
const GIVE_UP: Duration = Duration::from_secs(10);

/// Sends `GET path` through `client` until it answers `refused`; returns
/// how many answers were something else first, and for how long.
async fn until_refused(client: &Client, path: &str, refused: u16) -> (u32, Duration) {
    let started = Instant::now();
    let mut accepted = 0;
    loop {
        let response = request(client, Method::GET, path, None).await;
        if response.status == refused {
            return (accepted, started.elapsed());
        }
        accepted += 1;
        assert!(
            started.elapsed() < GIVE_UP,
            "{path} still answers {} after {GIVE_UP:?}: the revocation never reached the replica",
            response.status
        );
    }
}

/// Records a case where the replica answered before honouring the change:
/// printed, and a failure when it took longer than [`MAX_LAG`].
fn note(late: &mut Vec<String>, what: &str, (accepted, lag): (u32, Duration)) {
    if accepted > 0 {
        let message =
            format!("{what}: the replica accepted {accepted} more request(s) over {lag:?}");
        eprintln!("replica lag: {message}");
        if lag > MAX_LAG {
            late.push(message);
        }
    }
}

#[tokio::test]
async fn revocations_reach_the_other_replica_within_a_second() {
    let options = Options::default().admin("root@example.com");
    let Some(primary) = TestServer::start_with(Backend::Postgres, options).await else {
        return;
    };
    let (_replica_process, replica) = primary.replica().await.unwrap();
    let mut late = Vec::new();

    // Sessions revoked through the primary.
    let ada = primary.signup("ada@example.com").await;
    for round in 0..ROUNDS {
        let other = primary.login("ada@example.com", PASSWORD).await;
        let on_replica = replica.with_token(&other.tokens.access_token);
        on_replica.me().await.unwrap();
        let id = on_replica
            .list_sessions()
            .await
            .unwrap()
            .items
            .iter()
            .find(|s| s.current)
            .unwrap()
            .id;
        ada.client.revoke_session(id).await.unwrap();
        note(
            &mut late,
            &format!("session revoked (round {round})"),
            until_refused(&on_replica, "/v1/me", 401).await,
        );
    }

    // Logout.
    let leaving = primary.login("ada@example.com", PASSWORD).await;
    let on_replica = replica.with_token(&leaving.tokens.access_token);
    on_replica.me().await.unwrap();
    leaving.client.logout().await.unwrap();
    note(
        &mut late,
        "logout",
        until_refused(&on_replica, "/v1/me", 401).await,
    );

    // Password change ending the other sessions.
    let other = primary.login("ada@example.com", PASSWORD).await;
    let on_replica = replica.with_token(&other.tokens.access_token);
    on_replica.me().await.unwrap();
    ada.client
        .change_password(&ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "a replicated new passphrase".into(),
            end_other_sessions: true,
        })
        .await
        .unwrap();
    note(
        &mut late,
        "password change with end_other_sessions",
        until_refused(&on_replica, "/v1/me", 401).await,
    );

    // Membership removal, demotion, key revocation, suspension.
    let tenant = primary.create_tenant(&ada, "acme").await;
    let t = tenant.slug.as_str();
    let tenant_path = format!("/v1/tenants/{t}");
    let keys_path = format!("/v1/tenants/{t}/api-keys");
    let member = primary
        .add_member(&ada, t, "member@example.com", Role::Member)
        .await;
    let admin = primary
        .add_member(&ada, t, "admin@example.com", Role::Admin)
        .await;
    let key = ada
        .client
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "replicated".into(),
                role: Role::Viewer,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let member_on_replica = replica.with_token(&member.tokens.access_token);
    let admin_on_replica = replica.with_token(&admin.tokens.access_token);
    let key_on_replica = replica.with_token(&key.key);
    member_on_replica.get_tenant(t).await.unwrap();
    admin_on_replica
        .list_api_keys(t, &PageQuery::default())
        .await
        .unwrap();
    key_on_replica.get_tenant(t).await.unwrap();

    ada.client.remove_member(t, member.id()).await.unwrap();
    note(
        &mut late,
        "membership removal",
        until_refused(&member_on_replica, &tenant_path, 404).await,
    );
    ada.client
        .update_member(t, admin.id(), &UpdateMemberRequest { role: Role::Viewer })
        .await
        .unwrap();
    note(
        &mut late,
        "demotion",
        until_refused(&admin_on_replica, &keys_path, 403).await,
    );
    ada.client.revoke_api_key(t, key.id).await.unwrap();
    note(
        &mut late,
        "API key revocation",
        until_refused(&key_on_replica, &tenant_path, 401).await,
    );
    let ada_on_replica = replica.with_token(&ada.tokens.access_token);
    ada_on_replica.get_tenant(t).await.unwrap();
    let root = primary.login_admin("root@example.com").await;
    root.client.admin_suspend_tenant(t).await.unwrap();
    note(
        &mut late,
        "tenant suspension",
        until_refused(&ada_on_replica, &tenant_path, 403).await,
    );

    assert!(
        late.is_empty(),
        "changes made through one process took over {MAX_LAG:?} to reach the other:\n{}",
        late.join("\n")
    );
}
