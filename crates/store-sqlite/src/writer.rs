//! The one writer connection, and group commit.
//!
//! Every write transaction of the store is a savepoint inside a SQLite
//! transaction that several of them share. A transaction's commit releases
//! its savepoint and joins the open *group*; the group commits — one fsync
//! under `synchronous=FULL` — once every writer that was waiting for the
//! connection has had its turn, or when the group is full. A member's
//! `commit` returns only after that COMMIT has returned, so nothing is
//! acknowledged before it is durable, and a failed COMMIT fails every member.
//! Readers use other connections and, in WAL mode, see a group's writes only
//! once the group has committed.
//!
//! Why: with one fsync per transaction the writer spent most of its time
//! waiting on the disk while every other write queued behind it.
//!
//! A later member sees the writes of earlier members of its group before they
//! are durable. That is safe because it commits with them or not at all: the
//! group is one SQLite transaction.

use std::sync::Arc;
use std::time::Duration;

use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{Invalidation, StoreError};
use rusqlite::{Connection, ErrorCode};
use tokio::sync::{Mutex, oneshot};

use crate::connection::{BUSY_TIMEOUT, blocking, run};

/// How many transactions may share one commit. Bounds the time the first
/// member waits for its answer under a steady stream of writes.
const MAX_GROUP: usize = 64;

/// The histogram of how many transactions each group commit made durable:
/// near 1 when writes are few, towards [`MAX_GROUP`] when they queue.
pub const GROUP_COMMIT_TRANSACTIONS: &str = "bulkhead_sqlite_group_commit_transactions";

/// Describes this module's metrics to the installed recorder.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        GROUP_COMMIT_TRANSACTIONS,
        "Write transactions made durable by one SQLite commit (group commit)"
    );
}

/// The buckets of [`GROUP_COMMIT_TRANSACTIONS`]: powers of two up to a
/// full group.
pub const GROUP_COMMIT_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, MAX_GROUP as f64];

/// The savepoint each write transaction runs in.
const SAVEPOINT: &str = "SAVEPOINT bulkhead_tx";
const RELEASE: &str = "RELEASE bulkhead_tx";
const ROLLBACK_TO: &str = "ROLLBACK TO bulkhead_tx";

/// The writer connection and the group of released transactions that wait
/// for its commit. Behind [`WriterLock`]: whoever holds the lock owns the
/// connection.
#[derive(Debug)]
pub struct Writer {
    /// `None` once the store is closed.
    connection: Option<Connection>,
    /// The shared SQLite transaction is open.
    open: bool,
    /// Transactions released into the open SQLite transaction, waiting for
    /// its commit.
    members: Vec<Member>,
    /// A task is on its way to take the lock and commit the group.
    flusher_queued: bool,
    /// Groups committed so far (each one fsync).
    commits: u64,
}

/// The writer behind the lock that orders every write.
pub type WriterLock = Arc<Mutex<Writer>>;

#[derive(Debug)]
struct Member {
    done: oneshot::Sender<Result<(), StoreError>>,
    /// Delivered to the listeners once the group's commit succeeded.
    invalidations: Vec<Invalidation>,
}

/// Resolves when the group a transaction joined has committed (or failed).
pub type GroupOutcome = oneshot::Receiver<Result<(), StoreError>>;

impl Writer {
    pub fn new(connection: Connection) -> WriterLock {
        Arc::new(Mutex::new(Self {
            connection: Some(connection),
            open: false,
            members: Vec::new(),
            flusher_queued: false,
            commits: 0,
        }))
    }

    pub fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref()
    }

    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Starts a write transaction: opens the shared SQLite transaction if
    /// none is open (IMMEDIATE takes the write lock now, waiting for another
    /// process if need be, so no statement later fails with BUSY) and a
    /// savepoint for this transaction inside it.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        let Some(connection) = self.connection.as_ref() else {
            return Err(StoreError::Unavailable("the store is closed".into()));
        };
        if !self.open {
            begin_immediate(connection).map_err(store_error)?;
            self.open = true;
        }
        if let Err(error) = run(connection, SAVEPOINT) {
            self.abandon_if_idle();
            return Err(store_error(error));
        }
        Ok(())
    }

    /// Releases the current transaction's savepoint into the group. The
    /// returned receiver tells when the group's commit is durable. The
    /// caller must then give up the lock, so that the writers queued for it
    /// can join the group before it commits.
    pub fn release(
        &mut self,
        lock: &WriterLock,
        listeners: &Arc<Listeners>,
        invalidations: Vec<Invalidation>,
    ) -> Result<GroupOutcome, StoreError> {
        let connection = self.connection.as_ref().ok_or_else(closed)?;
        run(connection, RELEASE).map_err(store_error)?;
        let (done, outcome) = oneshot::channel();
        self.members.push(Member {
            done,
            invalidations,
        });
        if self.members.len() >= MAX_GROUP {
            self.commit_group(listeners);
        } else if !self.flusher_queued {
            // The flusher queues for the lock behind the writers already
            // waiting; when it gets it, they have all joined. A task of its
            // own, so a caller that stops waiting cannot strand the group.
            self.flusher_queued = true;
            let lock = Arc::clone(lock);
            let listeners = Arc::clone(listeners);
            tokio::spawn(async move {
                let mut writer = lock.lock().await;
                writer.flusher_queued = false;
                writer.commit_group(&listeners);
            });
        }
        Ok(outcome)
    }

    /// Undoes the current transaction's savepoint. The group's earlier
    /// members are untouched, unless SQLite itself rolled the whole
    /// transaction back (it does on some I/O and memory errors), in which case
    /// they have failed too.
    pub fn roll_back(&mut self) {
        let Some(connection) = self.connection.as_ref() else {
            return;
        };
        let undone = run(connection, ROLLBACK_TO).and_then(|()| run(connection, RELEASE));
        if undone.is_ok() && !connection.is_autocommit() {
            self.abandon_if_idle();
            return;
        }
        // Either SQLite ended the shared transaction itself, or this
        // transaction's writes could not be undone: then none of the group
        // may commit.
        if let Err(error) = undone {
            tracing::error!(%error, "rollback to savepoint failed");
        }
        if !connection.is_autocommit()
            && let Err(error) = run(connection, "ROLLBACK")
        {
            tracing::error!(%error, "rollback failed");
        }
        self.open = false;
        self.fail_members("the transaction was rolled back by the database");
    }

    /// Commits the group, if it has members, and tells each how it went.
    pub fn commit_group(&mut self, listeners: &Listeners) {
        if self.members.is_empty() {
            return;
        }
        let Some(connection) = self.connection.as_ref() else {
            return;
        };
        // The commit of a write is where synchronous=FULL fsyncs. It runs on
        // the async worker itself, not through `block_in_place`: every other
        // writer waits for this commit whatever thread it runs on, the
        // worker's queued tasks can be stolen by the others meanwhile, and
        // handing the worker off costs more than the fsync (figures:
        // benches/results/design-figures.md). BEGIN IMMEDIATE hands off only
        // when it must wait for another process's lock (see
        // `begin_immediate`).
        let result = run(connection, "COMMIT");
        match result {
            Ok(()) => {
                self.open = false;
                self.commits += 1;
                metrics::histogram!(GROUP_COMMIT_TRANSACTIONS).record(self.members.len() as f64);
                for member in self.members.drain(..) {
                    for invalidation in member.invalidations {
                        listeners.deliver(invalidation);
                    }
                    // A member that stopped waiting is committed all the same.
                    let _ = member.done.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, members = self.members.len(), "group commit failed");
                if !connection.is_autocommit()
                    && let Err(error) = run(connection, "ROLLBACK")
                {
                    tracing::error!(%error, "rollback after a failed commit failed");
                }
                self.open = false;
                self.fail_members(&format!("commit failed: {error}"));
            }
        }
    }

    /// Commits what is pending and hands the connection over, for closing.
    pub fn take_for_close(&mut self, listeners: &Listeners) -> Option<Connection> {
        self.commit_group(listeners);
        self.abandon_if_idle();
        self.connection.take()
    }

    /// Ends an open SQLite transaction that holds no member's work (every
    /// transaction in it rolled back), so the write lock is not kept.
    fn abandon_if_idle(&mut self) {
        if self.open
            && self.members.is_empty()
            && let Some(connection) = self.connection.as_ref()
        {
            if let Err(error) = run(connection, "ROLLBACK")
                && !connection.is_autocommit()
            {
                tracing::error!(%error, "rollback failed");
            }
            self.open = false;
        }
    }

    fn fail_members(&mut self, why: &str) {
        for member in self.members.drain(..) {
            let _ = member
                .done
                .send(Err(StoreError::Unavailable(why.to_owned())));
        }
    }
}

/// `BEGIN IMMEDIATE`: takes SQLite's write lock, which only another process
/// writing the same file can be holding. The first try does not wait, so
/// that the usual case runs on the async worker; only when the lock is taken
/// does it wait, up to the busy timeout, through [`blocking`]. Why: handing
/// the worker off (`block_in_place`) for every group would add a thread
/// hand-off to every group commit, while usually no other process is there
/// to wait for.
fn begin_immediate(connection: &Connection) -> rusqlite::Result<()> {
    const BEGIN: &str = "BEGIN IMMEDIATE";
    connection.busy_timeout(Duration::ZERO)?;
    let first = run(connection, BEGIN);
    connection.busy_timeout(BUSY_TIMEOUT)?;
    match first {
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            blocking(|| run(connection, BEGIN))
        }
        other => other,
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

fn store_error(error: rusqlite::Error) -> StoreError {
    crate::codec::store_error(error)
}
