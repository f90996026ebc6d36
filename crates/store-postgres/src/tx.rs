//! A PostgreSQL transaction, shared by the tenant and platform handles: the
//! one place that runs their statements and remembers a failed one.

use std::sync::Arc;

use bulkhead_store::{Invalidation, StoreError};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::codec::fail;
use crate::notify::{Notifier, commit_and_notify};

/// A statement with its binds, ready to run.
pub type Statement<'q> = Query<'q, Postgres, PgArguments>;

/// An open transaction. Dropping it rolls back.
pub struct Tx {
    tx: Transaction<'static, Postgres>,
    /// Set by the first failed statement: PostgreSQL has aborted the
    /// transaction, and COMMIT would silently roll it back.
    failed: bool,
    /// Sent to every process with the commit.
    pending: Vec<Invalidation>,
    notifier: Arc<Notifier>,
}

impl Tx {
    pub fn new(tx: Transaction<'static, Postgres>, notifier: Arc<Notifier>) -> Self {
        Self {
            tx,
            failed: false,
            pending: Vec::new(),
            notifier,
        }
    }

    /// Runs a statement that returns exactly one row, mapped by `map`.
    pub async fn one<T: Send + Unpin>(
        &mut self,
        statement: Statement<'_>,
        map: impl Fn(&PgRow) -> sqlx::Result<T> + Send,
    ) -> Result<T, StoreError> {
        let result = statement
            .try_map(move |row: PgRow| map(&row))
            .fetch_one(&mut *self.tx)
            .await;
        result.map_err(|e| fail(&mut self.failed, e))
    }

    /// Runs a statement that returns at most one row.
    pub async fn optional<T: Send + Unpin>(
        &mut self,
        statement: Statement<'_>,
        map: impl Fn(&PgRow) -> sqlx::Result<T> + Send,
    ) -> Result<Option<T>, StoreError> {
        let result = statement
            .try_map(move |row: PgRow| map(&row))
            .fetch_optional(&mut *self.tx)
            .await;
        result.map_err(|e| fail(&mut self.failed, e))
    }

    /// Runs a statement and maps every row it returns.
    pub async fn all<T: Send + Unpin>(
        &mut self,
        statement: Statement<'_>,
        map: impl Fn(&PgRow) -> sqlx::Result<T> + Send,
    ) -> Result<Vec<T>, StoreError> {
        let result = statement
            .try_map(move |row: PgRow| map(&row))
            .fetch_all(&mut *self.tx)
            .await;
        result.map_err(|e| fail(&mut self.failed, e))
    }

    /// Runs a statement for its effect; returns how many rows it changed.
    pub async fn execute(&mut self, statement: Statement<'_>) -> Result<u64, StoreError> {
        let result = statement.execute(&mut *self.tx).await;
        result
            .map(|done| done.rows_affected())
            .map_err(|e| fail(&mut self.failed, e))
    }

    /// The connection, for work that is not one statement; its result goes
    /// through [`track`](Self::track).
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Remembers a failed result of work done on [`connection`](Self::connection).
    pub fn track<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        result.map_err(|e| fail(&mut self.failed, e))
    }

    pub fn invalidate(&mut self, invalidation: Invalidation) {
        self.pending.push(invalidation);
    }

    /// A statement has failed: the transaction can only be rolled back.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::TransactionAborted);
        }
        commit_and_notify(self.tx, self.pending, &self.notifier).await
    }
}
