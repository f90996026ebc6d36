//! The audit log and the platform administrator, end to end on both
//! backends: what the log records and how it filters and pages; what a
//! platform admin can (list, search, suspend) and cannot (read tenant data
//! through the ordinary routes) do.

use std::collections::BTreeSet;

use bulkhead_client::types::{
    AdminTenantList, AdminTenantQuery, AdminTenantView, AuditEntryView, AuditList, AuditQuery,
    CreateApiKeyRequest, Role, UpdateMemberRequest,
};
use bulkhead_client::{Client, Method};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use crate::harness::{Backend, Options, TestServer, expect_error, expect_problem, request};
use crate::identity_tenants::create_tenant_raw;
use crate::support::{assert_success, stderr_of, stdout_of};

/// Every entry of `tenant`'s log matching `query`, following cursors.
pub(crate) async fn all_audit(
    client: &Client,
    tenant: &str,
    query: &AuditQuery,
) -> Vec<AuditEntryView> {
    let mut entries = Vec::new();
    let mut query = query.clone();
    loop {
        let page = client.list_audit(tenant, &query).await.unwrap();
        if let Some(limit) = query.limit {
            assert!(page.items.len() <= limit as usize, "a page over its limit");
        }
        entries.extend(page.items);
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => return entries,
        }
        assert!(entries.len() < 10_000, "the cursor never ends");
    }
}

fn with_action(action: &str) -> AuditQuery {
    AuditQuery {
        action: Some(action.to_owned()),
        ..AuditQuery::default()
    }
}

/// Whether `bulkhead audit verify` exists in this build.
async fn audit_verify_exists(server: &TestServer) -> bool {
    let help = server.cli(&["audit", "verify", "--help"]).await;
    help.status.success()
}

/// Mutations and denials are recorded with actor, outcome and request
/// id; the log filters by action, actor and time, pages without gaps or
/// repeats, newest first; admin and above only; the chains verify.
async fn the_audit_log_records_filters_and_pages(server: TestServer) {
    let owner = server.signup("owner@example.com").await;
    let (tenant, created) = create_tenant_raw(&owner.client, "acme").await;
    let t = tenant.slug.as_str();
    let admin = server
        .add_member(&owner, t, "admin@example.com", Role::Admin)
        .await;
    let member = server
        .add_member(&admin, t, "member@example.com", Role::Member)
        .await;
    owner
        .client
        .update_member(
            t,
            member.id(),
            &UpdateMemberRequest {
                role: Role::Manager,
            },
        )
        .await
        .unwrap();
    let key = admin
        .client
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "audited".into(),
                role: Role::Admin,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let viewer_key = admin
        .client
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "viewer".into(),
                role: Role::Viewer,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    // Denials: a stranger probes the tenant; the manager tries an
    // admin-only action.
    let stranger = server.signup("stranger@example.com").await;
    expect_error(stranger.client.get_tenant(t).await, 404, "tenant_not_found");
    let denied = member
        .send(Method::GET, &format!("/v1/tenants/{t}/audit"), None)
        .await;
    expect_problem(&denied, 403, "forbidden");

    let response = owner
        .send(Method::GET, &format!("/v1/tenants/{t}/audit"), None)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let raw: serde_json::Value = response.json().unwrap();
    assert!(raw.get("next_cursor").is_some(), "{raw}");
    let everything = all_audit(&owner.client, t, &AuditQuery::default()).await;
    let actions: BTreeSet<&str> = everything.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "tenant.create",
        "invitation.create",
        "invitation.accept",
        "member.role_change",
        "api_key.create",
    ] {
        assert!(
            actions.contains(action),
            "no {action} entry among {actions:?}"
        );
    }
    // Newest first.
    for pair in everything.windows(2) {
        assert!(pair[0].at >= pair[1].at, "not newest first: {pair:?}");
    }
    let ids: BTreeSet<Uuid> = everything.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), everything.len(), "an entry repeated");

    let create = everything
        .iter()
        .find(|e| e.action == "tenant.create")
        .unwrap();
    assert_eq!(create.outcome, "success");
    assert_eq!(create.actor.kind, "user");
    assert_eq!(create.actor.id, Some(owner.id()));
    if let Some(request_id) = created.header("x-request-id") {
        assert_eq!(
            create.request_id.as_deref(),
            Some(request_id),
            "the entry names the request that made it"
        );
    }
    // A stranger's probe is not the tenant's business (and anyone could
    // flood its log with them): it is summarised in the platform's log.
    assert!(
        everything.iter().all(|e| e.actor.id != Some(stranger.id())),
        "a stranger's probe was written into the tenant's log"
    );
    let key_entry = everything
        .iter()
        .find(|e| e.action == "api_key.create" && e.resource_id == Some(key.id.to_string()))
        .unwrap_or_else(|| panic!("no api_key.create entry for {}", key.id));
    assert_eq!(key_entry.actor.id, Some(admin.id()));
    assert!(
        !serde_json::to_string(&everything)
            .unwrap()
            .contains(&key.key),
        "an API key's secret is in the audit log"
    );
    assert!(
        everything
            .iter()
            .any(|e| e.outcome == "denied" && e.actor.id == Some(member.id())),
        "the manager's denied read of the audit log is not recorded"
    );

    // Filters.
    let role_changes = all_audit(&owner.client, t, &with_action("member.role_change")).await;
    assert!(!role_changes.is_empty());
    assert!(
        role_changes
            .iter()
            .all(|e| e.action == "member.role_change")
    );
    let change = &role_changes[0];
    assert_eq!(change.actor.id, Some(owner.id()));
    assert_eq!(change.resource_id, Some(member.id().to_string()));
    let by_admin = all_audit(
        &owner.client,
        t,
        &AuditQuery {
            actor: Some(admin.id().to_string()),
            ..AuditQuery::default()
        },
    )
    .await;
    assert!(!by_admin.is_empty());
    assert!(
        by_admin.iter().all(|e| e.actor.id == Some(admin.id())),
        "{by_admin:?}"
    );
    let future = OffsetDateTime::from_unix_timestamp(4_000_000_000).unwrap();
    let none_after = all_audit(
        &owner.client,
        t,
        &AuditQuery {
            since: Some(future),
            ..AuditQuery::default()
        },
    )
    .await;
    assert!(none_after.is_empty(), "{none_after:?}");
    let none_before = all_audit(
        &owner.client,
        t,
        &AuditQuery {
            until: Some(datetime!(2000-01-01 00:00 UTC)),
            ..AuditQuery::default()
        },
    )
    .await;
    assert!(none_before.is_empty(), "{none_before:?}");
    let middle = everything[everything.len() / 2].at;
    let since_middle = all_audit(
        &owner.client,
        t,
        &AuditQuery {
            since: Some(middle),
            ..AuditQuery::default()
        },
    )
    .await;
    assert!(!since_middle.is_empty());
    assert!(since_middle.iter().all(|e| e.at >= middle));
    let until_middle = all_audit(
        &owner.client,
        t,
        &AuditQuery {
            until: Some(middle),
            ..AuditQuery::default()
        },
    )
    .await;
    assert!(until_middle.iter().all(|e| e.at < middle));

    // Paging by two gives the same entries, once each.
    let paged = all_audit(
        &owner.client,
        t,
        &AuditQuery {
            limit: Some(2),
            ..AuditQuery::default()
        },
    )
    .await;
    let paged_ids: Vec<Uuid> = paged.iter().map(|e| e.id).collect();
    let everything_ids: Vec<Uuid> = everything.iter().map(|e| e.id).collect();
    assert_eq!(
        paged_ids, everything_ids,
        "paging by two lost, repeated or reordered entries"
    );
    let huge = owner
        .send(
            Method::GET,
            &format!("/v1/tenants/{t}/audit?limit=1000"),
            None,
        )
        .await;
    assert!(
        matches!(huge.status, 200 | 400 | 422),
        "{} {}",
        huge.status,
        huge.text()
    );
    if huge.status == 200 {
        assert!(huge.json::<AuditList>().unwrap().items.len() <= 100);
    }

    // Who may read it.
    let as_key = server.anon.with_token(&key.key);
    as_key.list_audit(t, &AuditQuery::default()).await.unwrap();
    expect_error(
        server
            .anon
            .with_token(&viewer_key.key)
            .list_audit(t, &AuditQuery::default())
            .await,
        403,
        "forbidden",
    );
    expect_error(
        stranger.client.list_audit(t, &AuditQuery::default()).await,
        404,
        "tenant_not_found",
    );
    let anonymous = request(
        &server.anon,
        Method::GET,
        &format!("/v1/tenants/{t}/audit"),
        None,
    )
    .await;
    expect_problem(&anonymous, 401, "unauthenticated");

    // The hash chains verify, when this build has the command.
    if audit_verify_exists(&server).await {
        let all = server.cli(&["audit", "verify"]).await;
        let stdout = assert_success(&all);
        assert!(!stdout.trim().is_empty(), "audit verify printed nothing");
        let one = server.cli(&["audit", "verify", "--tenant", t]).await;
        assert_success(&one);
        let missing = server
            .cli(&["audit", "verify", "--tenant", "no-such-tenant"])
            .await;
        assert!(
            !missing.status.success(),
            "verifying a missing tenant succeeded: {}{}",
            stdout_of(&missing),
            stderr_of(&missing)
        );
    } else {
        eprintln!("SKIPPED: `bulkhead audit verify` is not in this build yet");
    }
}
scenario!(the_audit_log_records_filters_and_pages);

/// A platform admin lists, searches and pages every tenant, suspends and
/// reinstates one (its members then get 403 `tenant_suspended` on its
/// routes, strangers still 404, `/v1/me` still works), and has no access
/// to tenant data through the ordinary routes. Everyone else gets 403.
async fn the_platform_admin_lists_and_suspends_but_reads_no_tenant_data(backend: Backend) {
    let options = Options::default().admin("root@example.com");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let root = server.login_admin("root@example.com").await;
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let acme = server.create_tenant(&ada, "acme").await;
    let globex = server.create_tenant(&bob, "globex").await;
    let initech = server.create_tenant(&bob, "initech").await;
    let ada_key = ada
        .client
        .create_api_key(
            "acme",
            &CreateApiKeyRequest {
                name: "k".into(),
                role: Role::Admin,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let as_key = server.anon.with_token(&ada_key.key);

    let response = root.send(Method::GET, "/v1/admin/tenants", None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let list: AdminTenantList = response.json().unwrap();
    let slugs: BTreeSet<&str> = list.items.iter().map(|t| t.slug.as_str()).collect();
    assert_eq!(slugs, BTreeSet::from(["acme", "globex", "initech"]));
    assert!(list.items.iter().all(|t| t.suspended_at.is_none()));
    let found = root
        .client
        .admin_list_tenants(&AdminTenantQuery {
            q: Some("glob".into()),
            ..AdminTenantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1, "{found:?}");
    assert_eq!(found.items[0].id, globex.id);
    let by_name = root
        .client
        .admin_list_tenants(&AdminTenantQuery {
            q: Some(globex.name.clone()),
            ..AdminTenantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1, "search by name: {by_name:?}");
    // Paging by one walks all three.
    let mut seen = Vec::new();
    let mut query = AdminTenantQuery {
        limit: Some(1),
        ..AdminTenantQuery::default()
    };
    loop {
        let page = root.client.admin_list_tenants(&query).await.unwrap();
        assert!(page.items.len() <= 1);
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
        assert!(seen.len() < 10, "the cursor never ends");
    }
    assert_eq!(
        BTreeSet::from_iter(seen.clone()),
        BTreeSet::from([acme.id, globex.id, initech.id])
    );
    assert_eq!(seen.len(), 3);

    // Nobody else: 403 for users and keys, 401 anonymous.
    for (what, client) in [("a tenant owner", &ada.client), ("an API key", &as_key)] {
        for (method, path) in [
            (Method::GET, "/v1/admin/tenants".to_owned()),
            (Method::POST, "/v1/admin/tenants/acme/suspend".to_owned()),
            (
                Method::POST,
                format!("/v1/admin/tenants/{}/suspend", globex.id),
            ),
            (Method::POST, "/v1/admin/tenants/acme/unsuspend".to_owned()),
        ] {
            let response = request(client, method, &path, None).await;
            assert_eq!(
                response.status,
                403,
                "{what} on {path}: {}",
                response.text()
            );
            expect_problem(&response, 403, "forbidden");
        }
    }
    let anonymous = request(&server.anon, Method::GET, "/v1/admin/tenants", None).await;
    expect_problem(&anonymous, 401, "unauthenticated");

    // No tenant data through the ordinary routes.
    for path in [
        "/v1/tenants/acme".to_owned(),
        format!("/v1/tenants/{}", acme.id),
        "/v1/tenants/acme/members".to_owned(),
        "/v1/tenants/acme/api-keys".to_owned(),
        "/v1/tenants/acme/audit".to_owned(),
    ] {
        let response = root.send(Method::GET, &path, None).await;
        expect_problem(&response, 404, "tenant_not_found");
    }
    assert!(root.client.list_tenants().await.unwrap().items.is_empty());

    // Suspension.
    let missing = root
        .send(
            Method::POST,
            "/v1/admin/tenants/no-such-tenant/suspend",
            None,
        )
        .await;
    expect_problem(&missing, 404, "tenant_not_found");
    let response = root
        .send(Method::POST, "/v1/admin/tenants/acme/suspend", None)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let suspended: AdminTenantView = response.json().unwrap();
    assert_eq!(suspended.id, acme.id);
    assert!(suspended.suspended_at.is_some());
    for path in [
        "/v1/tenants/acme".to_owned(),
        format!("/v1/tenants/{}", acme.id),
        "/v1/tenants/acme/members".to_owned(),
        "/v1/tenants/acme/api-keys".to_owned(),
    ] {
        for (what, client) in [("its owner", &ada.client), ("its API key", &as_key)] {
            let response = request(client, Method::GET, &path, None).await;
            assert_eq!(
                response.status,
                403,
                "{what} on {path}: {}",
                response.text()
            );
            expect_problem(&response, 403, "tenant_suspended");
        }
        // A stranger learns nothing, suspended or not.
        let response = bob.send(Method::GET, &path, None).await;
        expect_problem(&response, 404, "tenant_not_found");
    }
    let rename = ada
        .send(
            Method::PATCH,
            "/v1/tenants/acme",
            Some(json!({"name": "while suspended"})),
        )
        .await;
    expect_problem(&rename, 403, "tenant_suspended");
    let me = ada.client.me().await.unwrap();
    assert_eq!(me.user.id, ada.id());
    // Other tenants are untouched.
    bob.client.get_tenant("globex").await.unwrap();
    let listed = root
        .client
        .admin_list_tenants(&AdminTenantQuery {
            q: Some("acme".into()),
            ..AdminTenantQuery::default()
        })
        .await
        .unwrap();
    assert!(listed.items[0].suspended_at.is_some());

    let response = root
        .send(
            Method::POST,
            &format!("/v1/admin/tenants/{}/unsuspend", acme.id),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let reinstated: AdminTenantView = response.json().unwrap();
    assert_eq!(reinstated.suspended_at, None);
    assert_eq!(ada.client.get_tenant("acme").await.unwrap().id, acme.id);
    as_key.get_tenant("acme").await.unwrap();
    // Still nothing for the admin through the ordinary routes.
    expect_error(
        root.client.get_tenant("acme").await,
        404,
        "tenant_not_found",
    );
}
scenario!(
    the_platform_admin_lists_and_suspends_but_reads_no_tenant_data,
    backend
);
