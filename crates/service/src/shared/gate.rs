//! How many transactions one tenant may hold at once: the noisy-neighbour
//! guard in front of the database's connections.
//!
//! Without it a tenant flooding the server holds every pooled connection
//! (on PostgreSQL, many of them waiting on that tenant's own audit chain),
//! and every other tenant's requests queue behind its flood. With it a
//! tenant's work past its share waits in that tenant's own queue (first
//! come, first served), and the other tenants find connections free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_domain::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many tenants remembered, those with nothing in flight go.
const PRUNE_ABOVE: usize = 10_000;

/// How often a request waiting for its tenant's place asks whether the
/// database is down, when it goes through at once to be told so.
const OUTAGE_POLL: Duration = Duration::from_millis(100);

/// One semaphore per tenant with work in flight.
#[derive(Debug)]
pub(crate) struct TenantGate {
    per_tenant: usize,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// A tenant's place through the gate, given back when dropped.
#[derive(Debug)]
pub(crate) struct GatePass {
    _permit: Option<OwnedSemaphorePermit>,
}

impl TenantGate {
    /// At most `per_tenant` transactions of one tenant at once (at least 1).
    pub(crate) fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant: per_tenant.max(1),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The share of `connections` one tenant may hold: half, so that a
    /// flood leaves the other half to everyone else, and at least two.
    pub(crate) fn share_of(connections: u32) -> usize {
        usize::try_from(connections / 2)
            .unwrap_or(usize::MAX)
            .max(2)
    }

    /// Waits for a place among the tenant's transactions, or until
    /// `unreachable` says the database is down: then the request goes
    /// through ungated, since the store answers it at once, and waiting
    /// behind the tenant's other requests (each told in turn) would only
    /// delay its 503.
    pub(crate) async fn enter(&self, tenant: TenantId, unreachable: impl Fn() -> bool) -> GatePass {
        let semaphore = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            if tenants.len() > PRUNE_ABOVE {
                // Only the map holds an idle tenant's semaphore.
                tenants.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            }
            Arc::clone(
                tenants
                    .entry(tenant)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant))),
            )
        };
        // The semaphore is never closed, so acquiring cannot fail; were it
        // closed, going through ungated is the safe way to fail.
        let mut acquire = std::pin::pin!(semaphore.acquire_owned());
        loop {
            match tokio::time::timeout(OUTAGE_POLL, &mut acquire).await {
                Ok(permit) => {
                    return GatePass {
                        _permit: permit.ok(),
                    };
                }
                Err(_) if unreachable() => return GatePass { _permit: None },
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_past_its_share_waits_while_another_goes_through() {
        let gate = TenantGate::new(2);
        let (a, b) = (TenantId::new(), TenantId::new());
        let first = gate.enter(a, || false).await;
        let _second = gate.enter(a, || false).await;
        let third = gate.enter(a, || false);
        tokio::pin!(third);
        assert!(
            futures_util_poll(&mut third).await.is_none(),
            "A's third waits"
        );
        // B is not behind A.
        let _b = gate.enter(b, || false).await;
        drop(first);
        assert!(
            futures_util_poll(&mut third).await.is_some(),
            "A's third goes once one of A's ends"
        );
    }

    #[tokio::test]
    async fn a_waiting_request_goes_through_once_the_database_is_down() {
        let gate = TenantGate::new(1);
        let a = TenantId::new();
        let _held = gate.enter(a, || false).await;
        let down = std::sync::atomic::AtomicBool::new(false);
        let waiting = gate.enter(a, || down.load(std::sync::atomic::Ordering::Relaxed));
        tokio::pin!(waiting);
        assert!(futures_util_poll(&mut waiting).await.is_none());
        down.store(true, std::sync::atomic::Ordering::Relaxed);
        // Within a poll interval or two, without its place.
        tokio::time::timeout(OUTAGE_POLL * 5, &mut waiting)
            .await
            .expect("the request goes through to be told the database is down");
    }

    #[test]
    fn a_tenants_share_is_half_the_connections_and_at_least_two() {
        assert_eq!(TenantGate::share_of(16), 8);
        assert_eq!(TenantGate::share_of(3), 2);
        assert_eq!(TenantGate::share_of(0), 2);
    }

    /// Polls a future once.
    async fn futures_util_poll<F: std::future::Future + Unpin>(
        future: &mut F,
    ) -> Option<F::Output> {
        use std::task::Poll;
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *future).poll(cx) {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }
}
