//! Realtime record events: fan-out partitioned by tenant.
//!
//! A record write appends an event to its tenant's `record_events`, numbered
//! by the write's audit entry (so numbers increase, with gaps), and
//! announces `Invalidation::RecordEvents(tenant)` with its commit. The store
//! delivers that announcement in this process right after the commit and in
//! every other process sharing the database (PostgreSQL
//! LISTEN/NOTIFY). [`RealtimeHub`] keeps one broadcast channel per tenant
//! *that has subscribers*; an announcement for a tenant without one costs a
//! map lookup and nothing else. For a tenant with subscribers, one task per
//! announcement reads the new events from the database, once for all of
//! them, and broadcasts them in order.
//!
//! Each subscriber (see [`Data::subscribe`]) gets the events of its
//! tenant the caller may see at the moment of the event: its access is
//! re-checked for every event and on every heartbeat, so a removed member's
//! stream ends, and owner-visibility records reach only their owner and
//! managers. `Last-Event-ID` replays from the stored events, which are kept,
//! so resuming loses nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_domain::collection::Visibility;
use bulkhead_domain::{Permission, TenantId};
use bulkhead_store::{Access, Invalidation, RecordEvent, Store};
use tokio::sync::{Mutex as AsyncMutex, broadcast, mpsc};

use crate::ServiceError;
use crate::collections::parse_stored;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::data::Data;
use crate::rate_limits::StreamSlot;
use crate::shared::Core;

/// Events buffered per tenant before a slow subscriber has to catch up
/// from the database.
const CHANNEL_CAPACITY: usize = 1024;
/// Events read from the database at a time.
const BATCH: u32 = 500;
/// How often a quiet stream re-checks the subscriber's access.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

struct TenantChannel {
    sender: broadcast::Sender<Arc<Broadcast>>,
    /// The last event broadcast; the pump continues from it.
    last_seq: Arc<AsyncMutex<i64>>,
}

/// The per-process hub of realtime channels.
pub struct RealtimeHub {
    store: Arc<dyn Store>,
    channels: Mutex<HashMap<TenantId, TenantChannel>>,
}

impl std::fmt::Debug for RealtimeHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.channels.lock().map_or(0, |c| c.len());
        f.debug_struct("RealtimeHub")
            .field("n_tenants", &n)
            .finish()
    }
}

impl RealtimeHub {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// Called with every committed invalidation; starts a pump for tenants
    /// that have subscribers. Never blocks.
    pub fn announce(self: &Arc<Self>, invalidation: Invalidation) {
        let Invalidation::RecordEvents(tenant) = invalidation else {
            return;
        };
        self.pump_tenant(tenant);
    }

    /// Called when other processes' invalidations reach this one again
    /// after a gap: announcements made in the gap were lost, so every
    /// tenant with subscribers reads what it missed. Never blocks.
    pub fn catch_up(self: &Arc<Self>) {
        let tenants: Vec<TenantId> = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        for tenant in tenants {
            self.pump_tenant(tenant);
        }
    }

    fn pump_tenant(self: &Arc<Self>, tenant: TenantId) {
        let channel = {
            let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
            match channels.get(&tenant) {
                Some(channel) if channel.sender.receiver_count() > 0 => {
                    Some((channel.sender.clone(), Arc::clone(&channel.last_seq)))
                }
                Some(_) => {
                    // Its last subscriber left: forget the tenant.
                    channels.remove(&tenant);
                    None
                }
                None => None,
            }
        };
        let Some((sender, last_seq)) = channel else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.store);
        runtime.spawn(async move {
            if let Err(error) = pump(&*store, tenant, &sender, &last_seq).await {
                tracing::warn!(%error, %tenant, "could not read new record events");
            }
        });
    }

    /// Ends every subscription (at shutdown): streams close so that
    /// in-flight requests can finish.
    pub fn close(&self) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// A receiver of the tenant's live events, and the number the stream
    /// was at before them.
    async fn subscribe(
        &self,
        tenant: TenantId,
    ) -> Result<(broadcast::Receiver<Arc<Broadcast>>, i64), ServiceError> {
        let existing = {
            let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
            channels
                .get(&tenant)
                .map(|c| (c.sender.subscribe(), Arc::clone(&c.last_seq)))
        };
        if let Some((receiver, last_seq)) = existing {
            let seq = *last_seq.lock().await;
            return Ok((receiver, seq));
        }
        let current = last_event_seq(&*self.store, tenant).await?;
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = channels.entry(tenant).or_insert_with(|| TenantChannel {
            sender: broadcast::channel(CHANNEL_CAPACITY).0,
            last_seq: Arc::new(AsyncMutex::new(current)),
        });
        Ok((channel.sender.subscribe(), current))
    }
}

async fn last_event_seq(store: &dyn Store, tenant: TenantId) -> Result<i64, ServiceError> {
    // Live events start after the newest stored one; older ones come only
    // through Last-Event-ID.
    let mut tx = store.tenant(tenant, Access::Read).await?;
    Ok(tx.record_event_position().await?)
}

/// An event as the pump sends it: with the number the pump was at before
/// it, since event numbers have gaps (they are audit entries' numbers), so
/// that a subscriber can tell whether it missed an event.
#[derive(Debug)]
struct Broadcast {
    previous: i64,
    event: RecordEvent,
}

async fn pump(
    store: &dyn Store,
    tenant: TenantId,
    sender: &broadcast::Sender<Arc<Broadcast>>,
    last_seq: &AsyncMutex<i64>,
) -> Result<(), ServiceError> {
    // One pump per tenant at a time, continuing where the last one stopped,
    // so events go out once and in order.
    let mut last = last_seq.lock().await;
    loop {
        let mut tx = store.tenant(tenant, Access::Read).await?;
        let batch = tx.record_events_after(*last, BATCH).await?;
        drop(tx);
        let n_events = batch.len();
        for event in batch {
            let previous = std::mem::replace(&mut *last, event.seq);
            // No receivers is fine: they may all have left meanwhile.
            let _ = sender.send(Arc::new(Broadcast { previous, event }));
        }
        if n_events < BATCH as usize {
            return Ok(());
        }
    }
}

/// One event as a subscriber receives it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub seq: i64,
    pub kind: &'static str,
    pub collection: String,
    pub payload: serde_json::Value,
}

/// A live subscription: its events, and its place under the caps on open
/// subscriptions, given back when this is dropped.
#[derive(Debug)]
pub struct Subscription {
    events: mpsc::Receiver<Delivered>,
    _slot: StreamSlot,
}

impl Subscription {
    /// The next event; `None` once the subscription has ended.
    pub async fn recv(&mut self) -> Option<Delivered> {
        self.events.recv().await
    }
}

impl Data {
    /// Starts a subscription to the tenant's record events, optionally only
    /// for some collections, resuming after `last_event_id` if given. The
    /// subscription ends when the caller loses access to the tenant. Over
    /// the principal's or the tenant's cap on open subscriptions it is
    /// refused ([`ServiceError::RateLimited`]).
    pub async fn subscribe(
        &self,
        access: TenantAccess,
        collections: Option<HashSet<String>>,
        last_event_id: Option<i64>,
        ctx: RequestContext,
    ) -> Result<Subscription, ServiceError> {
        self.core
            .permit(&access, &ctx, Permission::RecordsRead, "events.subscribe")
            .await?;
        let slot = self.rate_limits.open_stream(&access, &ctx).await?;
        let tenant = access.tenant_id();
        let (mut live, current) = self.realtime.subscribe(tenant).await?;
        let (sender, receiver) = mpsc::channel(256);
        let core = Arc::clone(&self.core);
        let counted = Subscribed::count();
        tokio::spawn(async move {
            // Counted for as long as the task runs, however it ends.
            let _counted = counted;
            let mut stream = Stream {
                core,
                access,
                collections,
                visibility: HashMap::new(),
                ctx,
                sender,
            };
            let mut last = last_event_id.unwrap_or(current).min(current);
            // Backlog first (Last-Event-ID), then live events; anything
            // already delivered is skipped by number.
            if stream.catch_up(&mut last).await.is_err() {
                return;
            }
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            heartbeat.tick().await;
            loop {
                tokio::select! {
                    received = live.recv() => match received {
                        Ok(sent) => {
                            let event = &sent.event;
                            if event.seq <= last {
                                continue;
                            }
                            // An event between the last one delivered and
                            // this one was missed: it is in the database.
                            if sent.previous > last && stream.catch_up(&mut last).await.is_err() {
                                return;
                            }
                            if event.seq > last && stream.deliver(event).await.is_err() {
                                return;
                            }
                            last = last.max(event.seq);
                        }
                        // Too slow: the channel dropped events; they are in
                        // the database.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if stream.catch_up(&mut last).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = heartbeat.tick() => {
                        if stream.still_allowed().await.is_err() || stream.sender.is_closed() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Subscription {
            events: receiver,
            _slot: slot,
        })
    }
}

/// The gauge of subscriptions open in this process.
pub const SUBSCRIBERS: &str = "bulkhead_realtime_subscribers";

/// One open subscription on the [`SUBSCRIBERS`] gauge, taken off when
/// dropped.
struct Subscribed;

impl Subscribed {
    fn count() -> Subscribed {
        metrics::gauge!(SUBSCRIBERS).increment(1.0);
        Subscribed
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        metrics::gauge!(SUBSCRIBERS).decrement(1.0);
    }
}

/// Why a subscription stops.
struct Ended;

struct Stream {
    core: Arc<Core>,
    access: TenantAccess,
    collections: Option<HashSet<String>>,
    visibility: HashMap<String, Visibility>,
    ctx: RequestContext,
    sender: mpsc::Sender<Delivered>,
}

impl Stream {
    /// Re-resolves the subscriber's standing in the tenant: a removed
    /// member, a revoked key or a suspended tenant ends the stream.
    async fn still_allowed(&mut self) -> Result<(), Ended> {
        let principal: Principal = *self.access.principal();
        let tenant = self.access.tenant_id().to_string();
        match self
            .core
            .tenant_access(&principal, &tenant, &self.ctx)
            .await
        {
            Ok(access) if access.may(Permission::RecordsRead) => {
                self.access = access;
                Ok(())
            }
            _ => Err(Ended),
        }
    }

    async fn catch_up(&mut self, last: &mut i64) -> Result<(), Ended> {
        loop {
            let tenant = self.access.tenant_id();
            let batch = {
                let mut tx = self
                    .core
                    .store
                    .tenant(tenant, Access::Read)
                    .await
                    .map_err(|_| Ended)?;
                tx.record_events_after(*last, BATCH)
                    .await
                    .map_err(|_| Ended)?
            };
            for event in &batch {
                self.deliver(event).await?;
                *last = event.seq;
            }
            if batch.len() < BATCH as usize {
                return Ok(());
            }
        }
    }

    async fn visibility_of(&mut self, collection: &str) -> Visibility {
        if let Some(visibility) = self.visibility.get(collection) {
            return *visibility;
        }
        let tenant = self.access.tenant_id();
        let found = async {
            let mut tx = self.core.store.tenant(tenant, Access::Read).await.ok()?;
            let row = tx.collection(collection).await.ok()??;
            parse_stored(row).ok().map(|info| info.schema.visibility())
        }
        .await;
        // A deleted collection's events are shown as the most restrictive.
        let visibility = found.unwrap_or(Visibility::Owner);
        self.visibility.insert(collection.to_owned(), visibility);
        visibility
    }

    /// Sends the event if the subscriber may see it now.
    async fn deliver(&mut self, event: &RecordEvent) -> Result<(), Ended> {
        if self
            .collections
            .as_ref()
            .is_some_and(|wanted| !wanted.contains(&event.collection))
        {
            return Ok(());
        }
        self.still_allowed().await?;
        let visible = match self.visibility_of(&event.collection).await {
            Visibility::Tenant => true,
            Visibility::Owner => {
                self.access.may(Permission::RecordsWriteAny)
                    || event
                        .owner_id
                        .is_some_and(|owner| self.access.principal().user() == Some(owner))
            }
        };
        if !visible {
            return Ok(());
        }
        let delivered = Delivered {
            seq: event.seq,
            kind: event.kind.as_str(),
            collection: event.collection.clone(),
            payload: event.payload.clone(),
        };
        self.sender.send(delivered).await.map_err(|_| Ended)
    }
}
