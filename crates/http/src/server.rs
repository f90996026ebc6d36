//! The accept loop: HTTP/1.1 connections under a cap and read timeouts,
//! drained at shutdown.
//!
//! `axum::serve` has no read timeouts and no connection cap, and before it
//! reads a request it waits, without a deadline, for the first bytes of a
//! connection (to tell HTTP/1 from HTTP/2). A client that connected and
//! said nothing would hold a file descriptor for ever; enough of them and
//! the listener fails with "Too many open files". Here:
//!
//! - A connection must send a whole request head within
//!   [`ConnectionLimits::header_read_timeout`]. hyper starts that timer
//!   whenever it waits for a head: when the connection opens and again when
//!   a kept-alive connection has answered, so the same timer closes idle
//!   keep-alive connections. It never runs while an answer is sent, so
//!   event streams are not cut.
//! - A request body must make progress: at most
//!   [`ConnectionLimits::body_read_timeout`] between two chunks (tower-http's
//!   [`RequestBodyTimeoutLayer`]). A stalled body answers 408
//!   (`request_timeout`) and the connection closes.
//! - At most [`ConnectionLimits::max_connections`] connections are open.
//!   At the cap the oldest connection that has not yet sent a whole request
//!   head is closed to make room ([`SilentConnections`]), so a flood of
//!   silent sockets cannot keep other clients out for a header timeout;
//!   when every open connection has begun a request, the loop stops
//!   accepting and new connections wait in the kernel's listen backlog,
//!   costing no descriptor, until a slot frees.
//! - An accept error about the process rather than one connection (out of
//!   descriptors, buffers or memory) would fail again at once: the loop
//!   waits ([`AcceptBackoff`]) instead of spinning.
//!
//! HTTP/2 is not served (axum's build here had no HTTP/2 either); a proxy
//! in front speaks it to browsers.

mod accept;
mod silent;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot};
use tokio::time::Instant;
use tower::ServiceBuilder;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutBody};

pub use accept::AcceptBackoff;
use silent::SilentConnections;

/// How long clients may take and how many connections may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From a connection's start, or the end of its previous answer, to
    /// the end of the next request head.
    pub header_read_timeout: Duration,
    /// The longest wait for the next chunk of a request body.
    pub body_read_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// Enough for any client on a slow link to send a request head, which
    /// fits in one packet.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Bodies are at most 1 MiB; a client that sends nothing for this long
    /// has gone.
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
}

/// How often at most the loop says that it is at the connection cap.
const AT_CAPACITY_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, lets every open connection finish the request it is in (idle
/// ones close at once) and returns when all are closed.
///
/// Whatever must end for connections to finish (event streams) has to be
/// ended by `shutdown` itself.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let silent = Arc::new(SilentConnections::default());
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::default();
    let mut said_at_capacity: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                if said_at_capacity.is_none_or(|at| at.elapsed() >= AT_CAPACITY_LOG_INTERVAL) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait to be accepted"
                    );
                    said_at_capacity = Some(Instant::now());
                }
                tokio::select! {
                    slot = make_room(&slots, &silent) => match slot {
                        Some(slot) => slot,
                        None => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.succeeded();
                let (id, close) = silent.add(std::time::Instant::now());
                let spoke = Arc::new(AtomicBool::new(false));
                let silent_now = Arc::clone(&silent);
                // The peer's address is what axum's `ConnectInfo` reads.
                let service = ServiceBuilder::new()
                    .layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout))
                    .map_request(move |mut request: hyper::Request<TimeoutBody<Incoming>>| {
                        if !spoke.swap(true, Ordering::Relaxed) {
                            silent_now.spoke(id);
                        }
                        request.extensions_mut().insert(ConnectInfo(peer));
                        request
                    })
                    .service(app.clone());
                let connection =
                    http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let ended = Ended {
                    silent: Arc::clone(&silent),
                    id,
                    slot,
                };
                tokio::spawn(finish(graceful.watch(connection), close, ended));
            }
            Err(error) => {
                let Some(delay) = backoff.failed(&error) else {
                    continue;
                };
                tracing::error!(%error, ?delay, "cannot accept connections; waiting");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// How long a connection must have been open, without a request head,
/// before it may be closed to make room: a client sends its head right
/// after connecting, and a busy loop may accept a connection before its
/// task has read the head already sent.
const SILENT_GRACE: Duration = Duration::from_secs(1);
/// How often a full server looks again for a connection to close.
const MAKE_ROOM_INTERVAL: Duration = Duration::from_millis(100);

/// Waits for a free slot, meanwhile closing the oldest connection that has
/// stayed silent for [`SILENT_GRACE`]; `None` once the slots are closed.
async fn make_room(
    slots: &Arc<Semaphore>,
    silent: &SilentConnections,
) -> Option<OwnedSemaphorePermit> {
    loop {
        // Its slot frees as soon as its task has dropped it.
        let cutoff = std::time::Instant::now().checked_sub(SILENT_GRACE);
        if let Some(cutoff) = cutoff {
            silent.close_oldest(cutoff);
        }
        tokio::select! {
            slot = Arc::clone(slots).acquire_owned() => return slot.ok(),
            () = tokio::time::sleep(MAKE_ROOM_INTERVAL) => {}
        }
    }
}

/// What a connection's task gives back when it ends: its place among the
/// silent connections, then its slot.
struct Ended {
    silent: Arc<SilentConnections>,
    id: u64,
    slot: OwnedSemaphorePermit,
}

/// Runs one connection to its end, or until it is chosen to make room
/// while still silent (dropping it closes the socket), then frees its
/// place and its slot.
async fn finish(
    connection: impl Future<Output = Result<(), hyper::Error>>,
    close: oneshot::Receiver<()>,
    ended: Ended,
) {
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                // Timeouts and clients that go away are routine; nothing
                // to act on.
                tracing::debug!(%error, timeout = error.is_timeout(), "connection ended");
            }
        }
        // An error here means the connection spoke and can no longer be
        // chosen: the branch is disabled and the connection runs on.
        Ok(()) = close => {
            tracing::debug!("closed a silent connection to make room at the connection cap");
        }
    }
    ended.silent.spoke(ended.id);
    drop(ended.slot);
}
