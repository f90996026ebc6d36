//! Tenants, members, invitations and API keys end to end, on both
//! backends: each endpoint's answer, the role rules, and revocations that
//! take effect on the very next request.

use std::collections::BTreeSet;

use bulkhead_client::types::{
    AcceptInvitationRequest, AcceptedMembership, ApiKeyCreated, ApiKeyList, CreateApiKeyRequest,
    CreateInvitationRequest, CreateTenantRequest, InvitationCreated, MemberList, MemberView,
    PageQuery, Role, TenantList, TenantView, UpdateMemberRequest, UpdateTenantRequest,
};
use bulkhead_client::{Client, Method, RawResponse};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Account, TestServer, expect_error, expect_problem, request, tenant_name};

/// How many accepts of one invitation race each other.
const RACERS: usize = 16;

fn invitation(email: &str, role: Role) -> CreateInvitationRequest {
    CreateInvitationRequest {
        email: email.to_owned(),
        role,
    }
}

fn key_request(name: &str, role: Role) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        name: name.to_owned(),
        role,
        expires_at: None,
    }
}

/// Members that [`acme_with`] brings in.
const ADMIN: (&str, Role) = ("admin@example.com", Role::Admin);
const MANAGER: (&str, Role) = ("manager@example.com", Role::Manager);
const MEMBER: (&str, Role) = ("member@example.com", Role::Member);

/// `owner@example.com` and its tenant `acme`, into which it brings
/// `members` (email and role), in order.
async fn acme_with<const N: usize>(
    server: &TestServer,
    members: [(&str, Role); N],
) -> (Account, TenantView, [Account; N]) {
    let owner = server.signup("owner@example.com").await;
    let tenant = server.create_tenant(&owner, "acme").await;
    let mut added = Vec::with_capacity(N);
    for (email, role) in members {
        added.push(server.add_member(&owner, &tenant.slug, email, role).await);
    }
    let Ok(added) = <[Account; N]>::try_from(added) else {
        unreachable!("one account per member")
    };
    (owner, tenant, added)
}

/// Every member of `tenant`, following cursors with pages of `limit`.
async fn all_members(client: &Client, tenant: &str, limit: u32) -> Vec<MemberView> {
    let mut members = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list_members(
                tenant,
                &PageQuery {
                    limit: Some(limit),
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        members.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return members,
        }
        assert!(members.len() < 1000, "the cursor never ends");
    }
}

fn role_of(members: &[MemberView], user: Uuid) -> Option<Role> {
    members.iter().find(|m| m.user.id == user).map(|m| m.role)
}

/// `PATCH`es a member's role as `client`.
async fn patch_role(client: &Client, path: &str, role: &str) -> RawResponse {
    request(client, Method::PATCH, path, Some(json!({ "role": role }))).await
}

/// `DELETE`s `path` as `client`.
async fn delete(client: &Client, path: &str) -> RawResponse {
    request(client, Method::DELETE, path, None).await
}

/// Asserts a refused role assignment: 403 `forbidden`, or 422 naming `role`
/// (the contract fixes that it is refused, not which of the two it is).
#[track_caller]
fn expect_role_refused(response: &RawResponse, what: &str) {
    match response.status {
        403 => {
            expect_problem(response, 403, "forbidden");
        }
        422 => {
            let problem = expect_problem(response, 422, "validation_failed");
            assert!(
                problem.errors.iter().any(|e| e.field == "role"),
                "{what}: {problem:?}"
            );
        }
        other => panic!(
            "{what}: expected 403 or 422, got {other}: {}",
            response.text()
        ),
    }
}

/// Create (201, caller is owner), 409 for a taken slug, 422 for a bad
/// one; list, read by slug and by id, rename, delete (owner only), and
/// 404 `tenant_not_found` afterwards.
async fn tenants_are_created_read_renamed_and_deleted(server: TestServer) {
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;

    let response = ada
        .send(
            Method::POST,
            "/v1/tenants",
            Some(json!({"slug": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let acme: TenantView = response.json().unwrap();
    assert_eq!((acme.slug.as_str(), acme.name.as_str()), ("acme", "Acme"));
    assert!(!acme.plan.is_empty());

    let taken = bob
        .send(
            Method::POST,
            "/v1/tenants",
            Some(json!({"slug": "acme", "name": "Other"})),
        )
        .await;
    expect_problem(&taken, 409, "slug_taken");
    for slug in ["a", "-acme", "Acme Corp", "acme_corp", &"x".repeat(64)] {
        let bad = bob
            .send(
                Method::POST,
                "/v1/tenants",
                Some(json!({"slug": slug, "name": "Bad"})),
            )
            .await;
        let problem = expect_problem(&bad, 422, "validation_failed");
        assert!(
            problem.errors.iter().any(|e| e.field == "slug"),
            "{slug:?}: {problem:?}"
        );
    }
    let with_plan = bob
        .send(
            Method::POST,
            "/v1/tenants",
            Some(json!({"slug": "freebie", "name": "F", "plan": "enterprise"})),
        )
        .await;
    expect_problem(&with_plan, 400, "invalid_body");
    let anonymous = request(
        &server.anon,
        Method::POST,
        "/v1/tenants",
        Some(json!({"slug": "anon", "name": "A"})),
    )
    .await;
    expect_problem(&anonymous, 401, "unauthenticated");

    let list = ada.send(Method::GET, "/v1/tenants", None).await;
    assert_eq!(list.status, 200);
    let list: TenantList = list.json().unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].tenant, acme);
    assert_eq!(list.items[0].role, Role::Owner);
    assert!(bob.client.list_tenants().await.unwrap().items.is_empty());
    let me = ada.client.me().await.unwrap();
    assert_eq!(me.memberships.len(), 1);
    assert_eq!(me.memberships[0].tenant.id, acme.id);
    assert_eq!(me.memberships[0].role, Role::Owner);

    let by_slug = ada.send(Method::GET, "/v1/tenants/acme", None).await;
    assert_eq!(by_slug.status, 200);
    assert_eq!(by_slug.json::<TenantView>().unwrap(), acme);
    assert_eq!(
        ada.client.get_tenant(&acme.id.to_string()).await.unwrap(),
        acme
    );

    let renamed = ada
        .send(
            Method::PATCH,
            "/v1/tenants/acme",
            Some(json!({"name": "Acme Renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    let renamed: TenantView = renamed.json().unwrap();
    assert_eq!(renamed.name, "Acme Renamed");
    assert_eq!((renamed.id, renamed.slug.as_str()), (acme.id, "acme"));
    // An empty patch changes nothing.
    let same = ada
        .client
        .update_tenant("acme", &UpdateTenantRequest::default())
        .await
        .unwrap();
    assert_eq!(same.name, "Acme Renamed");
    let blank = ada
        .send(Method::PATCH, "/v1/tenants/acme", Some(json!({"name": ""})))
        .await;
    expect_problem(&blank, 422, "validation_failed");

    // Only an owner deletes; an admin is 403.
    let admin = server
        .add_member(&ada, "acme", "admin@example.com", Role::Admin)
        .await;
    let refused = admin.send(Method::DELETE, "/v1/tenants/acme", None).await;
    expect_problem(&refused, 403, "forbidden");
    let admin_rename = admin
        .client
        .update_tenant(
            "acme",
            &UpdateTenantRequest {
                name: Some("Renamed by an admin".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(admin_rename.name, "Renamed by an admin");

    let deleted = ada.send(Method::DELETE, "/v1/tenants/acme", None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    for client in [&ada.client, &admin.client] {
        for path in ["/v1/tenants/acme", "/v1/tenants/acme/members"] {
            let gone = request(client, Method::GET, path, None).await;
            expect_problem(&gone, 404, "tenant_not_found");
        }
        let gone = client.get_tenant(&acme.id.to_string()).await;
        expect_error(gone, 404, "tenant_not_found");
    }
    assert!(ada.client.list_tenants().await.unwrap().items.is_empty());
    assert!(admin.client.me().await.unwrap().memberships.is_empty());
    // The slug is free again.
    let again = server.create_tenant(&bob, "acme").await;
    assert_ne!(again.id, acme.id);
    let missing = ada
        .send(Method::GET, "/v1/tenants/no-such-tenant", None)
        .await;
    let probe = ada.send(Method::GET, "/v1/tenants/acme", None).await;
    expect_problem(&missing, 404, "tenant_not_found");
    expect_problem(&probe, 404, "tenant_not_found");
    assert_eq!(
        missing.body, probe.body,
        "a stranger's tenant must look missing"
    );
}
scenario!(tenants_are_created_read_renamed_and_deleted);

/// Members are listed and paged; roles change within the rules (no
/// role above one's own, only an owner touches `owner`, the last owner
/// stays); members leave or are removed; 404 `member_not_found`.
async fn members_roles_and_leaving(server: TestServer) {
    let (owner, tenant, [admin, manager]) = acme_with(&server, [ADMIN, MANAGER]).await;
    let t = tenant.slug.as_str();
    let member = server
        .add_member(&admin, t, "member@example.com", Role::Member)
        .await;
    let viewer = server
        .add_member(&admin, t, "viewer@example.com", Role::Viewer)
        .await;

    let response = viewer
        .send(Method::GET, &format!("/v1/tenants/{t}/members"), None)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let list: MemberList = response.json().unwrap();
    assert_eq!(list.items.len(), 5);
    assert_eq!(list.next_cursor, None);
    let emails: BTreeSet<&str> = list.items.iter().map(|m| m.user.email.as_str()).collect();
    assert_eq!(
        emails,
        BTreeSet::from([
            "owner@example.com",
            "admin@example.com",
            "manager@example.com",
            "member@example.com",
            "viewer@example.com"
        ])
    );
    assert_eq!(role_of(&list.items, owner.id()), Some(Role::Owner));
    assert_eq!(role_of(&list.items, viewer.id()), Some(Role::Viewer));
    // Paging by two walks every member exactly once.
    let paged = all_members(&viewer.client, t, 2).await;
    let ids: BTreeSet<Uuid> = paged.iter().map(|m| m.user.id).collect();
    assert_eq!((paged.len(), ids.len()), (5, 5));
    let first = viewer
        .client
        .list_members(
            t,
            &PageQuery {
                limit: Some(1),
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    assert!(first.next_cursor.is_some());

    // An admin changes roles below owner: 200 with the member.
    let path = |user: Uuid| format!("/v1/tenants/{t}/members/{user}");
    let response = patch_role(&admin.client, &path(member.id()), "manager").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let changed: MemberView = response.json().unwrap();
    assert_eq!(changed.role, Role::Manager);
    assert_eq!(changed.user.id, member.id());
    assert_eq!(changed.user.email, "member@example.com");
    // …but not to owner, nor touching an owner, nor as a manager.
    let to_owner = patch_role(&admin.client, &path(member.id()), "owner").await;
    expect_role_refused(&to_owner, "an admin granting owner");
    let demote_owner = patch_role(&admin.client, &path(owner.id()), "viewer").await;
    expect_problem(&demote_owner, 403, "forbidden");
    let by_manager = patch_role(&manager.client, &path(viewer.id()), "member").await;
    expect_problem(&by_manager, 403, "forbidden");
    let remove_by_manager = delete(&manager.client, &path(viewer.id())).await;
    expect_problem(&remove_by_manager, 403, "forbidden");
    let bad_role = patch_role(&admin.client, &path(viewer.id()), "superuser").await;
    assert!(
        matches!(bad_role.status, 400 | 422),
        "an unknown role: {} {}",
        bad_role.status,
        bad_role.text()
    );
    let sneaky = admin
        .send(
            Method::PATCH,
            &path(viewer.id()),
            Some(json!({"role": "member", "tenant_id": Uuid::now_v7()})),
        )
        .await;
    expect_problem(&sneaky, 400, "invalid_body");

    // The last owner can neither be demoted nor leave…
    let demote_self = patch_role(&owner.client, &path(owner.id()), "admin").await;
    expect_problem(&demote_self, 409, "last_owner");
    let leave = delete(&owner.client, &path(owner.id())).await;
    expect_problem(&leave, 409, "last_owner");
    // …until there is a second owner, which only an owner can make.
    let promoted = owner
        .client
        .update_member(t, admin.id(), &UpdateMemberRequest { role: Role::Owner })
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Owner);
    let demoted = admin
        .client
        .update_member(t, owner.id(), &UpdateMemberRequest { role: Role::Admin })
        .await
        .unwrap();
    assert_eq!(demoted.role, Role::Admin);
    // `owner` is an admin now: it cannot touch the owner any more.
    let back = patch_role(&owner.client, &path(owner.id()), "owner").await;
    expect_role_refused(&back, "an admin making itself owner");

    // Anyone may leave; an admin removes others; 204 both.
    let left = delete(&viewer.client, &path(viewer.id())).await;
    assert_eq!(left.status, 204, "{}", left.text());
    expect_problem(
        &viewer
            .send(Method::GET, &format!("/v1/tenants/{t}"), None)
            .await,
        404,
        "tenant_not_found",
    );
    let removed = delete(&owner.client, &path(manager.id())).await;
    assert_eq!(removed.status, 204, "{}", removed.text());
    for user in [viewer.id(), manager.id(), Uuid::now_v7()] {
        let response = delete(&admin.client, &path(user)).await;
        expect_problem(&response, 404, "member_not_found");
        let response = patch_role(&admin.client, &path(user), "viewer").await;
        expect_problem(&response, 404, "member_not_found");
    }
    let remaining = all_members(&admin.client, t, 100).await;
    let remaining: BTreeSet<Uuid> = remaining.iter().map(|m| m.user.id).collect();
    assert_eq!(
        remaining,
        BTreeSet::from([owner.id(), admin.id(), member.id()])
    );
}
scenario!(members_roles_and_leaving);

/// Invitations: 201 with a one-time token; accepted once by the user
/// whose email it names (200); 409 when used or already a member; 404
/// for a made-up token; a role above the inviter's is refused; of
/// sixteen concurrent accepts exactly one succeeds.
async fn invitations_are_single_use(server: TestServer) {
    let (owner, tenant, [admin, manager]) = acme_with(&server, [ADMIN, MANAGER]).await;
    let t = tenant.slug.as_str();
    let guest = server.signup("guest@example.com").await;
    let stranger = server.signup("stranger@example.com").await;

    let response = admin
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            Some(json!({"email": "guest@example.com", "role": "member"})),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let created: InvitationCreated = response.json().unwrap();
    assert!(created.token.len() >= 22, "a short invitation token");

    // Someone else cannot use it.
    let wrong_user = stranger
        .send(
            Method::POST,
            "/v1/invitations/accept",
            Some(json!({"token": created.token})),
        )
        .await;
    assert!(
        matches!(wrong_user.status, 403 | 404),
        "accepted by the wrong user: {} {}",
        wrong_user.status,
        wrong_user.text()
    );
    let anonymous = request(
        &server.anon,
        Method::POST,
        "/v1/invitations/accept",
        Some(json!({"token": created.token})),
    )
    .await;
    expect_problem(&anonymous, 401, "unauthenticated");

    let response = guest
        .send(
            Method::POST,
            "/v1/invitations/accept",
            Some(json!({"token": created.token})),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let accepted: AcceptedMembership = response.json().unwrap();
    assert_eq!(accepted.tenant.id, tenant.id);
    assert_eq!(accepted.tenant.slug, "acme");
    assert_eq!(accepted.role, Role::Member);
    assert_eq!(guest.client.get_tenant(t).await.unwrap().id, tenant.id);
    let again = guest
        .client
        .accept_invitation(&AcceptInvitationRequest {
            token: created.token.clone(),
        })
        .await;
    expect_error(again, 409, "invitation_used");

    // Invited again while a member: 409 `already_member` on accept.
    let second = owner
        .client
        .create_invitation(t, &invitation("guest@example.com", Role::Admin))
        .await;
    match second {
        Err(error) => {
            assert_eq!(error.status(), Some(409), "{error}");
            assert_eq!(error.code(), Some("already_member"), "{error}");
        }
        Ok(second) => {
            let accept = guest
                .client
                .accept_invitation(&AcceptInvitationRequest {
                    token: second.token,
                })
                .await;
            expect_error(accept, 409, "already_member");
        }
    }

    for token in [
        "not-a-token".to_owned(),
        String::new(),
        format!("{}x", created.token),
        created.token.chars().rev().collect::<String>(),
    ] {
        let response = guest
            .send(
                Method::POST,
                "/v1/invitations/accept",
                Some(json!({"token": token})),
            )
            .await;
        assert!(
            matches!(response.status, 404 | 409 | 422),
            "token {token:?}: {} {}",
            response.status,
            response.text()
        );
        if response.status == 404 {
            expect_problem(&response, 404, "invitation_not_found");
        }
    }

    // Roles: none above the inviter's; only an owner invites owners;
    // a manager may not invite at all.
    let above = admin
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            Some(json!({"email": "boss@example.com", "role": "owner"})),
        )
        .await;
    expect_role_refused(&above, "an admin inviting an owner");
    let by_manager = manager
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            Some(json!({"email": "friend@example.com", "role": "viewer"})),
        )
        .await;
    expect_problem(&by_manager, 403, "forbidden");
    let bad_email = admin
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            Some(json!({"email": "not-an-email", "role": "viewer"})),
        )
        .await;
    let problem = expect_problem(&bad_email, 422, "validation_failed");
    assert!(
        problem.errors.iter().any(|e| e.field == "email"),
        "{problem:?}"
    );
    let boss = server.signup("boss@example.com").await;
    let owner_invite = owner
        .client
        .create_invitation(t, &invitation("boss@example.com", Role::Owner))
        .await
        .unwrap();
    let joined = boss
        .client
        .accept_invitation(&AcceptInvitationRequest {
            token: owner_invite.token,
        })
        .await
        .unwrap();
    assert_eq!(joined.role, Role::Owner);

    // Sixteen accepts of one invitation at once, by the invited user.
    let racer = server.signup("racer@example.com").await;
    let race = owner
        .client
        .create_invitation(t, &invitation("racer@example.com", Role::Viewer))
        .await
        .unwrap();
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let client = racer.client.clone();
        let token = race.token.clone();
        racers.spawn(async move {
            request(
                &client,
                Method::POST,
                "/v1/invitations/accept",
                Some(json!({"token": token})),
            )
            .await
        });
    }
    let answers = racers.join_all().await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "statuses: {statuses:?}"
    );
    for loser in answers.iter().filter(|r| r.status != 200) {
        let code = loser.problem_or_unexpected().code;
        assert!(
            loser.status == 409 && (code == "invitation_used" || code == "already_member"),
            "a losing accept: {} {}",
            loser.status,
            loser.text()
        );
    }
    let members = all_members(&owner.client, t, 100).await;
    assert_eq!(
        members.iter().filter(|m| m.user.id == racer.id()).count(),
        1,
        "one membership from the race"
    );
}
scenario!(invitations_are_single_use);

/// API keys: 201 with a `bk_` key shown once, listed without it; the key
/// acts inside its tenant with its role (403 above it, 403 on `/v1/me`,
/// 404 in another tenant); a role above the creator's is refused; a
/// revoked key is 401 on the next request; 404 `api_key_not_found`.
async fn api_keys_act_inside_their_tenant_until_revoked(server: TestServer) {
    let owner = server.signup("owner@example.com").await;
    let tenant = server.create_tenant(&owner, "acme").await;
    let other_tenant = server.create_tenant(&owner, "other").await;
    let t = tenant.slug.as_str();
    let admin = server
        .add_member(&owner, t, "admin@example.com", Role::Admin)
        .await;
    let member = server
        .add_member(&owner, t, "member@example.com", Role::Member)
        .await;

    let response = admin
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/api-keys"),
            Some(json!({"name": "ci", "role": "admin"})),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let admin_key: ApiKeyCreated = response.json().unwrap();
    assert!(admin_key.key.starts_with("bk_"), "{}", admin_key.prefix);
    assert!(admin_key.key.starts_with(&admin_key.prefix));
    assert!(admin_key.key.len() >= admin_key.prefix.len() + 22);
    assert_eq!(
        (admin_key.role, admin_key.name.as_str()),
        (Role::Admin, "ci")
    );
    assert_eq!(admin_key.expires_at, None);
    let viewer_key = owner
        .client
        .create_api_key(t, &key_request("dashboard", Role::Viewer))
        .await
        .unwrap();
    assert_ne!(viewer_key.key, admin_key.key);

    // Listed without the secret.
    let response = owner
        .send(Method::GET, &format!("/v1/tenants/{t}/api-keys"), None)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(!response.text().contains(&admin_key.key));
    assert!(!response.text().contains(&viewer_key.key));
    let listed: ApiKeyList = response.json().unwrap();
    let ids: BTreeSet<Uuid> = listed.items.iter().map(|k| k.id).collect();
    assert_eq!(ids, BTreeSet::from([admin_key.id, viewer_key.id]));
    assert!(listed.items.iter().all(|k| k.revoked_at.is_none()));

    // Acting with the keys.
    let as_admin_key = server.anon.with_token(&admin_key.key);
    let as_viewer_key = server.anon.with_token(&viewer_key.key);
    assert_eq!(as_admin_key.get_tenant(t).await.unwrap().id, tenant.id);
    assert_eq!(
        as_viewer_key
            .get_tenant(&tenant.id.to_string())
            .await
            .unwrap()
            .id,
        tenant.id
    );
    assert_eq!(
        as_viewer_key
            .list_members(t, &PageQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    as_admin_key
        .list_api_keys(t, &PageQuery::default())
        .await
        .unwrap();
    let by_key = as_admin_key
        .create_api_key(t, &key_request("made by a key", Role::Member))
        .await
        .unwrap();
    expect_error(
        as_viewer_key.list_api_keys(t, &PageQuery::default()).await,
        403,
        "forbidden",
    );
    expect_error(
        as_viewer_key
            .update_tenant(
                t,
                &UpdateTenantRequest {
                    name: Some("by a viewer key".into()),
                },
            )
            .await,
        403,
        "forbidden",
    );
    for key in [&as_admin_key, &as_viewer_key] {
        for path in ["/v1/me", "/v1/me/sessions"] {
            let response = request(key, Method::GET, path, None).await;
            expect_problem(&response, 403, "forbidden");
        }
        for path in [
            format!("/v1/tenants/{}", other_tenant.slug),
            format!("/v1/tenants/{}", other_tenant.id),
            format!("/v1/tenants/{}/members", other_tenant.slug),
            format!("/v1/tenants/{}/api-keys", other_tenant.slug),
        ] {
            let response = request(key, Method::GET, &path, None).await;
            expect_problem(&response, 404, "tenant_not_found");
        }
    }
    let key_creates_tenant = request(
        &as_admin_key,
        Method::POST,
        "/v1/tenants",
        Some(json!({"slug": "by-a-key", "name": "K"})),
    )
    .await;
    assert!(
        matches!(key_creates_tenant.status, 403),
        "an API key creating a tenant: {} {}",
        key_creates_tenant.status,
        key_creates_tenant.text()
    );

    // A key's role is at most its creator's; members may not make keys.
    let above = admin
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/api-keys"),
            Some(json!({"name": "too strong", "role": "owner"})),
        )
        .await;
    expect_role_refused(&above, "an admin making an owner key");
    let above_by_key = request(
        &as_admin_key,
        Method::POST,
        &format!("/v1/tenants/{t}/api-keys"),
        Some(json!({"name": "too strong", "role": "owner"})),
    )
    .await;
    expect_role_refused(&above_by_key, "an admin key making an owner key");
    let by_member = member
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/api-keys"),
            Some(json!({"name": "mine", "role": "viewer"})),
        )
        .await;
    expect_problem(&by_member, 403, "forbidden");
    let past = owner
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/api-keys"),
            Some(
                json!({"name": "expired", "role": "viewer", "expires_at": "2000-01-01T00:00:00Z"}),
            ),
        )
        .await;
    expect_problem(&past, 422, "validation_failed");
    let expiring = owner
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/api-keys"),
            Some(
                json!({"name": "expiring", "role": "viewer", "expires_at": "2999-01-01T00:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(expiring.status, 201, "{}", expiring.text());
    assert!(
        expiring
            .json::<ApiKeyCreated>()
            .unwrap()
            .expires_at
            .is_some()
    );

    // Revocation: 204, then the key is 401 on its very next request.
    let revoke = owner
        .send(
            Method::DELETE,
            &format!("/v1/tenants/{t}/api-keys/{}", admin_key.id),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204, "{}", revoke.text());
    let after = request(
        &as_admin_key,
        Method::GET,
        &format!("/v1/tenants/{t}"),
        None,
    )
    .await;
    expect_problem(&after, 401, "unauthenticated");
    // The key it made lives on; the revoked key is listed as revoked.
    server
        .anon
        .with_token(&by_key.key)
        .get_tenant(t)
        .await
        .unwrap();
    let listed = owner
        .client
        .list_api_keys(t, &PageQuery::default())
        .await
        .unwrap();
    let revoked = listed.items.iter().find(|k| k.id == admin_key.id);
    assert!(
        revoked.is_none_or(|k| k.revoked_at.is_some()),
        "a revoked key listed as live: {revoked:?}"
    );
    for id in [admin_key.id, Uuid::now_v7()] {
        let response = delete(&owner.client, &format!("/v1/tenants/{t}/api-keys/{id}")).await;
        assert!(
            response.status == 404 || (response.status == 204 && id == admin_key.id),
            "revoking {id} again: {} {}",
            response.status,
            response.text()
        );
        if response.status == 404 {
            expect_problem(&response, 404, "api_key_not_found");
        }
    }
    // Another tenant's key id through this tenant is not found.
    let foreign = owner
        .client
        .create_api_key(&other_tenant.slug, &key_request("elsewhere", Role::Viewer))
        .await
        .unwrap();
    let response = owner
        .send(
            Method::DELETE,
            &format!("/v1/tenants/{t}/api-keys/{}", foreign.id),
            None,
        )
        .await;
    expect_problem(&response, 404, "api_key_not_found");
    server
        .anon
        .with_token(&foreign.key)
        .get_tenant(&other_tenant.slug)
        .await
        .unwrap();
}
scenario!(api_keys_act_inside_their_tenant_until_revoked);

/// Membership removal and demotion take effect on the very next request
/// of the affected user, whose access token is still unexpired.
async fn removal_and_demotion_take_effect_at_once(server: TestServer) {
    let (owner, tenant, [admin, member]) = acme_with(&server, [ADMIN, MEMBER]).await;
    let t = tenant.slug.as_str();

    // Warm every cache on the way: the member reads, the admin manages.
    member.client.get_tenant(t).await.unwrap();
    admin
        .client
        .list_api_keys(t, &PageQuery::default())
        .await
        .unwrap();
    admin
        .client
        .list_members(t, &PageQuery::default())
        .await
        .unwrap();

    owner.client.remove_member(t, member.id()).await.unwrap();
    for path in [
        format!("/v1/tenants/{t}"),
        format!("/v1/tenants/{t}/members"),
    ] {
        let response = member.send(Method::GET, &path, None).await;
        expect_problem(&response, 404, "tenant_not_found");
    }
    assert!(member.client.me().await.unwrap().memberships.is_empty());

    owner
        .client
        .update_member(t, admin.id(), &UpdateMemberRequest { role: Role::Viewer })
        .await
        .unwrap();
    let response = admin
        .send(Method::GET, &format!("/v1/tenants/{t}/api-keys"), None)
        .await;
    expect_problem(&response, 403, "forbidden");
    let response = admin
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            Some(json!({"email": "x@example.com", "role": "viewer"})),
        )
        .await;
    expect_problem(&response, 403, "forbidden");
    // Still a viewer: reading is fine.
    admin.client.get_tenant(t).await.unwrap();
    let me = admin.client.me().await.unwrap();
    assert_eq!(me.memberships[0].role, Role::Viewer);
    let listed = admin.client.list_tenants().await.unwrap();
    assert_eq!(listed.items[0].role, Role::Viewer);
}
scenario!(removal_and_demotion_take_effect_at_once);

/// Creates a tenant named after its slug, through the raw route, for
/// scenarios that want the answer's headers.
pub async fn create_tenant_raw(
    client: &Client,
    slug: &str,
) -> (TenantView, bulkhead_client::RawResponse) {
    let response = request(
        client,
        Method::POST,
        "/v1/tenants",
        Some(
            serde_json::to_value(CreateTenantRequest {
                slug: slug.to_owned(),
                name: tenant_name(slug),
            })
            .unwrap(),
        ),
    )
    .await;
    assert_eq!(response.status, 201, "{}", response.text());
    (response.json().unwrap(), response)
}
