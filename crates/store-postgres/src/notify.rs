//! Invalidations across server processes, over PostgreSQL LISTEN/NOTIFY.
//!
//! A transaction that made cached state stale sends its invalidations with
//! `pg_notify` just before COMMIT; realtime wake-ups go after it (see
//! [`is_wakeup`]). NOTIFY is transactional: other sessions
//! receive it only if, and as soon as, the transaction commits. Every server
//! process LISTENs on one channel and hands what arrives to its listeners;
//! the committing process also delivers locally right after the commit, so
//! its own next request never sees stale state.
//!
//! When the listening connection drops, notifications sent until it LISTENs
//! again are lost. The listeners are told at once ([`Notice::Interrupted`]:
//! serve nothing cached), the connection is made again with a backoff of
//! at most [`MAX_BACKOFF`], and only once LISTEN is back are they told
//! [`Notice::Resumed`]. The reconnecting is done here rather than by
//! `PgListener`, whose own reconnect happens inside its next receive, where
//! we could not tell when LISTEN is back. The drop also tells
//! [`Connectivity`] that pooled connections may be dead.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{Invalidation, Notice, StoreError};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::store_error;
use crate::connectivity::Connectivity;

pub const CHANNEL: &str = "bulkhead_invalidation";

/// How long one attempt to connect and LISTEN may take. While the server
/// refuses connections, sqlx retries inside it with a growing pause (at most
/// a fifth of it), so a server that comes back is found within 400 ms.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause after a failed attempt, doubled after each failure up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause between attempts: a server that is back is listened
/// to again within about this long, and an unreachable one costs a
/// connection attempt per second or so.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Hands committed invalidations to this process's listeners and to every
/// other process's.
#[derive(Debug)]
pub struct Notifier {
    listeners: Arc<Listeners>,
    /// Wake-ups for [`announce`], which sends them after their commits.
    wakeups: mpsc::UnboundedSender<Invalidation>,
}

impl Notifier {
    /// The notifier, and the task that sends its wake-ups through `pool`
    /// (aborted with the store).
    pub fn spawn(listeners: Arc<Listeners>, pool: PgPool) -> (Arc<Self>, JoinHandle<()>) {
        let (wakeups, queued) = mpsc::unbounded_channel();
        let task = tokio::spawn(announce(pool, queued));
        (Arc::new(Self { listeners, wakeups }), task)
    }

    pub fn listeners(&self) -> &Listeners {
        &self.listeners
    }
}

/// Whether an invalidation is only a wake-up: "this tenant has new record
/// events" carries no cached truth, and a late one only delays events that
/// are in the database, which a later wake-up or the realtime hub's
/// periodic catch-up reads. Such wake-ups are sent after the commit. A NOTIFY
/// inside the transaction would take PostgreSQL's one lock for queueing
/// notifications (in `PreCommit_Notify`) and hold it through the commit's
/// flush to disk, so every record write of every tenant would commit one at a
/// time.
fn is_wakeup(invalidation: &Invalidation) -> bool {
    matches!(invalidation, Invalidation::RecordEvents(_))
}

/// Commits `tx`, sending `pending` to every process, then delivers them here.
/// Cache invalidations go with the commit, so that no process serves what
/// it made stale once it is visible; wake-ups go after it (see
/// [`is_wakeup`]).
pub async fn commit_and_notify(
    mut tx: Transaction<'static, Postgres>,
    pending: Vec<Invalidation>,
    notifier: &Notifier,
) -> Result<(), StoreError> {
    let payloads: Vec<String> = pending
        .iter()
        .filter(|invalidation| !is_wakeup(invalidation))
        .map(Invalidation::encode)
        .collect();
    if !payloads.is_empty() {
        sqlx::query(NOTIFY)
            .bind(CHANNEL)
            .bind(&payloads)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)?;
    for invalidation in pending {
        if is_wakeup(&invalidation) {
            // Fails only when the store is closed: nobody is left to wake.
            let _ = notifier.wakeups.send(invalidation);
        }
        notifier.listeners.deliver(invalidation);
    }
    Ok(())
}

/// Sends the invalidations in `$2` on the channel `$1`.
const NOTIFY: &str = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload";

/// The most wake-ups one NOTIFY statement sends.
const WAKEUP_BATCH: usize = 256;

/// Sends wake-ups to the other processes, each batch in one statement of
/// its own, outside any write's transaction: everything queued while the
/// last batch was sent goes in the next, each tenant once. A transaction
/// that only notifies writes nothing to the WAL before its commit record,
/// so PostgreSQL does not wait for a flush to disk to commit it.
async fn announce(pool: PgPool, mut queued: mpsc::UnboundedReceiver<Invalidation>) {
    while let Some(first) = queued.recv().await {
        let mut batch = BTreeSet::from([first.encode()]);
        while batch.len() < WAKEUP_BATCH {
            match queued.try_recv() {
                Ok(next) => batch.insert(next.encode()),
                Err(_) => break,
            };
        }
        let payloads: Vec<String> = batch.into_iter().collect();
        let sent = sqlx::query(NOTIFY)
            .bind(CHANNEL)
            .bind(&payloads)
            .execute(&pool)
            .await;
        if let Err(error) = sent {
            tracing::warn!(
                %error,
                n_tenants = payloads.len(),
                "could not wake other processes' realtime streams; they catch up on their own"
            );
        }
    }
}

/// Starts listening before returning, so nothing committed after this call
/// is missed; then forwards notifications until aborted, reconnecting
/// whenever the connection drops.
pub async fn spawn_listener(
    options: PgConnectOptions,
    listeners: Arc<Listeners>,
    connectivity: Arc<Connectivity>,
) -> Result<tokio::task::JoinHandle<()>, sqlx::Error> {
    // A pool only because `PgListener` is made from one; it holds one
    // connection at a time. Two slots, so that a failed connection still
    // being given back (sqlx pings it first) never holds up the next.
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(CONNECT_TIMEOUT)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options);
    let listener = listen(&pool).await?;
    Ok(tokio::spawn(async move {
        let mut listener = listener;
        loop {
            forward(&mut listener, &listeners).await;
            drop(listener);
            connectivity.connection_dropped();
            listeners.tell(Notice::Interrupted);
            listener = reconnect(&pool, &connectivity).await;
            connectivity.set_reachable(true);
            tracing::info!("invalidation listener is listening again");
            listeners.tell(Notice::Resumed);
        }
    }))
}

/// A connection LISTENing on [`CHANNEL`].
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Left on, a lost connection would be reconnected inside the next
    // receive, for up to the pool's acquire timeout, before we hear of it.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Hands every notification to the listeners until the connection drops.
async fn forward(listener: &mut PgListener, listeners: &Listeners) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                listeners.deliver(Invalidation::decode(notification.payload()))
            }
            Ok(None) => {
                tracing::warn!("invalidation listener lost its connection; reconnecting");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "invalidation listener failed; reconnecting");
                return;
            }
        }
    }
}

/// Connects and LISTENs again, retrying with a capped backoff until it works.
async fn reconnect(pool: &PgPool, connectivity: &Connectivity) -> PgListener {
    let mut backoff = FIRST_BACKOFF;
    loop {
        // LISTEN on a connection that went half-open right after connecting
        // would wait for TCP to give up; bound the whole attempt.
        let error = match tokio::time::timeout(CONNECT_TIMEOUT, listen(pool)).await {
            Ok(Ok(listener)) => return listener,
            Ok(Err(error)) => error.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        connectivity.set_reachable(false);
        tracing::warn!(
            %error,
            retry_in_ms = backoff.as_millis() as u64,
            "invalidation listener cannot reconnect"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
