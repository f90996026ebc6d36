//! Invalidations across server processes, over PostgreSQL LISTEN/NOTIFY.
//!
//! A transaction that made cached state stale sends its invalidations with
//! `pg_notify` just before COMMIT. NOTIFY is transactional: other sessions
//! receive it only if, and as soon as, the transaction commits. Every server
//! process LISTENs on one channel and hands what arrives to its listeners;
//! the committing process also delivers locally right after the commit, so
//! its own next request never sees stale state. When the listening
//! connection drops, notifications may have been missed, so the listeners
//! are told that everything may be stale.

use std::sync::Arc;

use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{Invalidation, StoreError};
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Postgres, Transaction};

use crate::codec::store_error;

pub const CHANNEL: &str = "bulkhead_invalidation";

/// Commits `tx`, sending `pending` to every process, then delivers them here.
pub async fn commit_and_notify(
    mut tx: Transaction<'static, Postgres>,
    pending: Vec<Invalidation>,
    listeners: &Listeners,
) -> Result<(), StoreError> {
    if !pending.is_empty() {
        let payloads: Vec<String> = pending.iter().map(Invalidation::encode).collect();
        sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
            .bind(CHANNEL)
            .bind(&payloads)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)?;
    for invalidation in pending {
        listeners.deliver(invalidation);
    }
    Ok(())
}

/// Starts listening before returning, so nothing committed after this call
/// is missed; then forwards notifications until aborted.
pub async fn spawn_listener(
    options: PgConnectOptions,
    listeners: Arc<Listeners>,
) -> Result<tokio::task::JoinHandle<()>, sqlx::Error> {
    let mut listener = PgListener::connect_with(&sqlx::PgPool::connect_lazy_with(options)).await?;
    listener.listen(CHANNEL).await?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    listeners.deliver(Invalidation::decode(notification.payload()))
                }
                // The connection was lost; the next call reconnects. Whatever
                // was sent meanwhile is gone.
                Ok(None) => listeners.deliver(Invalidation::Everything),
                Err(error) => {
                    tracing::warn!(%error, "invalidation listener failed; retrying");
                    listeners.deliver(Invalidation::Everything);
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }))
}
