//! The tenant isolation and role matrices (RELIABILITY C1, C3, C4), generated
//! from the server's own `GET /openapi.json` and run on both backends.
//!
//! Every route whose path names a tenant (`{t}`, or `{tenant}` as the admin
//! routes write it), with every method the document lists, is aimed at
//! tenant B:
//!
//! - by outsiders (tenant A's owner, tenant A's admin API key, a signed-in
//!   user with no tenant): 404 `tenant_not_found` (403 on the platform
//!   admin's routes), byte-identical to the answer for a tenant that does
//!   not exist, with nothing of B in it, and B unchanged afterwards; the
//!   same through B's tenant host, and with methods the path lacks;
//! - anonymously: 401;
//! - by B's own lower roles (users and API keys): 403 `forbidden` on every
//!   route above their role, 200 on the reads they may make; on a route
//!   about something of B's owner that some roles may not see (a ledger
//!   account), 404 for those roles instead, since what one may not see does
//!   not exist.
//!
//! Collection and record routes are aimed at B's collection `projects`
//! (tenant A has one of the same name, so names collide) and at a record of
//! B's owner there; A's callers also try B's record ids through A's own
//! `projects`, which answers as for an id that never existed. The event
//! stream is only opened, never read to its end. Ledger routes are aimed at
//! a funded account of B's owner and an open hold on it (and A's callers
//! try B's account and hold ids through A's own path too), limit-profile
//! routes at a default profile; transfers, holds, grants and charges carry
//! an `Idempotency-Key`.
//!
//! [`RULES`] holds the minimum role, the request body and headers of each
//! route, and which lower roles are answered 404 rather than 403. A
//! route in the document that is missing from it fails the test, so a new
//! route cannot escape the matrix; a rule for a route the document no
//! longer lists fails it too.

use std::collections::{BTreeMap, BTreeSet};

use bulkhead_client::types::{
    AccountView, ApiKeyCreated, CollectionSpec, CreateAccountRequest, CreateApiKeyRequest,
    CreateHoldRequest, CreateInvitationRequest, CreateTransferRequest, HoldView, PageQuery,
    RecordQuery, RecordView, Role, TenantView,
};
use bulkhead_client::{Client, Method, RawResponse};
use serde_json::Value;
use uuid::Uuid;

use crate::harness::{Account, Backend, Options, TestServer, expect_problem, request};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// A member (or API key) of the tenant with at least this role.
    Role(Role),
    /// A platform administrator; nobody's tenant role suffices.
    PlatformAdmin,
}

/// Lower roles that may use a route but not see what it names: they are
/// answered 404 `code`, as if it did not exist, instead of 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unseen {
    /// The lowest role answered 404; those below it get 403 (the route is
    /// above them whatever it names).
    from: Role,
    /// The first role that sees it.
    below: Role,
    code: &'static str,
}

impl Unseen {
    fn hides_from(&self, role: Role) -> bool {
        self.from <= role && role < self.below
    }
}

/// One route of the document: who may use it and what to send.
struct Rule {
    method: &'static str,
    path: &'static str,
    needs: Needs,
    /// The JSON body sent with the request, if any. Bodies are valid, so a
    /// refusal is about who asks, not what they sent. `{from}` and `{to}`
    /// in it are two accounts of B ([`World::fill_body`]).
    body: Option<&'static str>,
    /// Headers sent besides the credential.
    headers: &'static [(&'static str, &'static str)],
    unseen: Option<Unseen>,
}

const fn rule(
    method: &'static str,
    path: &'static str,
    needs: Needs,
    body: Option<&'static str>,
) -> Rule {
    Rule {
        method,
        path,
        needs,
        body,
        headers: &[],
        unseen: None,
    }
}

impl Rule {
    /// Sends an `Idempotency-Key`, which the route requires.
    const fn with_idempotency_key(self) -> Rule {
        Rule {
            headers: &[("idempotency-key", "isolation-matrix")],
            ..self
        }
    }

    /// Roles from `from` up to `below` are answered 404 `code`.
    const fn unseen_by(self, from: Role, below: Role, code: &'static str) -> Rule {
        Rule {
            unseen: Some(Unseen { from, below, code }),
            ..self
        }
    }
}

const VIEWER: Needs = Needs::Role(Role::Viewer);
const MEMBER: Needs = Needs::Role(Role::Member);
const MANAGER: Needs = Needs::Role(Role::Manager);
const ADMIN: Needs = Needs::Role(Role::Admin);
const OWNER: Needs = Needs::Role(Role::Owner);

/// The minimum role and body of every tenant-scoped route. Add a line here
/// for every route the server gains with `{t}` in its path.
const RULES: &[Rule] = &[
    rule("get", "/v1/tenants/{t}", VIEWER, None),
    rule(
        "patch",
        "/v1/tenants/{t}",
        ADMIN,
        Some(r#"{"name":"Renamed by an intruder"}"#),
    ),
    rule("delete", "/v1/tenants/{t}", OWNER, None),
    rule("get", "/v1/tenants/{t}/members", VIEWER, None),
    rule(
        "patch",
        "/v1/tenants/{t}/members/{user_id}",
        ADMIN,
        Some(r#"{"role":"viewer"}"#),
    ),
    rule("delete", "/v1/tenants/{t}/members/{user_id}", ADMIN, None),
    rule(
        "post",
        "/v1/tenants/{t}/invitations",
        ADMIN,
        Some(r#"{"email":"intruder@example.com","role":"viewer"}"#),
    ),
    rule("get", "/v1/tenants/{t}/api-keys", ADMIN, None),
    rule(
        "post",
        "/v1/tenants/{t}/api-keys",
        ADMIN,
        Some(r#"{"name":"intruder","role":"viewer"}"#),
    ),
    rule("delete", "/v1/tenants/{t}/api-keys/{id}", ADMIN, None),
    rule("get", "/v1/tenants/{t}/audit", ADMIN, None),
    rule("get", "/v1/tenants/{t}/collections", VIEWER, None),
    rule(
        "post",
        "/v1/tenants/{t}/collections",
        MANAGER,
        Some(r#"{"name":"intruders","visibility":"tenant","fields":[]}"#),
    ),
    rule("get", "/v1/tenants/{t}/collections/{name}", VIEWER, None),
    // A safe change of B's `projects`: a new optional field.
    rule(
        "patch",
        "/v1/tenants/{t}/collections/{name}",
        MANAGER,
        Some(PROJECTS_CHANGED),
    ),
    rule(
        "delete",
        "/v1/tenants/{t}/collections/{name}",
        MANAGER,
        None,
    ),
    rule(
        "get",
        "/v1/tenants/{t}/collections/{name}/records",
        VIEWER,
        None,
    ),
    rule(
        "post",
        "/v1/tenants/{t}/collections/{name}/records",
        MEMBER,
        Some(r#"{"title":"planted by an intruder"}"#),
    ),
    rule(
        "get",
        "/v1/tenants/{t}/collections/{name}/records/{id}",
        VIEWER,
        None,
    ),
    // `{id}` is a record of B's owner: a member may change only their own
    // records, so changing this one takes a manager.
    rule(
        "put",
        "/v1/tenants/{t}/collections/{name}/records/{id}",
        MANAGER,
        Some(r#"{"title":"taken over"}"#),
    ),
    rule(
        "patch",
        "/v1/tenants/{t}/collections/{name}/records/{id}",
        MANAGER,
        Some(r#"{"title":"taken over"}"#),
    ),
    rule(
        "delete",
        "/v1/tenants/{t}/collections/{name}/records/{id}",
        MANAGER,
        None,
    ),
    // A stream: opened, never read to its end.
    rule("get", "/v1/tenants/{t}/events", VIEWER, None),
    // Everyone lists the accounts they own; B's lower roles own none.
    rule("get", "/v1/tenants/{t}/ledger/accounts", VIEWER, None),
    rule(
        "post",
        "/v1/tenants/{t}/ledger/accounts",
        ADMIN,
        Some(r#"{"name":"intruder's","currency":"USD","scale":2}"#),
    ),
    // `{id}` is an account of B's owner: `ledger.read` sees it, and to the
    // roles below that it does not exist.
    rule("get", "/v1/tenants/{t}/ledger/accounts/{id}", MANAGER, None).unseen_by(
        Role::Viewer,
        Role::Manager,
        "account_not_found",
    ),
    rule(
        "get",
        "/v1/tenants/{t}/ledger/accounts/{id}/entries",
        MANAGER,
        None,
    )
    .unseen_by(Role::Viewer, Role::Manager, "account_not_found"),
    rule(
        "get",
        "/v1/tenants/{t}/ledger/accounts/{id}/balance",
        MANAGER,
        None,
    )
    .unseen_by(Role::Viewer, Role::Manager, "account_not_found"),
    // Out of B's owner's funded account: only `ledger.admin` moves money
    // out of another's. A member (`ledger.transfer`) cannot see the source;
    // a viewer may not transfer at all and a manager sees it but may not
    // move it, so both are 403.
    rule(
        "post",
        "/v1/tenants/{t}/ledger/transfers",
        ADMIN,
        Some(r#"{"from":"{from}","to":"{to}","amount":"1.00"}"#),
    )
    .with_idempotency_key()
    .unseen_by(Role::Member, Role::Manager, "account_not_found"),
    // A hold on B's owner's funded account answers like a transfer out of
    // it.
    rule(
        "post",
        "/v1/tenants/{t}/ledger/holds",
        ADMIN,
        Some(r#"{"account":"{from}","amount":"1.00"}"#),
    )
    .with_idempotency_key()
    .unseen_by(Role::Member, Role::Manager, "account_not_found"),
    // `{id}` is an open hold on B's owner's account ([`World::b_hold`]):
    // seen with its account, by `ledger.read`.
    rule("get", "/v1/tenants/{t}/ledger/holds/{id}", MANAGER, None).unseen_by(
        Role::Viewer,
        Role::Manager,
        "hold_not_found",
    ),
    // Capturing and releasing consume the hold, yet one hold serves every
    // role: the matrix sends a write only to the roles below its rule, who
    // are refused before the hold is touched (a viewer lacks
    // `ledger.transfer`, a member cannot see the account, a manager may not
    // move it), and the roles allowed (admins, owners) only ever read. So
    // the hold is still open for each rule, which `World::b_snapshot`
    // (it reads the hold) checks at the end.
    rule(
        "post",
        "/v1/tenants/{t}/ledger/holds/{id}/capture",
        ADMIN,
        Some("{}"),
    )
    .unseen_by(Role::Member, Role::Manager, "hold_not_found"),
    rule(
        "post",
        "/v1/tenants/{t}/ledger/holds/{id}/release",
        ADMIN,
        None,
    )
    .unseen_by(Role::Member, Role::Manager, "hold_not_found"),
    rule(
        "post",
        "/v1/tenants/{t}/ledger/grants",
        ADMIN,
        Some(r#"{"account":"{from}","amount":"1.00","reason":"planted by an intruder"}"#),
    )
    .with_idempotency_key(),
    // A charge debits B's owner's funded account: it answers like a
    // transfer out of it.
    rule(
        "post",
        "/v1/tenants/{t}/ledger/charges",
        ADMIN,
        Some(r#"{"account":"{from}","cost":"1.00","memo":"planted by an intruder"}"#),
    )
    .with_idempotency_key()
    .unseen_by(Role::Member, Role::Manager, "account_not_found"),
    rule("get", "/v1/tenants/{t}/ledger/limit-profiles", ADMIN, None),
    rule(
        "post",
        "/v1/tenants/{t}/ledger/limit-profiles",
        ADMIN,
        Some(r#"{"name":"intruders","single":"1"}"#),
    ),
    // `{name}` is a default profile, which every tenant has.
    rule(
        "patch",
        "/v1/tenants/{t}/ledger/limit-profiles/{name}",
        ADMIN,
        Some(r#"{"single":"1"}"#),
    ),
    rule(
        "post",
        "/v1/admin/tenants/{t}/suspend",
        Needs::PlatformAdmin,
        None,
    ),
    rule(
        "post",
        "/v1/admin/tenants/{t}/unsuspend",
        Needs::PlatformAdmin,
        None,
    ),
    rule(
        "put",
        "/v1/admin/tenants/{t}/charge-markup",
        Needs::PlatformAdmin,
        Some(r#"{"markup":"5"}"#),
    ),
    rule(
        "put",
        "/v1/admin/tenants/{t}/plan",
        Needs::PlatformAdmin,
        Some(r#"{"plan":"starter"}"#),
    ),
    rule("get", "/v1/tenants/{t}/usage", MANAGER, None),
];

/// The limit profile the `{name}` of limit-profile routes names: a default
/// one, which B has without writing it.
const PROFILE: &str = "gold";

/// The collection both tenants have, and its definition.
const COLLECTION: &str = "projects";
const PROJECTS: &str = r#"{"name":"projects","visibility":"tenant","fields":[{"name":"title","type":"text","required":true},{"name":"code","type":"text","unique":true}]}"#;
const PROJECTS_CHANGED: &str = r#"{"name":"projects","visibility":"tenant","fields":[{"name":"title","type":"text","required":true},{"name":"code","type":"text","unique":true},{"name":"intruder","type":"text"}]}"#;

/// Routes whose answer is an endless stream.
const STREAMS: [&str; 1] = ["/v1/tenants/{t}/events"];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Tenant B's slug: distinctive, so that finding it in a body means a leak.
const B_SLUG: &str = "bravo-q7x2k";

/// What follows the slug in a tenant host (`BULKHEAD_TENANT_HOST`).
const TENANT_HOST: &str = ".tenants.test";

/// A route of the document, with its rule.
struct Route {
    method: &'static str,
    path: String,
    needs: Needs,
    body: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    unseen: Option<Unseen>,
}

/// The `{t}` routes of the server's OpenAPI document, each with its rule.
/// Fails on a route without a rule, a rule without a route, and a path
/// parameter this file does not know how to fill.
async fn tenant_routes(server: &TestServer) -> Vec<Route> {
    let document = server.anon.openapi().await.unwrap();
    let paths = document["paths"]
        .as_object()
        .expect("the document has no paths");
    let mut routes = Vec::new();
    let mut unruled = Vec::new();
    for (documented, item) in paths {
        // The document names the tenant `{t}`, or `{tenant}` on the admin
        // routes; both are tenant B here.
        let path = documented.replace("{tenant}", "{t}");
        if !path.contains("{t}") {
            continue;
        }
        for parameter in parameters(&path) {
            assert!(
                ["t", "user_id", "id", "name"].contains(&parameter.as_str()),
                "{documented} has a path parameter {{{parameter}}} that identity_isolation.rs cannot fill: add a value of tenant B for it"
            );
        }
        for method in METHODS {
            if item.get(method).is_none() {
                continue;
            }
            match RULES.iter().find(|r| r.method == method && r.path == path) {
                Some(rule) => routes.push(Route {
                    method: rule.method,
                    path: path.clone(),
                    needs: rule.needs,
                    body: rule.body,
                    headers: rule.headers,
                    unseen: rule.unseen,
                }),
                None => unruled.push(format!("{} {documented}", method.to_uppercase())),
            }
        }
    }
    assert!(
        unruled.is_empty(),
        "routes in /openapi.json missing from RULES in identity_isolation.rs; add each with its minimum role and body: {unruled:#?}"
    );
    let stale: Vec<String> = RULES
        .iter()
        .filter(|r| {
            !routes
                .iter()
                .any(|route| route.method == r.method && route.path == r.path)
        })
        .map(|r| format!("{} {}", r.method.to_uppercase(), r.path))
        .collect();
    assert!(
        stale.is_empty(),
        "RULES lists routes /openapi.json does not: {stale:#?}"
    );
    routes
}

/// The first segments after `/v1/` of the routes that name no tenant
/// (`auth`, `me`, …).
async fn global_segments(server: &TestServer) -> BTreeSet<String> {
    let document = server.anon.openapi().await.unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| !path.contains("{t}") && !path.contains("{tenant}"))
        .filter_map(|path| path.strip_prefix("/v1/"))
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_owned)
        .collect()
}

/// The names of the `{…}` parameters of `path`.
fn parameters(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// `path` with each `{name}` replaced by `values[name]`.
fn fill(path: &str, values: &BTreeMap<&str, String>) -> String {
    let mut filled = path.to_owned();
    for (name, value) in values {
        filled = filled.replace(&format!("{{{name}}}"), value);
    }
    assert!(!filled.contains('{'), "unfilled parameter in {filled}");
    filled
}

async fn send(client: &Client, method: &str, path: &str, body: Option<&str>) -> RawResponse {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    match body {
        Some(body) => client
            .raw_bytes(method, path, "application/json", body.to_owned())
            .await
            .unwrap(),
        None => request(client, method, path, None).await,
    }
}

/// Opens `GET path` as `token` and returns the status and content type
/// without reading the body, which for a stream never ends.
async fn open_stream(server: &TestServer, token: &str, path: &str) -> (u16, String) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("{}{path}", server.anon.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), content_type)
}

/// Two tenants with members and keys, and an outsider.
struct World {
    a: TenantView,
    a_owner: Account,
    a_admin_key: ApiKeyCreated,
    nobody: Account,
    b: TenantView,
    b_owner: Account,
    /// B's members below owner, by role: viewer, member, manager, admin.
    b_members: Vec<(Role, Account)>,
    /// B's API keys below owner, by role: viewer, member, manager, admin.
    b_keys: Vec<(Role, ApiKeyCreated)>,
    b_invitation: Uuid,
    /// Records of B's owner in B's `projects`.
    b_records: Vec<RecordView>,
    /// A record of A's owner in A's `projects`.
    a_record: RecordView,
    /// B's house account (no owner, may go negative) and a funded account
    /// of B's owner.
    b_house: AccountView,
    b_wallet: AccountView,
    /// An open hold on `b_wallet`.
    b_hold: HoldView,
}

const LOWER_ROLES: [Role; 4] = [Role::Viewer, Role::Member, Role::Manager, Role::Admin];

impl World {
    async fn build(server: &TestServer) -> World {
        let a_owner = server.signup("a-owner@alpha.example").await;
        let a = server.create_tenant(&a_owner, "alpha-m3p8z").await;
        let a_admin_key = a_owner
            .client
            .create_api_key(&a.slug, &key("alpha admin", Role::Admin))
            .await
            .unwrap();
        server
            .add_member(&a_owner, &a.slug, "a-member@alpha.example", Role::Member)
            .await;
        let nobody = server.signup("nobody@nowhere.example").await;

        let b_owner = server.signup("b-owner@bravo.example").await;
        let b = server.create_tenant(&b_owner, B_SLUG).await;
        let mut b_members = Vec::new();
        let mut b_keys = Vec::new();
        for role in LOWER_ROLES {
            let email = format!("b-{role}@bravo.example");
            let account = server.add_member(&b_owner, &b.slug, &email, role).await;
            b_members.push((role, account));
            let created = b_owner
                .client
                .create_api_key(&b.slug, &key(&format!("bravo {role} key"), role))
                .await
                .unwrap();
            b_keys.push((role, created));
        }
        let b_invitation = b_owner
            .client
            .create_invitation(
                &b.slug,
                &CreateInvitationRequest {
                    email: "b-pending@bravo.example".into(),
                    role: Role::Member,
                },
            )
            .await
            .unwrap()
            .id;
        // Both tenants have a `projects` collection; B's holds records of
        // its owner.
        let projects: CollectionSpec = serde_json::from_str(PROJECTS).unwrap();
        let mut b_records = Vec::new();
        b_owner
            .client
            .create_collection(&b.slug, &projects)
            .await
            .unwrap();
        for i in 0..2 {
            let data = serde_json::json!({"title": format!("bravo record {i} q7x2k"), "code": format!("BRAVO-{i}")});
            b_records.push(
                b_owner
                    .client
                    .create_record(&b.slug, COLLECTION, &data)
                    .await
                    .unwrap(),
            );
        }
        a_owner
            .client
            .create_collection(&a.slug, &projects)
            .await
            .unwrap();
        let a_record = a_owner
            .client
            .create_record(
                &a.slug,
                COLLECTION,
                &serde_json::json!({"title": "alpha's own", "code": "BRAVO-0"}),
            )
            .await
            .unwrap();
        let open = |name: &str, owner_id: Option<Uuid>, allow_negative: bool| {
            let request = CreateAccountRequest {
                name: name.to_owned(),
                currency: "USD".to_owned(),
                scale: 2,
                owner_id,
                allow_negative,
                unlimited: false,
                limit_profile: None,
            };
            let client = b_owner.client.clone();
            let t = b.slug.clone();
            async move { client.open_ledger_account(&t, &request).await.unwrap() }
        };
        let b_house = open("bravo house q7x2k", None, true).await;
        let b_wallet = open("bravo wallet q7x2k", Some(b_owner.id()), false).await;
        b_owner
            .client
            .create_transfer(
                &b.slug,
                "bravo funding",
                &CreateTransferRequest {
                    from: b_house.id,
                    to: b_wallet.id,
                    amount: "100.00".to_owned(),
                    memo: Some("bravo funding q7x2k".to_owned()),
                },
            )
            .await
            .unwrap();
        let b_hold = b_owner
            .client
            .place_hold(
                &b.slug,
                "bravo hold",
                &CreateHoldRequest {
                    account: b_wallet.id,
                    amount: "10.00".to_owned(),
                    expires_in_seconds: Some(86_400),
                    memo: Some("bravo hold q7x2k".to_owned()),
                },
            )
            .await
            .unwrap();
        World {
            a,
            a_owner,
            a_admin_key,
            nobody,
            b,
            b_owner,
            b_members,
            b_keys,
            b_invitation,
            b_records,
            a_record,
            b_house,
            b_wallet,
            b_hold,
        }
    }

    /// B's ledger accounts.
    fn b_accounts(&self) -> [&AccountView; 2] {
        [&self.b_house, &self.b_wallet]
    }

    /// `body` with `{from}` and `{to}` replaced by B's owner's funded
    /// account and B's house.
    fn fill_body(&self, body: &str) -> String {
        body.replace("{from}", &self.b_wallet.id.to_string())
            .replace("{to}", &self.b_house.id.to_string())
    }

    /// `route` sent to `path` (filled) by `client`, with its headers and
    /// its body.
    async fn send(&self, client: &Client, route: &Route, path: &str) -> RawResponse {
        let client = route
            .headers
            .iter()
            .fold(client.clone(), |client, (name, value)| {
                client.with_header(*name, *value)
            });
        let body = route.body.map(|body| self.fill_body(body));
        send(&client, route.method, path, body.as_deref()).await
    }

    /// Values of B for each path parameter of `path`; `{t}` is given.
    fn b_values(&self, path: &str, t: &str) -> BTreeMap<&'static str, String> {
        let id = if path.contains("/records/") {
            self.b_records[0].id
        } else if path.contains("/ledger/accounts/") {
            self.b_wallet.id
        } else if path.contains("/ledger/holds/") {
            self.b_hold.id
        } else {
            self.b_keys[0].1.id
        };
        BTreeMap::from([
            ("t", t.to_owned()),
            // The owner: the one member no lower role may touch.
            ("user_id", self.b_owner.id().to_string()),
            ("id", id.to_string()),
            (
                "name",
                if path.contains("/limit-profiles/") {
                    PROFILE.to_owned()
                } else {
                    COLLECTION.to_owned()
                },
            ),
        ])
    }

    /// Everything of B that must never show in an outsider's answer.
    fn b_secrets(&self) -> Vec<String> {
        let mut secrets = vec![
            self.b.id.to_string(),
            self.b.id.simple().to_string(),
            self.b.slug.clone(),
            self.b.name.clone(),
            self.b_owner.email.clone(),
            self.b_owner.id().to_string(),
            self.b_invitation.to_string(),
            "bravo.example".to_owned(),
        ];
        for (_, account) in &self.b_members {
            secrets.push(account.email.clone());
            secrets.push(account.id().to_string());
        }
        for (_, key) in &self.b_keys {
            secrets.push(key.id.to_string());
            secrets.push(key.prefix.clone());
            secrets.push(key.name.clone());
        }
        for record in &self.b_records {
            secrets.push(record.id.to_string());
            secrets.push(record.data["title"].as_str().unwrap().to_owned());
        }
        for account in self.b_accounts() {
            secrets.push(account.id.to_string());
            secrets.push(account.name.clone());
        }
        secrets.push("bravo funding q7x2k".to_owned());
        secrets.push(self.b_hold.id.to_string());
        secrets.push("bravo hold q7x2k".to_owned());
        secrets
    }

    /// B as its owner sees it, for comparing before and after. Keys' last
    /// use is left out: using a key is not changing it.
    async fn b_snapshot(&self) -> Value {
        let owner = &self.b_owner.client;
        let page = PageQuery {
            limit: Some(100),
            cursor: None,
        };
        let tenant = owner.get_tenant(&self.b.slug).await.unwrap();
        let members = owner.list_members(&self.b.slug, &page).await.unwrap();
        let mut keys =
            serde_json::to_value(owner.list_api_keys(&self.b.slug, &page).await.unwrap()).unwrap();
        for key in keys["items"].as_array_mut().unwrap() {
            key.as_object_mut().unwrap().remove("last_used_at");
        }
        let collections = owner.list_collections(&self.b.slug).await.unwrap();
        let records = owner
            .list_records(
                &self.b.slug,
                COLLECTION,
                &RecordQuery {
                    limit: Some(100),
                    ..RecordQuery::default()
                },
            )
            .await
            .unwrap();
        let accounts = owner
            .list_ledger_accounts(&self.b.slug, &page)
            .await
            .unwrap();
        let mut entries = Vec::new();
        for account in &accounts.items {
            entries.push(
                owner
                    .ledger_entries(&self.b.slug, account.id, &page)
                    .await
                    .unwrap(),
            );
        }
        let hold = owner.get_hold(&self.b.slug, self.b_hold.id).await.unwrap();
        let profiles = owner.list_limit_profiles(&self.b.slug).await.unwrap();
        serde_json::json!({
            "tenant": tenant,
            "members": members,
            "keys": keys,
            "collections": collections,
            "records": records,
            "ledger_accounts": accounts,
            "ledger_entries": entries,
            "ledger_hold": hold,
            "limit_profiles": profiles,
        })
    }
}

fn key(name: &str, role: Role) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        name: name.to_owned(),
        role,
        expires_at: None,
    }
}

/// Asserts that no secret of B appears in `response`.
#[track_caller]
fn expect_no_leak(response: &RawResponse, secrets: &[String], what: &str) {
    let text = response.text();
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what}: the answer reveals {secret:?} of tenant B: {text}"
        );
    }
    for (name, value) in &response.headers {
        let value = value.to_str().unwrap_or_default();
        for secret in secrets {
            assert!(
                !value.contains(secret.as_str()),
                "{what}: header {name} reveals {secret:?} of tenant B"
            );
        }
    }
}

/// Outsiders get exactly the answer for a tenant that does not exist on
/// every `{t}` route, by slug and by id, and B is unchanged; anonymous
/// callers get 401; the denials are in B's audit log; a header naming B
/// changes nothing.
async fn outsiders_cannot_tell_tenant_b_exists(backend: Backend) {
    let options = Options::default().env("BULKHEAD_TENANT_HOST", &format!("{{slug}}{TENANT_HOST}"));
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let world = World::build(&server).await;
    let routes = tenant_routes(&server).await;
    assert!(routes.len() >= RULES.len());
    let before = world.b_snapshot().await;
    let secrets = world.b_secrets();
    let outsiders: [(&str, Client); 3] = [
        ("tenant A's owner", world.a_owner.client.clone()),
        (
            "tenant A's admin API key",
            server.anon.with_token(&world.a_admin_key.key),
        ),
        ("a user with no tenant", world.nobody.client.clone()),
    ];
    let references = [
        (B_SLUG.to_owned(), "no-such-tenant-q7x2k".to_owned()),
        (world.b.id.to_string(), Uuid::now_v7().to_string()),
    ];

    let mut checked = 0;
    for route in &routes {
        for (b_reference, missing_reference) in &references {
            let b_path = fill(&route.path, &world.b_values(&route.path, b_reference));
            let missing_path = fill(&route.path, &world.b_values(&route.path, missing_reference));
            for (who, client) in &outsiders {
                let what = format!("{who}: {} {b_path}", route.method.to_uppercase());
                let at_b = world.send(client, route, &b_path).await;
                let at_missing = world.send(client, route, &missing_path).await;
                match route.needs {
                    Needs::Role(_) => {
                        assert_eq!(at_b.status, 404, "{what}: {}", at_b.text());
                        expect_problem(&at_b, 404, "tenant_not_found");
                    }
                    Needs::PlatformAdmin => {
                        assert_eq!(at_b.status, 403, "{what}: {}", at_b.text());
                        expect_problem(&at_b, 403, "forbidden");
                    }
                }
                assert_eq!(
                    (at_b.status, at_b.header("content-type"), at_b.text()),
                    (
                        at_missing.status,
                        at_missing.header("content-type"),
                        at_missing.text()
                    ),
                    "{what}: the answer differs from the one for a tenant that does not exist"
                );
                expect_no_leak(&at_b, &secrets, &what);
                checked += 1;
            }
            // Anonymous: 401 before anything else.
            let anonymous = world.send(&server.anon, route, &b_path).await;
            assert_eq!(
                anonymous.status,
                401,
                "anonymous {} {b_path}: {}",
                route.method.to_uppercase(),
                anonymous.text()
            );
            expect_problem(&anonymous, 401, "unauthenticated");
            expect_no_leak(&anonymous, &secrets, "anonymous");
        }
    }
    assert_eq!(checked, routes.len() * references.len() * outsiders.len());

    // Through A's own `projects`, B's record ids answer exactly as ids that
    // never existed, for every record route; A's own record is found.
    let guessers: [(&str, Client); 2] = [
        ("tenant A's owner", world.a_owner.client.clone()),
        (
            "tenant A's admin API key",
            server.anon.with_token(&world.a_admin_key.key),
        ),
    ];
    let mut guessed = 0;
    for route in routes.iter().filter(|r| r.path.ends_with("/records/{id}")) {
        for record in &world.b_records {
            let in_a = |id: Uuid| {
                fill(
                    &route.path,
                    &BTreeMap::from([
                        ("t", world.a.slug.clone()),
                        ("name", COLLECTION.to_owned()),
                        ("id", id.to_string()),
                    ]),
                )
            };
            for (who, client) in &guessers {
                let what = format!("{who}: {} B's record in A", route.method.to_uppercase());
                let guess = world.send(client, route, &in_a(record.id)).await;
                let never = world.send(client, route, &in_a(Uuid::now_v7())).await;
                expect_problem(&guess, 404, "record_not_found");
                assert_eq!(
                    (guess.status, guess.text()),
                    (never.status, never.text()),
                    "{what}: the answer differs from the one for an id that never existed"
                );
                expect_no_leak(&guess, &secrets, &what);
                guessed += 1;
            }
        }
    }
    assert_eq!(guessed, 4 * world.b_records.len() * guessers.len());
    // Likewise B's ledger account and hold ids through A's own ledger.
    let b_account_ids: Vec<Uuid> = world.b_accounts().iter().map(|a| a.id).collect();
    let ledger_ids: [(&str, &[Uuid], &str); 2] = [
        ("/ledger/accounts/{id}", &b_account_ids, "account_not_found"),
        ("/ledger/holds/{id}", &[world.b_hold.id], "hold_not_found"),
    ];
    let mut guessed = 0;
    for (under, b_ids, code) in ledger_ids {
        for route in routes.iter().filter(|r| r.path.contains(under)) {
            for b_id in b_ids {
                let in_a = |id: Uuid| {
                    fill(
                        &route.path,
                        &BTreeMap::from([("t", world.a.slug.clone()), ("id", id.to_string())]),
                    )
                };
                for (who, client) in &guessers {
                    let what = format!("{who}: {} {} of B's in A", route.method, route.path);
                    let guess = world.send(client, route, &in_a(*b_id)).await;
                    let never = world.send(client, route, &in_a(Uuid::now_v7())).await;
                    expect_problem(&guess, 404, code);
                    assert_eq!(
                        (guess.status, guess.text()),
                        (never.status, never.text()),
                        "{what}: the answer differs from the one for an id that never existed"
                    );
                    expect_no_leak(&guess, &secrets, &what);
                    guessed += 1;
                }
            }
        }
    }
    // Three account routes (the account, its entries, its balance), three
    // hold routes.
    assert_eq!(guessed, (3 * b_account_ids.len() + 3) * guessers.len());
    let a_record = world
        .a_owner
        .client
        .get_record(&world.a.slug, COLLECTION, world.a_record.id)
        .await
        .unwrap();
    assert_eq!(a_record, world.a_record);

    // A method a path does not have answers the same for B and for a
    // tenant that does not exist.
    let paths: BTreeSet<&str> = routes.iter().map(|r| r.path.as_str()).collect();
    for path in paths {
        for method in ["put", "patch", "post", "delete"] {
            if routes.iter().any(|r| r.path == path && r.method == method) {
                continue;
            }
            let b_path = fill(path, &world.b_values(path, B_SLUG));
            let missing_path = fill(path, &world.b_values(path, "no-such-tenant-q7x2k"));
            let what = format!("{} {b_path}", method.to_uppercase());
            let at_b = send(&world.a_owner.client, method, &b_path, Some("{}")).await;
            let at_missing = send(&world.a_owner.client, method, &missing_path, Some("{}")).await;
            assert!(
                matches!(at_b.status, 404 | 405),
                "{what}: {} {}",
                at_b.status,
                at_b.text()
            );
            assert_eq!(
                (at_b.status, at_b.text()),
                (at_missing.status, at_missing.text()),
                "{what}: the answer differs from the one for a tenant that does not exist"
            );
            expect_no_leak(&at_b, &secrets, &what);
        }
    }

    // The same through tenant hosts: `/v1/members` on `bravo….tenants.test`
    // is B's `/v1/tenants/{t}/members`.
    let on_host =
        |client: &Client, slug: &str| client.with_header("host", format!("{slug}{TENANT_HOST}"));
    let b_members = on_host(&world.b_owner.client, B_SLUG)
        .raw(Method::GET, "/v1/members", None)
        .await
        .unwrap();
    assert_eq!(
        b_members.status,
        200,
        "tenant hosts do not route: {}",
        b_members.text()
    );
    assert!(b_members.text().contains(&world.b_owner.email));
    let global_segments = global_segments(&server).await;
    let mut through_hosts = 0;
    for route in &routes {
        let Some(rest) = route.path.strip_prefix("/v1/tenants/{t}/") else {
            continue;
        };
        let path = fill(&format!("/v1/{rest}"), &world.b_values(&route.path, B_SLUG));
        for (who, client) in &outsiders {
            let what = format!("{who}: {} {path} on B's host", route.method.to_uppercase());
            let at_b = world.send(&on_host(client, B_SLUG), route, &path).await;
            let at_missing = world
                .send(&on_host(client, "no-such-tenant-q7x2k"), route, &path)
                .await;
            assert_eq!(at_b.status, 404, "{what}: {}", at_b.text());
            // A tenant route whose first segment is also a global route's
            // (`/v1/invitations`) is not rewritten on a tenant host, so it
            // is a plain 404 there; any other is the tenant's.
            let first = rest.split('/').next().unwrap_or_default();
            if !global_segments.contains(first) {
                expect_problem(&at_b, 404, "tenant_not_found");
            }
            assert_eq!(
                (at_b.status, at_b.text()),
                (at_missing.status, at_missing.text()),
                "{what}: the answer differs from the one for a tenant that does not exist"
            );
            expect_no_leak(&at_b, &secrets, &what);
            through_hosts += 1;
        }
    }
    assert!(through_hosts > 0);
    assert_eq!(
        world.b_snapshot().await,
        before,
        "tenant B changed under outsiders' requests"
    );

    // The probes left nothing in B's log (issue 17: they are summarised in
    // the platform's log instead, `identity_outsiders`).
    let probes = world
        .b_owner
        .client
        .list_audit(
            &world.b.slug,
            &bulkhead_client::types::AuditQuery {
                action: Some("tenant.access".into()),
                limit: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let prober_ids: BTreeSet<Option<Uuid>> = probes.items.iter().map(|e| e.actor.id).collect();
    for (who, id) in [
        ("tenant A's owner", world.a_owner.id()),
        ("tenant A's admin key", world.a_admin_key.id),
        ("the user with no tenant", world.nobody.id()),
    ] {
        assert!(
            !prober_ids.contains(&Some(id)),
            "{who}'s probe was written into tenant B's log"
        );
    }
    // And nothing of B reached A's log.
    let a_log = world
        .a_owner
        .send(
            Method::GET,
            &format!("/v1/tenants/{}/audit?limit=100", world.a.slug),
            None,
        )
        .await;
    assert_eq!(a_log.status, 200, "{}", a_log.text());
    expect_no_leak(&a_log, &secrets, "tenant A's audit log");

    // Tenant context comes from the path and the credential only: a
    // header or query naming B changes nothing (C1).
    let members_path = format!("/v1/tenants/{}/members", world.a.slug);
    for client in [
        world
            .a_owner
            .client
            .with_header("x-tenant-id", world.b.id.to_string()),
        world.a_owner.client.with_header("x-tenant", B_SLUG),
    ] {
        let response = request(
            &client,
            Method::GET,
            &format!("{members_path}?tenant_id={}", world.b.id),
            None,
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.text());
        expect_no_leak(&response, &secrets, "A's members with a header naming B");
    }
    let key_with_header = server
        .anon
        .with_token(&world.a_admin_key.key)
        .with_header("x-tenant-id", world.b.id.to_string());
    let response = request(
        &key_with_header,
        Method::GET,
        &format!("/v1/tenants/{B_SLUG}"),
        None,
    )
    .await;
    expect_problem(&response, 404, "tenant_not_found");
}
scenario!(outsiders_cannot_tell_tenant_b_exists, backend);

/// Inside B, each role below the one a route needs gets 403 `forbidden`
/// (users and API keys alike), or 404 where the route names something that
/// role may not see; the reads a role may make answer 200, and B is
/// unchanged afterwards.
async fn lower_roles_are_forbidden_above_their_role(server: TestServer) {
    let world = World::build(&server).await;
    let routes = tenant_routes(&server).await;
    let before = world.b_snapshot().await;

    // Who asks, their role, their client and their bearer token.
    let mut callers: Vec<(String, Needs, Client, String)> = Vec::new();
    for (role, account) in &world.b_members {
        callers.push((
            format!("B's {role}"),
            Needs::Role(*role),
            account.client.clone(),
            account.tokens.access_token.clone(),
        ));
    }
    for (role, created) in &world.b_keys {
        callers.push((
            format!("B's {role} API key"),
            Needs::Role(*role),
            server.anon.with_token(&created.key),
            created.key.clone(),
        ));
    }
    callers.push((
        "B's owner".to_owned(),
        OWNER,
        world.b_owner.client.clone(),
        world.b_owner.tokens.access_token.clone(),
    ));

    let mut forbidden = 0;
    let mut not_found = 0;
    for route in &routes {
        for reference in [world.b.slug.clone(), world.b.id.to_string()] {
            let path = fill(&route.path, &world.b_values(&route.path, &reference));
            for (who, has, client, token) in &callers {
                let what = format!("{who}: {} {path}", route.method.to_uppercase());
                let allowed = match (route.needs, has) {
                    (Needs::Role(needed), Needs::Role(role)) => role >= &needed,
                    (Needs::PlatformAdmin, _) | (_, Needs::PlatformAdmin) => false,
                };
                if allowed {
                    // Only reads are tried: a write would change B.
                    if route.method == "get" && STREAMS.contains(&route.path.as_str()) {
                        let (status, content_type) = open_stream(&server, token, &path).await;
                        assert_eq!(status, 200, "{what}");
                        assert!(
                            content_type.starts_with("text/event-stream"),
                            "{what}: {content_type}"
                        );
                    } else if route.method == "get" {
                        let response = world.send(client, route, &path).await;
                        assert_eq!(response.status, 200, "{what}: {}", response.text());
                    }
                    continue;
                }
                let response = world.send(client, route, &path).await;
                let unseen = match (route.unseen, has) {
                    (Some(unseen), Needs::Role(role)) if unseen.hides_from(*role) => Some(unseen),
                    _ => None,
                };
                if let Some(unseen) = unseen {
                    assert_eq!(response.status, 404, "{what}: {}", response.text());
                    expect_problem(&response, 404, unseen.code);
                    not_found += 1;
                } else {
                    assert_eq!(response.status, 403, "{what}: {}", response.text());
                    expect_problem(&response, 403, "forbidden");
                    forbidden += 1;
                }
            }
        }
    }
    assert!(forbidden > 0);
    assert!(not_found > 0);
    assert_eq!(
        world.b_snapshot().await,
        before,
        "tenant B changed under forbidden requests"
    );

    // The denials of users are in B's log as denied.
    let log = world
        .b_owner
        .client
        .list_audit(
            &world.b.slug,
            &bulkhead_client::types::AuditQuery {
                actor: Some(world.b_members[0].1.id().to_string()),
                limit: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        log.items.iter().any(|e| e.outcome == "denied"),
        "the viewer's forbidden attempts are not in the log: {log:?}"
    );
}
scenario!(lower_roles_are_forbidden_above_their_role);
