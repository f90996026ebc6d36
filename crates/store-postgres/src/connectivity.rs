//! What this process knows about reaching the PostgreSQL server, learned
//! from the one connection it always holds open: the invalidation
//! listener's (see `notify`).
//!
//! Two things follow from that connection dropping. Every pooled
//! connection that sat idle since then may have dropped with it, unseen,
//! so it is pinged before a request gets it ([`Connectivity::needs_ping`]);
//! connections in steady use are not, so a busy server pays no round trip
//! for this. And until a connection is made again the server is taken to
//! be unreachable: requests then find out within a short wait instead of
//! each waiting for the pool's acquire timeout ([`Connectivity::is_unreachable`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// A pooled connection unused for this long is pinged before a request
/// gets it, whatever the listener saw: a connection can die alone (an
/// idle-session timeout, a terminated backend, a firewall forgetting the
/// flow). Connections of a server under load are reused well within it.
pub const PING_IDLE_AFTER: Duration = Duration::from_secs(5);

/// Connections put back into the pool up to this long after the listener
/// saw its connection drop are pinged too: one whose ping on release was
/// answered just before the drop can be put back just after the listener
/// noticed, and the listener notices a little late when the process is busy.
const AFTER_DROP_MARGIN: Duration = Duration::from_secs(1);

/// How long a ping may take before the connection is given up as dead (a
/// half-open connection would otherwise hold the request until TCP gives
/// up, minutes later).
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection state shared by the pool's acquire hook, the requests
/// and the listener task.
#[derive(Debug)]
pub struct Connectivity {
    origin: Instant,
    /// When a connection to the server was last seen to drop, in
    /// microseconds after `origin`, plus one; zero if never.
    last_drop: AtomicU64,
    unreachable: AtomicBool,
    /// Wakes the requests waiting for a pooled connection when a drop is
    /// seen ([`Connectivity::dropped`]).
    dropped: Notify,
}

impl Default for Connectivity {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            last_drop: AtomicU64::new(0),
            unreachable: AtomicBool::new(false),
            dropped: Notify::new(),
        }
    }
}

impl Connectivity {
    /// The listener's connection dropped: pooled connections may be dead
    /// too, and the server is unreachable until a connection is made.
    pub fn connection_dropped(&self) {
        self.connection_dropped_at(self.origin.elapsed());
    }

    fn connection_dropped_at(&self, since_origin: Duration) {
        let micros = u64::try_from(since_origin.as_micros()).unwrap_or(u64::MAX);
        self.last_drop
            .store(micros.saturating_add(1), Ordering::Release);
        self.unreachable.store(true, Ordering::Release);
        self.dropped.notify_waiters();
    }

    /// Completes at the next drop seen after it was enabled
    /// (`Notified::enable`) or first polled. A request that began waiting
    /// for a pooled connection before the drop was seen cannot have been
    /// told the server is unreachable; this tells it while it waits.
    pub fn dropped(&self) -> Notified<'_> {
        self.dropped.notified()
    }

    /// A connection to the server was made (`true`) or could not be (`false`).
    pub fn set_reachable(&self, reachable: bool) {
        self.unreachable.store(!reachable, Ordering::Release);
    }

    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Acquire)
    }

    /// Whether a pooled connection idle for `idle_for` must be pinged before
    /// use: it has been idle since a connection was seen to drop (anything
    /// returned to the pool well after that was pinged on its way back,
    /// which sqlx does for every connection), or longer than
    /// [`PING_IDLE_AFTER`].
    pub fn needs_ping(&self, idle_for: Duration) -> bool {
        self.needs_ping_at(idle_for, self.origin.elapsed())
    }

    fn needs_ping_at(&self, idle_for: Duration, since_origin: Duration) -> bool {
        if idle_for >= PING_IDLE_AFTER {
            return true;
        }
        match self.last_drop.load(Ordering::Acquire) {
            0 => false,
            micros => {
                let dropped_at = Duration::from_micros(micros - 1);
                idle_for + AFTER_DROP_MARGIN >= since_origin.saturating_sub(dropped_at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_idle_since_a_drop_are_pinged_and_later_ones_are_not() {
        let connectivity = Connectivity::default();
        let ms = Duration::from_millis;
        assert!(!connectivity.needs_ping_at(ms(1_000), ms(60_000)));
        connectivity.connection_dropped_at(ms(60_000));
        // Idle since before the drop: it may have died with it.
        assert!(connectivity.needs_ping_at(ms(301), ms(60_300)));
        // Returned to the pool just after the drop was seen: its ping on
        // release may have been answered before.
        assert!(connectivity.needs_ping_at(ms(100), ms(60_300)));
        // Returned to the pool well after, so pinged on the way back.
        assert!(!connectivity.needs_ping_at(ms(100), ms(61_200)));
        assert!(connectivity.needs_ping_at(PING_IDLE_AFTER, ms(61_200)));
    }

    #[test]
    fn the_server_is_unreachable_from_a_drop_until_a_connection_is_made() {
        let connectivity = Connectivity::default();
        assert!(!connectivity.is_unreachable());
        connectivity.connection_dropped();
        assert!(connectivity.is_unreachable());
        connectivity.set_reachable(true);
        assert!(!connectivity.is_unreachable());
    }

    #[tokio::test]
    async fn a_drop_wakes_whoever_listened_before_it_and_no_one_after() {
        let connectivity = Connectivity::default();
        let mut before = std::pin::pin!(connectivity.dropped());
        before.as_mut().enable();
        connectivity.connection_dropped();
        before.await;
        let mut after = std::pin::pin!(connectivity.dropped());
        assert!(poll_once(after.as_mut()).is_pending());
    }

    fn poll_once<F: std::future::Future>(
        future: std::pin::Pin<&mut F>,
    ) -> std::task::Poll<F::Output> {
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        future.poll(&mut context)
    }
}
