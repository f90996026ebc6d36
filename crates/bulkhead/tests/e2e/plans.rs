//! Plans and quotas end to end, on both backends (issue 22): platform
//! admins manage plans and move tenants between them (audited in the
//! platform log); a write past a quota is 403 `quota_exceeded` naming the
//! quota, also at the edge under concurrency; a tenant's usage shows its
//! plan, limits and counts; a plan's ledger markup reaches the charges.

use std::sync::Arc;

use bulkhead_client::Method;
use bulkhead_client::types::Role;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::sync::Barrier;

use crate::harness::{Account, Backend, Database, Options, TestServer, expect_problem, request};

const PLANS: &str = "/v1/admin/plans";

fn plan_path(name: &str) -> String {
    format!("{PLANS}/{name}")
}

fn tenant_plan_path(t: &str) -> String {
    format!("/v1/admin/tenants/{t}/plan")
}

fn usage_path(t: &str) -> String {
    format!("/v1/tenants/{t}/usage")
}

fn records_path(t: &str) -> String {
    format!("/v1/tenants/{t}/collections/notes/records")
}

/// An answer that must be a success: its JSON body.
fn ok(answer: &bulkhead_client::RawResponse, status: u16, what: &str) -> Value {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
    answer.json().unwrap()
}

/// The actions of the platform's audit log, oldest first, read from the
/// database (no route lists the platform log).
async fn platform_actions(server: &TestServer) -> Vec<String> {
    let sql = "SELECT action FROM platform_audit_log ORDER BY seq";
    match server.database().expect("a database") {
        Database::SqliteFile(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let mut statement = connection.prepare(sql).unwrap();
            statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        }
        Database::PostgresOwner(url) => {
            let mut connection = PgConnection::connect(&url).await.unwrap();
            let actions: Vec<String> = sqlx::query_scalar(sql)
                .fetch_all(&mut connection)
                .await
                .unwrap();
            connection.close().await.unwrap();
            actions
        }
    }
}

/// A tenant whose owner made the `notes` collection.
async fn tenant_with_notes(server: &TestServer, slug: &str) -> (Account, String) {
    let owner = server.signup(&format!("owner@{slug}.example.com")).await;
    let tenant = server.create_tenant(&owner, slug).await;
    let answer = owner
        .send(
            Method::POST,
            &format!("/v1/tenants/{}/collections", tenant.slug),
            Some(json!({"name": "notes", "visibility": "tenant",
                "fields": [{"name": "title", "type": "text"}]})),
        )
        .await;
    ok(&answer, 201, "the notes collection");
    (owner, tenant.slug)
}

async fn create_note(owner: &Account, t: &str, title: &str) -> bulkhead_client::RawResponse {
    owner
        .send(
            Method::POST,
            &records_path(t),
            Some(json!({"title": title})),
        )
        .await
}

/// Platform admins list, add and change plans and move tenants; nobody
/// else may; each change is in the platform log; bad input is named.
async fn plans_are_managed_by_platform_admins_and_audited(backend: Backend) {
    let options = Options::default().admin("root@example.com");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let root = server.login_admin("root@example.com").await;
    let (owner, t) = tenant_with_notes(&server, "planned").await;

    let listed = ok(&root.send(Method::GET, PLANS, None).await, 200, "list");
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["enterprise", "free", "professional", "starter"]);
    let free = &listed["items"][1];
    assert_eq!(free["limits"], json!({"members": 3, "records": 1000}));
    assert_eq!(free["ledger_markup"], Value::Null);

    // Only platform admins; an owner is a stranger here.
    for (method, path, body) in [
        (Method::GET, PLANS.to_owned(), None),
        (Method::POST, PLANS.to_owned(), Some(json!({"name": "x"}))),
        (Method::GET, plan_path("free"), None),
        (Method::PATCH, plan_path("free"), Some(json!({}))),
        (
            Method::PUT,
            tenant_plan_path(&t),
            Some(json!({"plan": "enterprise"})),
        ),
    ] {
        let answer = owner.send(method.clone(), &path, body).await;
        expect_problem(&answer, 403, "forbidden");
    }

    let team = json!({"name": "team", "limits": {"members": 2, "records": 5,
        "requests_per_minute": 600}, "ledger_markup": "2.5"});
    let made = ok(
        &root.send(Method::POST, PLANS, Some(team.clone())).await,
        201,
        "create team",
    );
    assert_eq!(
        (made["name"].as_str(), made["ledger_markup"].as_str()),
        (Some("team"), Some("2.5"))
    );
    assert_eq!(
        made["limits"],
        json!({"members": 2, "records": 5, "requests_per_minute": 600})
    );
    expect_problem(
        &root.send(Method::POST, PLANS, Some(team)).await,
        409,
        "plan_exists",
    );
    for bad in [
        json!({"name": "Team"}),
        json!({"name": "ok", "ledger_markup": "0"}),
        json!({"name": "ok", "limits": {"requests_per_minute": 0}}),
    ] {
        let answer = root.send(Method::POST, PLANS, Some(bad.clone())).await;
        expect_problem(&answer, 422, "validation_failed");
    }

    // PATCH: limits replace the set; a null markup removes it.
    let changed = ok(
        &root
            .send(
                Method::PATCH,
                &plan_path("team"),
                Some(json!({"limits": {"records": 3}, "ledger_markup": null})),
            )
            .await,
        200,
        "patch team",
    );
    assert_eq!(changed["limits"], json!({"records": 3}));
    assert_eq!(changed["ledger_markup"], Value::Null);
    let read = ok(
        &root.send(Method::GET, &plan_path("team"), None).await,
        200,
        "read team",
    );
    assert_eq!(read["limits"], json!({"records": 3}));
    // The typed client reads the same plan, and the list with it.
    let typed = root.client.admin_get_plan("team").await.unwrap();
    assert_eq!(
        (typed.limits.records, typed.limits.members),
        (Some(3), None)
    );
    let listed = root.client.admin_list_plans().await.unwrap();
    assert_eq!(listed.items.len(), 5, "the four defaults and team");
    for path in [plan_path("nobody"), plan_path("Not-A-Name")] {
        let answer = root.send(Method::GET, &path, None).await;
        expect_problem(&answer, 404, "plan_not_found");
    }

    // Moving a tenant: to a plan that exists, of a tenant that exists.
    let moved = ok(
        &root
            .send(
                Method::PUT,
                &tenant_plan_path(&t),
                Some(json!({"plan": "team"})),
            )
            .await,
        200,
        "move",
    );
    assert_eq!(moved["plan"], "team");
    let answer = root
        .send(
            Method::PUT,
            &tenant_plan_path(&t),
            Some(json!({"plan": "nobody"})),
        )
        .await;
    expect_problem(&answer, 422, "validation_failed");
    let answer = root
        .send(
            Method::PUT,
            &tenant_plan_path("no-such-tenant"),
            Some(json!({"plan": "team"})),
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.text());

    // The owner sees the new plan and its limits at once.
    let usage = ok(
        &owner.send(Method::GET, &usage_path(&t), None).await,
        200,
        "usage",
    );
    assert_eq!(usage["plan"], "team");
    assert_eq!(usage["limits"], json!({"records": 3}));
    assert_eq!(
        usage["usage"]["members"], 1,
        "the owner: {}",
        usage["usage"]
    );
    assert_eq!(usage["usage"]["collections"], 1);

    let actions = platform_actions(&server).await;
    for action in [
        "admin.plan.create",
        "admin.plan.update",
        "admin.tenant.plan",
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            1,
            "{action} once in {actions:?}"
        );
    }
}

/// On a 5-record plan with 2 records, 16 creates at once give exactly 3
/// 201s and 13 403 `quota_exceeded` naming `records`; a delete makes room
/// again; members past the plan are refused at the invitation.
async fn quotas_refuse_writes_past_the_plan_exactly(backend: Backend) {
    const RACERS: usize = 16;
    let options = Options::default().admin("root@example.com");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let root = server.login_admin("root@example.com").await;
    let (owner, t) = tenant_with_notes(&server, "quota").await;
    let plan = json!({"name": "five", "limits": {"records": 5, "members": 2}});
    ok(
        &root.send(Method::POST, PLANS, Some(plan)).await,
        201,
        "plan",
    );
    ok(
        &root
            .send(
                Method::PUT,
                &tenant_plan_path(&t),
                Some(json!({"plan": "five"})),
            )
            .await,
        200,
        "move",
    );
    for title in ["one", "two"] {
        ok(&create_note(&owner, &t, title).await, 201, title);
    }

    let barrier = Arc::new(Barrier::new(RACERS));
    let owner = Arc::new(owner);
    let mut racers = Vec::new();
    for n in 0..RACERS {
        let (barrier, owner, t) = (Arc::clone(&barrier), Arc::clone(&owner), t.clone());
        racers.push(tokio::spawn(async move {
            barrier.wait().await;
            create_note(&owner, &t, &format!("racer {n}")).await
        }));
    }
    let mut created = 0;
    for racer in racers {
        let answer = racer.await.unwrap();
        match answer.status {
            201 => created += 1,
            _ => {
                let problem = expect_problem(&answer, 403, "quota_exceeded");
                assert_eq!(problem.quota.as_deref(), Some("records"));
            }
        }
    }
    assert_eq!(created, 3, "exactly what was left under the quota");
    let usage = ok(
        &owner.send(Method::GET, &usage_path(&t), None).await,
        200,
        "usage",
    );
    assert_eq!(usage["usage"]["records"], 5);
    let listed = ok(
        &owner.send(Method::GET, &records_path(&t), None).await,
        200,
        "list",
    );
    assert_eq!(listed["items"].as_array().unwrap().len(), 5);

    // A delete is never refused, and makes room for one more.
    let first = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let answer = owner
        .send(
            Method::DELETE,
            &format!("{}/{first}", records_path(&t)),
            None,
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    ok(
        &create_note(&owner, &t, "again").await,
        201,
        "after a delete",
    );
    expect_problem(
        &create_note(&owner, &t, "one too many").await,
        403,
        "quota_exceeded",
    );

    // Members: the owner and one more; the second invitation is refused.
    server
        .add_member(&owner, &t, "member@quota.example.com", Role::Member)
        .await;
    let answer = owner
        .send(
            Method::POST,
            &format!("/v1/tenants/{t}/invitations"),
            Some(json!({"email": "third@quota.example.com", "role": "member"})),
        )
        .await;
    let problem = expect_problem(&answer, 403, "quota_exceeded");
    assert_eq!(problem.quota.as_deref(), Some("members"));
}

/// A plan's ledger markup applies to its tenants' charges until a platform
/// admin sets the tenant's own.
async fn a_plans_markup_reaches_the_charges(backend: Backend) {
    let options = Options::default().admin("root@example.com");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let root = server.login_admin("root@example.com").await;
    let owner = server.signup("owner@markup.example.com").await;
    let t = server.create_tenant(&owner, "markup").await.slug;
    let plan = json!({"name": "agents", "ledger_markup": "5"});
    ok(
        &root.send(Method::POST, PLANS, Some(plan)).await,
        201,
        "plan",
    );
    ok(
        &root
            .send(
                Method::PUT,
                &tenant_plan_path(&t),
                Some(json!({"plan": "agents"})),
            )
            .await,
        200,
        "move",
    );
    let wallet = ok(
        &owner
            .send(
                Method::POST,
                &format!("/v1/tenants/{t}/ledger/accounts"),
                Some(json!({"name": "credits", "currency": "USD", "scale": 2})),
            )
            .await,
        201,
        "account",
    );
    let wallet = wallet["id"].as_str().unwrap().to_owned();
    let grant = request(
        &owner.client.with_header("Idempotency-Key", "fund"),
        Method::POST,
        &format!("/v1/tenants/{t}/ledger/grants"),
        Some(json!({"account": wallet, "amount": "10.00", "reason": "credits"})),
    )
    .await;
    ok(&grant, 201, "grant");
    let charge = |key: &'static str| {
        let (owner, t, wallet) = (owner.clone(), t.clone(), wallet.clone());
        async move {
            request(
                &owner.client.with_header("Idempotency-Key", key),
                Method::POST,
                &format!("/v1/tenants/{t}/ledger/charges"),
                Some(json!({"account": wallet, "cost": "0.10"})),
            )
            .await
        }
    };
    let first = ok(&charge("c1").await, 201, "charge at the plan's markup");
    assert_eq!(
        (first["markup"].as_str(), first["amount"].as_str()),
        (Some("5"), Some("0.50"))
    );
    let own = root
        .send(
            Method::PUT,
            &format!("/v1/admin/tenants/{t}/charge-markup"),
            Some(json!({"markup": "2"})),
        )
        .await;
    ok(&own, 200, "the tenant's own markup");
    let second = ok(&charge("c2").await, 201, "charge at the tenant's markup");
    assert_eq!(
        (second["markup"].as_str(), second["amount"].as_str()),
        (Some("2"), Some("0.20"))
    );
}

scenario!(plans_are_managed_by_platform_admins_and_audited, backend);
scenario!(quotas_refuse_writes_past_the_plan_exactly, backend);
scenario!(a_plans_markup_reaches_the_charges, backend);
