//! A SQLite transaction on a writer or reader connection.

use std::sync::Arc;

use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{Invalidation, StoreError};
use rusqlite::Connection;
use tokio::sync::OwnedMutexGuard;

use crate::codec::store_error;
use crate::connection::{PooledReader, run};
use crate::writer::{Writer, WriterLock};

enum Held {
    /// A savepoint in the writer's shared transaction (see [`crate::writer`]).
    Writer(OwnedMutexGuard<Writer>),
    Reader(PooledReader),
}

/// An open transaction. Dropping it rolls back.
pub struct Tx {
    held: Held,
    open: bool,
    /// Set by the first failed statement. SQLite would let the transaction
    /// go on, PostgreSQL would not; the store contract follows the stricter.
    failed: std::sync::atomic::AtomicBool,
    /// Delivered to the listeners once the commit succeeds.
    pending: Vec<Invalidation>,
    listeners: Arc<Listeners>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Tx {
    pub fn begin_write(
        mut guard: OwnedMutexGuard<Writer>,
        listeners: Arc<Listeners>,
    ) -> Result<Self, StoreError> {
        guard.begin()?;
        Ok(Self {
            held: Held::Writer(guard),
            open: true,
            failed: Default::default(),
            pending: Vec::new(),
            listeners,
        })
    }

    pub fn begin_read(reader: PooledReader, listeners: Arc<Listeners>) -> Result<Self, StoreError> {
        run(&reader, "BEGIN").map_err(store_error)?;
        Ok(Self {
            held: Held::Reader(reader),
            open: true,
            failed: Default::default(),
            pending: Vec::new(),
            listeners,
        })
    }

    pub fn connection(&self) -> &Connection {
        match &self.held {
            Held::Writer(guard) => match guard.connection() {
                Some(connection) => connection,
                None => unreachable!("checked in begin_write"),
            },
            Held::Reader(reader) => reader,
        }
    }

    /// Runs `work` on the cached statement for `sql`; an error is mapped
    /// and marks the transaction failed. Every statement of the store goes
    /// through here.
    pub fn statement<T>(
        &self,
        sql: &str,
        work: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.connection()
            .prepare_cached(sql)
            .and_then(|mut statement| work(&mut statement))
            .map_err(|e| self.fail(e))
    }

    /// Maps an error and remembers that the transaction has failed.
    pub fn fail(&self, error: rusqlite::Error) -> StoreError {
        self.failed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        store_error(error)
    }

    pub fn invalidate(&mut self, invalidation: Invalidation) {
        self.pending.push(invalidation);
    }

    /// A statement has failed: the transaction can only be rolled back.
    pub fn has_failed(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Commits. A write returns once the group it joined is durable.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.failed.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::TransactionAborted);
        }
        let outcome = match &mut self.held {
            Held::Reader(reader) => {
                run(reader, "COMMIT").map_err(store_error)?;
                self.open = false;
                for invalidation in self.pending.drain(..) {
                    self.listeners.deliver(invalidation);
                }
                return Ok(());
            }
            Held::Writer(guard) => {
                let lock: WriterLock = Arc::clone(OwnedMutexGuard::mutex(guard));
                let outcome =
                    guard.release(&lock, &self.listeners, std::mem::take(&mut self.pending))?;
                self.open = false;
                outcome
            }
        };
        // Hands the connection to the writers queued for it, so they can
        // join the group before it commits.
        drop(self);
        outcome
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the store is closed".into())))
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        match &mut self.held {
            Held::Writer(guard) => guard.roll_back(),
            Held::Reader(reader) => {
                if let Err(error) = run(reader, "ROLLBACK") {
                    tracing::error!(%error, "rollback failed");
                }
            }
        }
    }
}
