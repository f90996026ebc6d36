//! A PostgreSQL outage seen by one replica (RELIABILITY F3, F4; issue 17,
//! defects 2 and 3). Replica B reaches the database through a [`PgProxy`]
//! that the test cuts (every connection ends, new ones are refused) and
//! restores, while primary A keeps its own path: B's invalidation listener
//! loses its connection and B's pooled connections die, as in a database
//! restart, without stopping the PostgreSQL server other tests share.
//!
//! PostgreSQL only: a SQLite file has no server to lose.

use std::time::{Duration, Instant};

use bulkhead_client::{Client, Method, RawResponse};
use serde_json::json;

use crate::harness::{Backend, Options, PASSWORD, TestServer, expect_problem, request};
use crate::proxy::PgProxy;
use crate::records_common::{create, record_path, tenant_with_tasks};
use crate::support::Server;

/// A bound on waiting for a condition (never a measure of speed).
const PATIENCE: Duration = Duration::from_secs(30);

/// Requests sent at once, twice the pool's default connections.
const BURST: usize = 32;

async fn get(client: &Client, path: &str) -> RawResponse {
    request(client, Method::GET, path, None).await
}

/// [`BURST`] concurrent `GET path`s; their statuses.
async fn burst(client: &Client, path: &str) -> Vec<u16> {
    let requests: Vec<_> = (0..BURST)
        .map(|_| {
            let (client, path) = (client.clone(), path.to_owned());
            tokio::spawn(async move { get(&client, &path).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    statuses
}

/// Sends `GET path` until the answer's status satisfies `done`; returns the
/// answers before it.
async fn until(client: &Client, path: &str, done: impl Fn(u16) -> bool) -> Vec<u16> {
    let started = Instant::now();
    let mut before = Vec::new();
    loop {
        let status = get(client, path).await.status;
        if done(status) {
            return before;
        }
        before.push(status);
        assert!(
            started.elapsed() < PATIENCE,
            "GET {path} still answers {status} after {PATIENCE:?}"
        );
    }
}

/// A primary on PostgreSQL and a replica behind a proxy, or `None` when
/// PostgreSQL is not reachable.
async fn primary_and_replica(
    env: &[(&str, &str)],
) -> Option<(TestServer, Server, Client, PgProxy)> {
    let primary = TestServer::start_with(Backend::Postgres, Options::default()).await?;
    let (replica_process, replica, proxy) = primary.replica_through_proxy(env).await?;
    Some((primary, replica_process, replica, proxy))
}

#[tokio::test]
async fn a_replica_cut_off_from_the_database_accepts_no_revoked_session() {
    let Some((primary, _replica_process, replica, proxy)) = primary_and_replica(&[]).await else {
        return;
    };
    primary.signup("ada@example.com").await;
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let session = primary.login("ada@example.com", PASSWORD).await;
        // Cached on the replica from now on.
        let on_replica = replica.with_token(&session.tokens.access_token);
        on_replica.me().await.unwrap();
        sessions.push((session, on_replica));
    }

    proxy.cut();
    // The replica cannot hear revocations now; it must stop answering from
    // its cache (it cannot reach the database to check either).
    let (_, first) = &sessions[0];
    let served = until(first, "/v1/me", |status| status != 200).await;
    eprintln!(
        "the replica answered {} request(s) from its cache after the cut",
        served.len()
    );

    // Revoked on the primary while the replica's notifications are lost.
    for (session, _) in &sessions {
        session.client.logout().await.unwrap();
    }
    let mut stale = 0;
    for (_, on_replica) in &sessions {
        if get(on_replica, "/v1/me").await.status == 200 {
            stale += 1;
        }
    }
    assert_eq!(
        stale, 0,
        "the replica accepted revoked sessions during the outage"
    );

    proxy.restore();
    for (index, (_, on_replica)) in sessions.iter().enumerate() {
        let before = until(on_replica, "/v1/me", |status| status == 401).await;
        let stale = before.iter().filter(|status| **status == 200).count();
        assert_eq!(
            stale, 0,
            "session {index} was accepted {stale} time(s) after the outage: {before:?}"
        );
    }
    // Revocation reaches the replica at once again (LISTEN is back).
    let session = primary.login("ada@example.com", PASSWORD).await;
    let on_replica = replica.with_token(&session.tokens.access_token);
    until(&on_replica, "/v1/me", |status| status == 200).await;
}

#[tokio::test]
async fn reads_right_after_an_outage_meet_no_dead_connection() {
    let Some((primary, replica_process, replica, proxy)) = primary_and_replica(&[]).await else {
        return;
    };
    let (owner, tenant) = tenant_with_tasks(&primary, "burst", "tenant").await;
    let record = create(&owner.client, &tenant.slug, "tasks", json!({"title": "a"})).await;
    let path = record_path(&tenant.slug, "tasks", record.id);
    let reader = replica.with_token(&owner.tokens.access_token);
    // Fill the replica's pool with connections that the outage will kill.
    let statuses = burst(&reader, &path).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");

    proxy.cut();
    until(&replica, "/readyz", |status| status == 503).await;
    proxy.restore();

    let statuses = burst(&reader, &path).await;
    let n_unavailable = statuses.iter().filter(|status| **status == 503).count();
    if n_unavailable > 0 {
        let (_, logs, _) = replica_process.stop_collecting_stdout("TERM").await;
        eprintln!("the replica's warnings:");
        for line in logs.lines().filter(|line| line.contains("WARN")) {
            eprintln!("{line}");
        }
    }
    assert_eq!(
        n_unavailable, 0,
        "{n_unavailable} of {BURST} reads right after the outage answered 503: {statuses:?}"
    );
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
}

#[tokio::test]
async fn during_an_outage_a_request_answers_503_without_waiting_for_the_pool() {
    // A pool that would make a request wait 30 s for a connection.
    let env = [("BULKHEAD_DATABASE_ACQUIRE_TIMEOUT", "30")];
    let Some((primary, _replica_process, replica, proxy)) = primary_and_replica(&env).await else {
        return;
    };
    let (owner, tenant) = tenant_with_tasks(&primary, "fast", "tenant").await;
    let record = create(&owner.client, &tenant.slug, "tasks", json!({"title": "a"})).await;
    let path = record_path(&tenant.slug, "tasks", record.id);
    let reader = replica.with_token(&owner.tokens.access_token);
    assert_eq!(get(&reader, &path).await.status, 200);

    proxy.cut();
    until(&replica, "/readyz", |status| status == 503).await;
    // Generous, and still a third of the acquire timeout: the alternative
    // to answering is hanging for all of it.
    let bound = Duration::from_secs(10);
    for attempt in 0..5 {
        let response = tokio::time::timeout(bound, get(&reader, &path))
            .await
            .unwrap_or_else(|_| {
                panic!("request {attempt} during the outage had no answer within {bound:?}")
            });
        expect_problem(&response, 503, "not_ready");
    }

    proxy.restore();
    until(&reader, &path, |status| status == 200).await;
}

/// Requests already waiting for a pooled connection when the database goes
/// away cannot have seen it go; they too must answer soon, not at the end of
/// the acquire timeout. With one connection and [`READERS`] readers at once,
/// most of them are always waiting for it, so the cut finds some waiting.
#[tokio::test]
async fn requests_waiting_for_a_connection_when_the_database_goes_away_answer_503_soon() {
    const READERS: usize = 16;
    let env = [
        ("BULKHEAD_DATABASE_ACQUIRE_TIMEOUT", "30"),
        ("BULKHEAD_DATABASE_POOL_SIZE", "1"),
    ];
    let Some((primary, _replica_process, replica, proxy)) = primary_and_replica(&env).await else {
        return;
    };
    let (owner, tenant) = tenant_with_tasks(&primary, "queue", "tenant").await;
    let record = create(&owner.client, &tenant.slug, "tasks", json!({"title": "a"})).await;
    let path = record_path(&tenant.slug, "tasks", record.id);
    let reader = replica.with_token(&owner.tokens.access_token);
    assert_eq!(get(&reader, &path).await.status, 200);

    // Each reader reads until it has had an answer after the cut. The cut
    // comes once every reader has had a 200, so all of them are in the queue.
    let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = std::sync::Arc::new(tokio::sync::Barrier::new(READERS + 1));
    let bound = Duration::from_secs(10);
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (reader, path) = (reader.clone(), path.clone());
            let (cut, served) = (cut.clone(), served.clone());
            tokio::spawn(async move {
                let mut waited_at_first = true;
                loop {
                    let sent_after_cut = cut.load(std::sync::atomic::Ordering::Acquire);
                    let started = Instant::now();
                    let answer = tokio::time::timeout(bound, get(&reader, &path)).await;
                    let status = answer.map(|response| response.status).map_err(|_| {
                        format!(
                            "no answer within {bound:?} (waited {:?})",
                            started.elapsed()
                        )
                    })?;
                    if waited_at_first && status == 200 {
                        waited_at_first = false;
                        served.wait().await;
                    }
                    if sent_after_cut || (status != 200 && !waited_at_first) {
                        return Ok::<u16, String>(status);
                    }
                }
            })
        })
        .collect();
    served.wait().await;
    proxy.cut();
    cut.store(true, std::sync::atomic::Ordering::Release);

    let mut failures = Vec::new();
    for reader in readers {
        match reader.await.unwrap() {
            Ok(503) => {}
            Ok(status) => failures.push(format!("answered {status} after the cut")),
            Err(failure) => failures.push(failure),
        }
    }
    assert!(failures.is_empty(), "{failures:?}");

    proxy.restore();
    until(&reader, &path, |status| status == 200).await;
}
