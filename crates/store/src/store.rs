//! The trait every backend implements: the store that opens transactions.

use async_trait::async_trait;
use bulkhead_domain::{TenantId, UserId};

use crate::error::StoreError;
use crate::model::{NewTenant, Notice, UserMembership};
use crate::platform::PlatformTx;
use crate::tenant::TenantTx;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a transaction may write. Read transactions are cheaper (on
/// SQLite they run beside the single writer, on PostgreSQL they are
/// `READ ONLY`) and any write inside one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A database holding every tenant's data behind the tenant boundary.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// Opens a transaction that sees and changes the data of `tenant` only.
    /// Dropping it without [`TenantTx::commit`] rolls it back.
    async fn tenant(
        &self,
        tenant: TenantId,
        access: Access,
    ) -> Result<Box<dyn TenantTx>, StoreError>;

    /// Registers a new tenant and opens a write transaction for it, so that
    /// the tenant, its first member and the audit entry commit together.
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Box<dyn TenantTx>, StoreError>;

    /// Opens a transaction over platform tables: the system path. It cannot
    /// read or write tenant-owned rows.
    async fn platform(&self, access: Access) -> Result<Box<dyn PlatformTx>, StoreError>;

    /// The memberships of one user across tenants, oldest first: the one
    /// cross-tenant read, bound to a single user.
    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<UserMembership>, StoreError>;

    /// Registers a function called with every [`Invalidation`](crate::Invalidation) committed by
    /// any server process on this database: in this process synchronously
    /// after the commit (before `commit` returns), in others as soon as the
    /// database tells them. It also hears when other processes'
    /// invalidations stop reaching this one and when they resume
    /// ([`Notice`]); a store that one process owns (SQLite) never says
    /// [`Notice::Interrupted`]. Listeners must be quick and must not block.
    fn on_notice(&self, listener: NoticeListener);

    /// Succeeds when the database answers and its schema is current.
    async fn readiness(&self) -> Result<(), StoreError>;

    /// How the store's connection pools are used right now, read from
    /// memory (no round trip), for the metrics a scrape samples.
    fn pool_stats(&self) -> Vec<PoolStats>;

    /// Whether the database is known to be unreachable right now, read
    /// from memory: work queued in front of the store need not wait its
    /// turn to be told so.
    fn is_unreachable(&self) -> bool {
        false
    }

    /// Waits for open transactions to end and closes every connection.
    async fn close(&self);
}

/// The use of one pool of database connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool: one of a fixed few names per backend (`postgres`,
    /// `sqlite_readers`), so it can be a metric label.
    pub pool: &'static str,
    /// Connections open and lent out.
    pub in_use: u32,
    /// Connections open and waiting to be lent.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Called with each [`Notice`]: committed invalidations, and the state of
/// their delivery from other processes.
pub type NoticeListener = std::sync::Arc<dyn Fn(Notice) + Send + Sync>;
