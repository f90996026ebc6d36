//! Metering over HTTP: `GET /v1/tenants/{t}/usage` counts the requests,
//! records created and active users of each day, the server writes them
//! periodically and at a graceful stop, and a crash loses what it counted
//! since its last write, nothing else; who may read a tenant's usage.
//!
//! The counts a test expects are deltas between two usage reads of the
//! same process, which are exact whether or not a flush ran in between (a
//! report sees each count either in memory or in the database). That the
//! periodic flush wrote them is read from the database itself, polled
//! until it has them, with a deadline.

use std::time::Duration;

use bulkhead_client::Method;
use bulkhead_client::types::{CreateApiKeyRequest, Role, UsageQuery, UsageView};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::harness::{Account, Backend, Database, Options, PASSWORD, TestServer, expect_problem};
use crate::records_common::{spec, tasks_json};

/// How long a test waits for the periodic flush before it fails.
const FLUSH_DEADLINE: Duration = Duration::from_secs(30);

async fn start(backend: Backend, flush_interval: &str) -> Option<TestServer> {
    let options = Options::default().env("BULKHEAD_METERING_FLUSH_INTERVAL", flush_interval);
    TestServer::start_with(backend, options).await
}

fn usage_path(t: &str, days: u32) -> String {
    format!("/v1/tenants/{t}/usage?days={days}")
}

async fn usage(account: &Account, t: &str, days: u32) -> UsageView {
    let query = UsageQuery { days: Some(days) };
    account.client.tenant_usage(t, &query).await.unwrap()
}

/// Requests and records created over the whole window.
fn totals(view: &UsageView) -> (u64, u64) {
    view.daily.iter().fold((0, 0), |(requests, records), day| {
        (requests + day.requests, records + day.records_created)
    })
}

fn date(text: &str) -> Date {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap()
}

/// The window is `days` consecutive days, oldest first, ending today (a
/// day that began while the test ran counts as today).
#[track_caller]
fn assert_window(view: &UsageView, days: usize, started: Date) {
    assert_eq!(view.daily.len(), days);
    let dates: Vec<Date> = view.daily.iter().map(|d| date(&d.day)).collect();
    for pair in dates.windows(2) {
        assert_eq!(pair[0].next_day(), Some(pair[1]), "{dates:?}");
    }
    let last = dates[days - 1];
    let today = utc_today();
    assert!(last == started || last == today, "{last} is not today");
}

/// The UTC date now, as the server's own clock (the same machine's) has it.
#[allow(
    clippy::disallowed_methods,
    reason = "the server under test runs on the real clock, so the test reads it too"
)]
fn utc_today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// `(requests, records_created)` of the tenant's stored days, read from
/// the database as its owner: what the server has flushed.
async fn stored_totals(server: &TestServer, tenant: Uuid) -> (i64, i64) {
    // BIGINT: PostgreSQL sums bigints as numeric.
    let sql = "SELECT CAST(coalesce(sum(requests), 0) AS BIGINT),
                      CAST(coalesce(sum(records_created), 0) AS BIGINT)
               FROM usage_days WHERE tenant_id = ";
    match server.database().expect("a database the test can reach") {
        Database::SqliteFile(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            connection
                .busy_timeout(std::time::Duration::from_secs(30))
                .unwrap();
            connection
                .query_row(&format!("{sql}?1"), [tenant.as_bytes()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .unwrap()
        }
        Database::PostgresOwner(url) => {
            let mut connection = PgConnection::connect(&url).await.unwrap();
            let totals: (i64, i64) = sqlx::query_as(&format!("{sql}$1::uuid"))
                .bind(tenant)
                .fetch_one(&mut connection)
                .await
                .unwrap();
            connection.close().await.unwrap();
            totals
        }
    }
}

/// Polls the database until it holds `expected`, or fails at the deadline.
async fn await_flushed(server: &TestServer, tenant: Uuid, expected: (u64, u64)) {
    let expected = (expected.0 as i64, expected.1 as i64);
    let deadline = tokio::time::Instant::now() + FLUSH_DEADLINE;
    loop {
        let stored = stored_totals(server, tenant).await;
        if stored == expected {
            return;
        }
        assert!(
            stored.0 <= expected.0 && stored.1 <= expected.1,
            "stored {stored:?}, more than the {expected:?} counted"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "not flushed within {FLUSH_DEADLINE:?}: stored {stored:?}, counted {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Requests, records and users are counted per day, the periodic flush
/// writes them, and nothing is counted twice once it has.
async fn usage_counts_requests_records_and_users_and_is_flushed(backend: Backend) {
    let Some(server) = start(backend, "0.2").await else {
        return;
    };
    let started = utc_today();
    let owner = server.signup("owner@acme.example").await;
    let tenant = server.create_tenant(&owner, "acme").await;
    let t = tenant.slug.as_str();
    owner
        .client
        .create_collection(t, &spec(tasks_json("tenant")))
        .await
        .unwrap();
    let member = server
        .add_member(&owner, t, "member@acme.example", Role::Member)
        .await;
    let key = owner
        .client
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "robot".into(),
                role: Role::Member,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let robot = server.anon.with_token(&key.key);
    let outsider = server.signup("owner@globex.example").await;
    server.create_tenant(&outsider, "globex").await;

    let before = usage(&owner, t, 3).await;
    assert_window(&before, 3, started);
    // Counted: 3 creates, 2 reads by the member, the member's refused
    // usage read, the key's read, and the next usage read itself.
    for title in ["one", "two", "three"] {
        owner
            .client
            .create_record(t, "tasks", &json!({ "title": title }))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let listed = member
            .send(
                Method::GET,
                &format!("/v1/tenants/{t}/collections/tasks/records"),
                None,
            )
            .await;
        assert_eq!(listed.status, 200);
    }
    let refused = member.send(Method::GET, &usage_path(t, 3), None).await;
    expect_problem(&refused, 403, "forbidden");
    let by_key = robot
        .raw(
            Method::GET,
            &format!("/v1/tenants/{t}/collections/tasks/records"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(by_key.status, 200);
    // Not counted: a tenant the caller is not in does not exist for it.
    let hidden = outsider.send(Method::GET, &usage_path(t, 3), None).await;
    expect_problem(&hidden, 404, "tenant_not_found");

    let after = usage(&owner, t, 3).await;
    assert_window(&after, 3, started);
    let (requests, records) = totals(&before);
    assert_eq!(totals(&after), (requests + 8, records + 3));
    let today = after.daily.last().unwrap();
    assert_eq!(today.storage_bytes, after.usage.storage_bytes);
    assert!(today.storage_bytes > 0);
    assert!(after.usage.requests_this_minute >= 1);
    if after.daily.iter().filter(|d| d.requests > 0).count() == 1 {
        // The owner and the member; the key is no user. (Skipped in the
        // rare run that spans midnight UTC, which splits the users.)
        assert_eq!(today.active_users, 2);
    }

    // The periodic flush writes every count so far, the last read's too.
    await_flushed(&server, tenant.id, totals(&after)).await;
    let flushed = usage(&owner, t, 3).await;
    assert_eq!(
        totals(&flushed),
        (totals(&after).0 + 1, totals(&after).1),
        "flushed counts are not counted again"
    );
}
scenario!(
    usage_counts_requests_records_and_users_and_is_flushed,
    backend
);

/// A graceful stop writes what was counted since the last flush; a crash
/// loses it, and only it.
async fn a_stop_flushes_the_counts_and_a_crash_loses_only_the_unflushed(backend: Backend) {
    // No periodic flush within the test: only the stop writes.
    let Some(mut server) = start(backend, "3600").await else {
        return;
    };
    let owner = server.signup("owner@acme.example").await;
    let tenant = server.create_tenant(&owner, "acme").await;
    let t = tenant.slug.as_str();
    owner
        .client
        .create_collection(t, &spec(tasks_json("tenant")))
        .await
        .unwrap();
    for title in ["one", "two"] {
        owner
            .client
            .create_record(t, "tasks", &json!({ "title": title }))
            .await
            .unwrap();
    }
    let counted = totals(&usage(&owner, t, 2).await);
    assert_eq!(stored_totals(&server, tenant.id).await, (0, 0));

    assert!(server.server.terminate().await.success());
    assert_eq!(
        stored_totals(&server, tenant.id).await,
        (counted.0 as i64, counted.1 as i64),
        "the stop wrote every count"
    );
    server.restart().await;
    let owner = server.login("owner@acme.example", PASSWORD).await;
    let restarted = usage(&owner, t, 2).await;
    assert_eq!(totals(&restarted), (counted.0 + 1, counted.1));

    // Counted, never flushed: a crash takes it, and nothing before it.
    owner
        .client
        .create_record(t, "tasks", &json!({ "title": "lost count" }))
        .await
        .unwrap();
    let lost = usage(&owner, t, 2).await;
    assert_eq!(totals(&lost), (counted.0 + 3, counted.1 + 1));
    server.server.kill().await;
    server.restart().await;
    let owner = server.login("owner@acme.example", PASSWORD).await;
    let after_crash = usage(&owner, t, 2).await;
    assert_eq!(
        totals(&after_crash),
        (counted.0 + 1, counted.1),
        "the crash lost the unflushed counts, and only those"
    );
    // The record itself, and the quota's count of it, are not counts the
    // crash could lose.
    assert_eq!(after_crash.usage.records, 3);
}
scenario!(
    a_stop_flushes_the_counts_and_a_crash_loses_only_the_unflushed,
    backend
);
