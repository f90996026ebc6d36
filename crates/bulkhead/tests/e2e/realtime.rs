//! Realtime record events over Server-Sent Events: what each subscriber
//! receives, and what it must never receive.

use std::time::Duration;

use bulkhead_client::Method;
use bulkhead_client::types::Role;
use serde_json::{Value, json};

use crate::harness::{Account, Backend, TestServer};

const PATIENCE: Duration = Duration::from_secs(20);

/// An open event stream, read event by event.
struct Subscription {
    response: reqwest::Response,
    buffer: String,
}

/// One event as sent: its id, kind and data.
#[derive(Debug, Clone)]
struct Received {
    id: i64,
    kind: String,
    data: Value,
}

impl Subscription {
    async fn open(base: &str, account: &Account, tenant: &str, query: &str) -> Subscription {
        let response = reqwest::Client::new()
            .get(format!("{base}/v1/tenants/{tenant}/events{query}"))
            .bearer_auth(&account.tokens.access_token)
            .send()
            .await
            .unwrap();
        crate::contract::check_unread(
            "GET",
            response.url(),
            response.status().as_u16(),
            response.headers(),
        );
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Subscription {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the server ended the stream.
    async fn next(&mut self) -> Option<Received> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut event = Received {
                        id: 0,
                        kind: String::new(),
                        data: Value::Null,
                    };
                    let mut is_event = false;
                    for line in block.lines() {
                        if let Some(id) = line.strip_prefix("id: ") {
                            event.id = id.parse().unwrap();
                            is_event = true;
                        } else if let Some(kind) = line.strip_prefix("event: ") {
                            event.kind = kind.to_owned();
                        } else if let Some(data) = line.strip_prefix("data: ") {
                            event.data = serde_json::from_str(data).unwrap();
                        }
                    }
                    if is_event {
                        return Some(event);
                    }
                    continue; // a keep-alive comment
                }
                match self.response.chunk().await.ok()? {
                    Some(chunk) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    None => return None,
                }
            }
        })
        .await
        .expect("no event within the patience window")
    }

    /// Events up to and including the one whose record has `marker` as its
    /// title.
    async fn until_marker(&mut self, marker: &str) -> Vec<Received> {
        let mut seen = Vec::new();
        loop {
            let event = self
                .next()
                .await
                .expect("the stream ended before the marker");
            let is_marker = event.data["record"]["data"]["title"] == marker;
            seen.push(event);
            if is_marker {
                return seen;
            }
        }
    }
}

async fn collection(account: &Account, tenant: &str, name: &str, visibility: &str) {
    let body = json!({ "name": name, "fields": [{ "name": "title", "type": "text" }], "visibility": visibility });
    let response = account
        .send(
            Method::POST,
            &format!("/v1/tenants/{tenant}/collections"),
            Some(body),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
}

async fn create(account: &Account, tenant: &str, collection: &str, title: &str) -> Value {
    let response = account
        .send(
            Method::POST,
            &format!("/v1/tenants/{tenant}/collections/{collection}/records"),
            Some(json!({ "title": title })),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    response.json().unwrap()
}

fn titles(events: &[Received]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.data["record"]["data"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn subscribers_see_their_tenant_and_what_their_role_allows(server: TestServer) {
    let base = format!("http://{}", server.server.addr);
    let owner_a = server.signup("rt-owner-a@example.com").await;
    let owner_b = server.signup("rt-owner-b@example.com").await;
    server.create_tenant(&owner_a, "rt-a").await;
    server.create_tenant(&owner_b, "rt-b").await;
    let member_a = server
        .add_member(&owner_a, "rt-a", "rt-member-a@example.com", Role::Member)
        .await;
    for (owner, tenant) in [(&owner_a, "rt-a"), (&owner_b, "rt-b")] {
        collection(owner, tenant, "notes", "tenant").await;
        collection(owner, tenant, "private", "owner").await;
    }
    let mut as_owner_a = Subscription::open(&base, &owner_a, "rt-a", "").await;
    let mut as_member_a = Subscription::open(&base, &member_a, "rt-a", "").await;
    let mut as_owner_b = Subscription::open(&base, &owner_b, "rt-b", "").await;
    let mut notes_only = Subscription::open(&base, &owner_a, "rt-a", "?collections=notes").await;

    create(&owner_b, "rt-b", "notes", "b-secret").await;
    create(&member_a, "rt-a", "private", "member-private").await;
    create(&owner_a, "rt-a", "private", "owner-private").await;
    // An audit entry that is no record change: event numbers skip it, and
    // the live streams go on without a loss or a repeat.
    collection(&owner_a, "rt-a", "later", "tenant").await;
    create(&owner_a, "rt-a", "notes", "a-marker").await;
    create(&owner_b, "rt-b", "notes", "b-marker").await;

    let owner_saw = titles(&as_owner_a.until_marker("a-marker").await);
    assert_eq!(
        owner_saw,
        ["member-private", "owner-private", "a-marker"],
        "the owner sees every record of A, none of B"
    );
    let member_saw = titles(&as_member_a.until_marker("a-marker").await);
    assert_eq!(
        member_saw,
        ["member-private", "a-marker"],
        "a member sees its own private record only"
    );
    let b_saw = titles(&as_owner_b.until_marker("b-marker").await);
    assert_eq!(
        b_saw,
        ["b-secret", "b-marker"],
        "B's subscriber sees nothing of A"
    );
    let notes_saw = titles(&notes_only.until_marker("a-marker").await);
    assert_eq!(notes_saw, ["a-marker"]);

    // Resuming with Last-Event-ID replays what followed, nothing before.
    let first = as_owner_a_first_id(&base, &owner_a).await;
    let mut resumed = reqwest::Client::new()
        .get(format!("{base}/v1/tenants/rt-a/events"))
        .bearer_auth(&owner_a.tokens.access_token)
        .header("last-event-id", first.to_string())
        .send()
        .await
        .unwrap();
    let mut replay = String::new();
    while !replay.contains("a-marker") {
        let chunk = tokio::time::timeout(PATIENCE, resumed.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        replay.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !replay.contains("member-private"),
        "event {first} itself is not replayed"
    );
    assert!(replay.contains("owner-private") && !replay.contains("b-secret"));

    // A removed member's stream ends at the next event.
    let response = owner_a
        .send(
            Method::DELETE,
            &format!("/v1/tenants/rt-a/members/{}", member_a.id()),
            None,
        )
        .await;
    assert_eq!(response.status, 204);
    create(&owner_a, "rt-a", "notes", "after-removal").await;
    assert!(
        as_member_a.next().await.is_none(),
        "the removed member still receives events"
    );
}

/// The id of the first event of tenant rt-a (the member's private record).
async fn as_owner_a_first_id(base: &str, owner: &Account) -> i64 {
    let mut subscription = reqwest::Client::new()
        .get(format!("{base}/v1/tenants/rt-a/events"))
        .bearer_auth(&owner.tokens.access_token)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(PATIENCE, subscription.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .find_map(|line| line.strip_prefix("id: "))
        .unwrap()
        .parse()
        .unwrap()
}

scenario!(subscribers_see_their_tenant_and_what_their_role_allows);

async fn events_reach_subscribers_of_every_server_process(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let Some((replica, _)) = server.replica().await else {
        return;
    };
    let owner = server.signup("rt-replica@example.com").await;
    server.create_tenant(&owner, "rt-replicas").await;
    collection(&owner, "rt-replicas", "notes", "tenant").await;
    let base = format!("http://{}", replica.addr);
    let mut subscription = Subscription::open(&base, &owner, "rt-replicas", "").await;
    // Written through the first process, received through the second.
    create(&owner, "rt-replicas", "notes", "across").await;
    let events = subscription.until_marker("across").await;
    assert_eq!(titles(&events), ["across"]);
    assert_eq!(events[0].kind, "create");
}

scenario!(events_reach_subscribers_of_every_server_process, backend);
