//! Slow and idle clients cannot exhaust the server (issue 17, defect 1):
//! connections that say nothing, stop inside their headers, never finish a
//! declared body or idle after an answer are closed after the configured
//! timeouts, and the number of open connections stays under the process's
//! open-file limit, so the listener keeps accepting and `/readyz` answers.
//!
//! Nothing here depends on the database, so the server runs on SQLite.

use std::path::Path;
use std::time::Duration;

use bulkhead_client::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::time::{Instant, timeout};

use crate::harness::{Backend, Options, TestServer};
use crate::support::{Server, bulkhead_with_open_file_limit};

/// An upper bound on any one wait; never a delay.
const PATIENCE: Duration = Duration::from_secs(30);

/// The server's open-file limit in the first test: below the number of
/// connections the test holds.
const OPEN_FILE_LIMIT: u32 = 256;

/// Connections held of each kind: four kinds, 320 in all.
const HELD_OF_EACH_KIND: usize = 80;

/// What a held connection does after connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sends nothing.
    Idle,
    /// Stops inside its request head.
    HalfSentHead,
    /// Declares a body of 1,000 bytes and sends a few.
    UnfinishedBody,
    /// Sends one whole request, reads nothing, then stays.
    KeptAlive,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Idle,
        Kind::HalfSentHead,
        Kind::UnfinishedBody,
        Kind::KeptAlive,
    ];

    fn bytes(self) -> &'static [u8] {
        match self {
            Kind::Idle => b"",
            Kind::HalfSentHead => b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ",
            Kind::UnfinishedBody => {
                b"POST /v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\": "
            }
            Kind::KeptAlive => b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n",
        }
    }
}

/// `bulkhead serve` with at most [`OPEN_FILE_LIMIT`] open files and
/// one-second header and body timeouts.
fn serve_limited(data: &Path) -> Command {
    let mut command = bulkhead_with_open_file_limit(
        OPEN_FILE_LIMIT,
        ["serve", "--addr", "127.0.0.1:0", "--data-dir"],
    );
    command
        .arg(data)
        .env("BULKHEAD_HEADER_READ_TIMEOUT", "1")
        .env("BULKHEAD_BODY_READ_TIMEOUT", "1");
    command
}

/// Reads until the server closes the connection (end of file or reset) and
/// returns what it sent; panics if it is still open after [`PATIENCE`].
async fn until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut received = Vec::new();
    let closed = timeout(PATIENCE, async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    let received = String::from_utf8_lossy(&received).into_owned();
    assert!(
        closed.is_ok(),
        "{what}: still open after {PATIENCE:?}; received {received:?}"
    );
    received
}

/// Polls `/readyz` until it answers 200, each attempt bounded, the whole
/// wait bounded by [`PATIENCE`].
async fn wait_until_ready(server: &Server) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let outcome = client.get(server.url("/readyz")).send().await;
        if outcome
            .as_ref()
            .is_ok_and(|response| response.status() == 200)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz did not answer 200 within {PATIENCE:?}; last: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn held_idle_and_half_sent_connections_beyond_the_file_limit_do_not_starve_readyz() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(serve_limited(&dir.path().join("data"))).await;

    let mut held = Vec::new();
    for _ in 0..HELD_OF_EACH_KIND {
        for kind in Kind::ALL {
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            stream.write_all(kind.bytes()).await.unwrap();
            held.push((kind, stream));
        }
    }
    assert!(held.len() > OPEN_FILE_LIMIT as usize);

    wait_until_ready(&server).await;

    for (kind, stream) in &mut held {
        let received = until_closed(stream, &format!("{kind:?}")).await;
        let status = received.lines().next().unwrap_or_default();
        match kind {
            Kind::Idle => assert_eq!(received, "", "{kind:?}"),
            Kind::HalfSentHead => assert!(
                received.is_empty() || status.starts_with("HTTP/1.1 408"),
                "{kind:?}: {received:?}"
            ),
            Kind::UnfinishedBody => {
                assert!(status.starts_with("HTTP/1.1 408"), "{kind:?}: {received:?}");
                assert!(
                    received.contains("\"code\":\"request_timeout\""),
                    "{received}"
                );
            }
            Kind::KeptAlive => {
                assert!(status.starts_with("HTTP/1.1 200"), "{kind:?}: {received:?}");
            }
        }
    }

    let (status, logs, stderr) = server.stop_collecting_stdout("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    // The connection limit keeps the server under its open-file limit, so
    // the listener never fails to accept.
    assert!(!logs.contains("Too many open files"), "{logs}");
}

#[tokio::test]
async fn an_event_stream_outlives_the_connection_timeouts_and_shutdown_ends_it() {
    let options = Options::default()
        .env("BULKHEAD_HEADER_READ_TIMEOUT", "1")
        .env("BULKHEAD_BODY_READ_TIMEOUT", "1");
    let server = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();
    let owner = server.signup("stream-owner@example.com").await;
    server.create_tenant(&owner, "stream-co").await;
    let created = owner
        .send(
            Method::POST,
            "/v1/tenants/stream-co/collections",
            Some(json!({
                "name": "notes",
                "fields": [{ "name": "title", "type": "text" }],
                "visibility": "tenant",
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let mut stream = reqwest::Client::new()
        .get(server.server.url("/v1/tenants/stream-co/events"))
        .bearer_auth(&owner.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // Once a connection that says nothing has been closed, the timeouts
    // have passed for the stream too.
    let mut idle = TcpStream::connect(server.server.addr).await.unwrap();
    assert_eq!(until_closed(&mut idle, "idle").await, "");

    let created = owner
        .send(
            Method::POST,
            "/v1/tenants/stream-co/collections/notes/records",
            Some(json!({ "title": "after the timeouts" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let mut received = String::new();
    timeout(PATIENCE, async {
        while !received.contains("after the timeouts") {
            let chunk = stream.chunk().await.unwrap().expect("the stream ended");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("no event on the stream");

    // A stalled request does not hold the shutdown up beyond its timeout,
    // and the open stream is ended.
    let mut stalled = TcpStream::connect(server.server.addr).await.unwrap();
    stalled.write_all(Kind::HalfSentHead.bytes()).await.unwrap();
    let (status, _, stderr) = server.stop().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    let rest = timeout(PATIENCE, async {
        while stream.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream was not ended at shutdown");
}

/// At the connection cap, connections that have sent no request head make
/// room for new ones, oldest first, instead of holding every slot until
/// the header timeout; a connection inside a request is never chosen.
#[tokio::test]
async fn at_the_cap_silent_connections_make_room_and_requests_in_progress_stay() {
    const CAP: usize = 20;
    const CAP_SETTING: &str = "20";
    // Far beyond the test's patience: only making room can let the probe in.
    let options = Options::default()
        .env("BULKHEAD_MAX_CONNECTIONS", CAP_SETTING)
        .env("BULKHEAD_HEADER_READ_TIMEOUT", "600")
        .env("BULKHEAD_BODY_READ_TIMEOUT", "600");
    let server = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();

    // Requests in progress first, so they are the oldest connections.
    let mut in_progress = Vec::new();
    for _ in 0..CAP / 4 {
        let mut stream = TcpStream::connect(server.server.addr).await.unwrap();
        stream
            .write_all(Kind::UnfinishedBody.bytes())
            .await
            .unwrap();
        in_progress.push(stream);
    }
    let mut silent = Vec::new();
    for i in 0..3 * CAP {
        let mut stream = TcpStream::connect(server.server.addr).await.unwrap();
        let kind = if i % 2 == 0 {
            Kind::Idle
        } else {
            Kind::HalfSentHead
        };
        stream.write_all(kind.bytes()).await.unwrap();
        silent.push(stream);
    }

    wait_until_ready(&server.server).await;

    // The requests in progress are still open: nothing was sent to them
    // and they were not closed.
    for stream in &mut in_progress {
        let mut buffer = [0_u8; 64];
        let read = timeout(Duration::from_millis(100), stream.read(&mut buffer)).await;
        assert!(
            read.is_err(),
            "a request in progress was answered or closed: {read:?}"
        );
    }
    // Some silent connections were closed to make room.
    let mut n_closed = 0;
    for stream in &mut silent {
        let mut buffer = [0_u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            timeout(Duration::from_millis(10), stream.read(&mut buffer)).await
        {
            n_closed += 1;
        }
    }
    assert!(n_closed > 0, "no silent connection was closed");
    // Shutdown lets requests in progress, and heads being read, finish
    // (up to their timeouts, here far away): end them.
    drop(in_progress);
    drop(silent);
    let (status, _, stderr) = server.stop().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}
