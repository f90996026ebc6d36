//! Opening connections with Bulkhead's SQLite profile, and the reader pool.
//!
//! Every connection gets `foreign_keys=ON` (off by default, and per
//! connection), `synchronous=FULL` (in WAL mode, NORMAL may lose the last
//! commits on power loss) and a busy timeout. The database is in WAL mode so
//! readers never block the writer or each other. Reader connections are also
//! `query_only`, so a bug that writes through one fails instead of racing
//! the writer.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_store::PoolStats;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a statement waits for a lock held by another process.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE_CAPACITY: usize = 128;
/// How many WAL pages the writer lets accumulate before it checkpoints them
/// into the database file (in the commit that crosses the mark, under the
/// write lock). Every write dirties a few pages per index, spread over the
/// file because each tenant's rows lie in their own key range; at SQLite's
/// default of 1,000 pages a checkpoint runs every few dozen creates and
/// holds up every other write, and a page written many times between two
/// checkpoints is copied once. A checkpoint on a thread of its own (PASSIVE,
/// beside the writer) does not help: it competes with the writer for the
/// same file.
///
/// The writer's page cache is 16 MiB (SQLite's default is 2 MiB): creates
/// over many tenants touch a leaf of every index per tenant, more pages than
/// 2 MiB holds, and each miss is a read of a page the writer has just
/// written. Larger is not better: at the end of every transaction SQLite
/// walks the cache's hash table, which grows with the cache. The figures
/// behind both numbers: `benches/results/design-figures.md`.
const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 30000; PRAGMA cache_size = -16384;";

/// Each reader caches 8 MiB of pages (SQLite's default is 2 MiB). A list
/// reads one table page per record, and with many tenants a tenant's newest
/// records lie on pages of their own: with thousands of tenants the newest
/// pages of the busy ones outgrow 2 MiB, and each miss is a read from the
/// OS. The figures: `benches/results/design-figures.md`.
const READER_PRAGMAS: &str = "PRAGMA query_only = ON; PRAGMA cache_size = -8192;";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Writer,
    Reader,
}

pub fn open(path: &Path, role: Role) -> rusqlite::Result<Connection> {
    let connection = open_with_profile(path)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    match role {
        Role::Reader => connection.execute_batch(READER_PRAGMAS)?,
        Role::Writer => connection.execute_batch(WRITER_PRAGMAS)?,
    }
    Ok(connection)
}

/// Opens a connection with the profile every Bulkhead connection has (the
/// module's doc), before its role's settings. The benchmark's ceiling opens
/// its connections with it too, so that both measure the same SQLite.
pub fn open_with_profile(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // journal_mode is a property of the file and persists; setting it on
    // every connection is harmless and makes the first one set it.
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "could not switch the database to WAL mode (it is in {mode} mode)"
            )),
        ));
    }
    connection.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(connection)
}

/// Warns when SQLite was built with SQLITE_ENABLE_MEMORY_MANAGEMENT, as
/// libsqlite3-sys builds it unless told otherwise (a build where the
/// repository's `.cargo/config.toml` did not apply): the connections then
/// share one page cache, and reads evict the writer's pages, which every
/// queued write then waits on (figures: `benches/results/design-figures.md`).
pub fn warn_if_page_cache_is_shared(connection: &Connection) {
    if compile_option_used(connection, "ENABLE_MEMORY_MANAGEMENT") {
        tracing::warn!(
            "SQLite was built with SQLITE_ENABLE_MEMORY_MANAGEMENT: its connections share one \
             page cache and writes are slower; build from the repository, whose \
             .cargo/config.toml turns it off"
        );
    }
}

/// Whether the linked SQLite was compiled with `option` (its name without the
/// `SQLITE_` prefix). A failed query reads as "not used".
fn compile_option_used(connection: &Connection, option: &str) -> bool {
    connection
        .query_row("SELECT sqlite_compileoption_used(?1)", [option], |row| {
            row.get::<_, bool>(0)
        })
        .unwrap_or(false)
}

/// A fixed-size pool of reader connections, opened lazily.
#[derive(Debug)]
pub struct ReaderPool {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    size: usize,
}

/// The name of the reader pool in [`PoolStats`].
const READERS: &str = "sqlite_readers";

impl ReaderPool {
    pub fn new(path: &Path, size: usize) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// Readers lent out (each holds a permit) and idle ones, now.
    pub fn stats(&self) -> PoolStats {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let in_use = if self.permits.is_closed() {
            0
        } else {
            self.size.saturating_sub(self.permits.available_permits())
        };
        PoolStats {
            pool: READERS,
            in_use: count(in_use),
            idle: count(self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()),
            max: count(self.size),
        }
    }

    pub async fn acquire(self: &Arc<Self>) -> Result<PooledReader, bulkhead_store::StoreError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| bulkhead_store::StoreError::Unavailable("the store is closed".into()))?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open(&self.path, Role::Reader).map_err(crate::codec::store_error)?,
        };
        Ok(PooledReader {
            connection: Some(connection),
            pool: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Refuses new readers and drops the idle ones.
    pub fn close(&self) {
        self.permits.close();
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// A reader connection on loan; it goes back to the pool when dropped.
#[derive(Debug)]
pub struct PooledReader {
    connection: Option<Connection>,
    pool: Arc<ReaderPool>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for PooledReader {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Present from construction until drop.
        self.connection
            .as_ref()
            .unwrap_or_else(|| unreachable!("reader used after drop"))
    }
}

impl Drop for PooledReader {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take()
            && !self.pool.permits.is_closed()
            && connection.is_autocommit()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(connection);
        }
    }
}

/// Runs one statement without rows (BEGIN, COMMIT, SAVEPOINT …) from the
/// connection's statement cache: `execute_batch` would parse it again on
/// every transaction.
pub fn run(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs blocking work (waiting on another process's lock, the checkpoint at
/// close) without stalling the async worker, where the runtime allows it.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled SQLite is built without SQLITE_ENABLE_MEMORY_MANAGEMENT
    /// (`.cargo/config.toml`; the figures are there). The first assertion
    /// shows the check sees the build's options: libsqlite3-sys turns FTS5 on.
    #[test]
    fn sqlite_is_built_with_a_page_cache_per_connection() {
        let connection = Connection::open_in_memory().unwrap();
        assert!(compile_option_used(&connection, "ENABLE_FTS5"));
        assert!(
            !compile_option_used(&connection, "ENABLE_MEMORY_MANAGEMENT"),
            "SQLite shares one page cache between connections"
        );
    }
}
