//! Bulkhead's embedded store: one SQLite file.
//!
//! One writer connection, behind an async mutex, runs every write
//! transaction, as a savepoint in a `BEGIN IMMEDIATE` transaction that
//! concurrent writes share and commit together ([`writer`]: group commit,
//! each acknowledged only once durable); a small pool of
//! `query_only` reader connections serves read transactions beside it, which
//! WAL mode allows. Tenant isolation here rests entirely on the statements in
//! [`tenant`]: each binds the transaction's own tenant id, and no caller
//! can supply another.

mod audit_log;
mod codec;
mod connection;
mod email_keys;
pub mod migrate;
mod platform;
mod record_query;
mod rows;
mod tenant;
mod tx;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bulkhead_domain::UserId;
use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{
    Access, Backend, NewTenant, NoticeListener, PlatformTx, PoolStats, Store, StoreError, TenantTx,
    UserMembership,
};
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::codec::{store_error, to_micros};
use crate::connection::{ReaderPool, blocking};
use crate::tx::Tx;
use crate::writer::{Writer, WriterLock};

pub use crate::connection::open_with_profile;
pub use crate::migrate::{MigrateError, tenant_tables};
pub use crate::writer::{GROUP_COMMIT_BUCKETS, GROUP_COMMIT_TRANSACTIONS, describe_metrics};

/// The name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "bulkhead.db";

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot migrate the database {path}: {source}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: MigrateError,
    },
}

/// A store on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: WriterLock,
    readers: Arc<ReaderPool>,
    listeners: Arc<Listeners>,
}

impl SqliteStore {
    /// Opens the database file, creating it if needed, and applies any
    /// missing migrations: the embedded store migrates itself.
    pub fn open(path: &Path, now: OffsetDateTime) -> Result<Self, OpenError> {
        let writer =
            connection::open(path, connection::Role::Writer).map_err(|source| OpenError::Open {
                path: path.to_owned(),
                source,
            })?;
        let applied =
            migrate::run(&writer, to_micros(now)).map_err(|source| OpenError::Migrate {
                path: path.to_owned(),
                source,
            })?;
        if applied > 0 {
            tracing::info!(path = %path.display(), applied, "applied SQLite migrations");
        }
        connection::warn_if_page_cache_is_shared(&writer);
        let n_readers = std::thread::available_parallelism().map_or(4, |n| n.get().max(2) * 2);
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Writer::new(writer),
                readers: Arc::new(ReaderPool::new(path, n_readers)),
                listeners: Arc::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many SQLite commits the writer has made. Concurrent write
    /// transactions share one (group commit), so under load this grows more
    /// slowly than the number of writes.
    pub async fn group_commits(&self) -> u64 {
        self.inner.writer.lock().await.commits()
    }

    async fn begin(&self, access: Access) -> Result<Tx, StoreError> {
        match access {
            Access::Write => {
                let guard = Arc::clone(&self.inner.writer).lock_owned().await;
                Tx::begin_write(guard, Arc::clone(&self.inner.listeners))
            }
            Access::Read => Tx::begin_read(
                self.inner.readers.acquire().await?,
                Arc::clone(&self.inner.listeners),
            ),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn tenant(
        &self,
        tenant: bulkhead_domain::TenantId,
        access: Access,
    ) -> Result<Box<dyn TenantTx>, StoreError> {
        let tx = self.begin(access).await?;
        Ok(Box::new(tenant::SqliteTenantTx::new(tx, tenant)))
    }

    async fn create_tenant(&self, tenant: NewTenant) -> Result<Box<dyn TenantTx>, StoreError> {
        let tx = self.begin(Access::Write).await?;
        tenant::insert_tenant(&tx, &tenant)?;
        Ok(Box::new(tenant::SqliteTenantTx::new(tx, tenant.id)))
    }

    async fn platform(&self, access: Access) -> Result<Box<dyn PlatformTx>, StoreError> {
        let tx = self.begin(access).await?;
        Ok(Box::new(platform::SqlitePlatformTx::new(tx)))
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<UserMembership>, StoreError> {
        let tx = self.begin(Access::Read).await?;
        let memberships = platform::memberships_of_user(&tx, user)?;
        tx.commit().await?;
        Ok(memberships)
    }

    fn on_notice(&self, listener: NoticeListener) {
        // One process owns the file, so local delivery is delivery to all,
        // and it is never interrupted.
        self.inner.listeners.add(listener);
    }

    async fn readiness(&self) -> Result<(), StoreError> {
        let reader = self.inner.readers.acquire().await?;
        reader
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(store_error)?;
        migrate::check_current(&reader)
            .map_err(|error| StoreError::MigrationsPending(error.to_string()))
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        // The writer is one connection behind a lock, not a pool; its use
        // shows in the group commits' sizes.
        vec![self.inner.readers.stats()]
    }

    async fn close(&self) {
        self.inner.readers.close();
        let mut writer = self.inner.writer.lock().await;
        if let Some(connection) = writer.take_for_close(&self.inner.listeners) {
            // Checkpoint so the file is complete on its own after shutdown.
            blocking(|| {
                if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(%error, "WAL checkpoint at close failed");
                }
                drop(connection);
            });
        }
    }
}

/// Opens a connection exactly as the store opens its own (writer or
/// reader), so tests can inspect the per-connection settings.
#[doc(hidden)]
pub fn open_for_inspection(path: &Path, reader: bool) -> rusqlite::Result<Connection> {
    let role = if reader {
        connection::Role::Reader
    } else {
        connection::Role::Writer
    };
    connection::open(path, role)
}
