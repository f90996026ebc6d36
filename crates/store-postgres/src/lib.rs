//! Bulkhead's production store: PostgreSQL with forced row-level security.
//!
//! The server connects as a runtime role that owns nothing and cannot bypass
//! row-level security; [`PgStore::connect`] refuses any other. Each tenant
//! transaction starts with `SET LOCAL bulkhead.tenant_id`, which lives
//! exactly as long as the transaction, so a pooled connection never carries
//! one tenant's scope into another's request. Migrations, and the runtime
//! role's creation and grants, are [`migrate`]'s job, run as the owner.

mod audit_log;
mod checks;
mod citus;
mod citus_shape;
mod codec;
mod connectivity;
mod email_keys;
mod migrate;
mod notify;
mod platform;
mod record_query;
mod tenant;
mod tx;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bulkhead_domain::{TenantId, UserId};
use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{
    Access, Backend, NewTenant, NoticeListener, PlatformTx, PoolStats, Store, StoreError, TenantTx,
    UserMembership,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use crate::codec::store_error;
use crate::connectivity::{Connectivity, PING_TIMEOUT};
use crate::notify::Notifier;
use crate::platform::PgPlatformTx;
use crate::tenant::PgTenantTx;
use crate::tx::Tx;

/// While the server is known to be unreachable, how long a request waits
/// for a connection before answering that the database is unavailable
/// (instead of the acquire timeout). Long enough to connect to a server
/// that has just come back, which then ends the outage for everyone.
pub const UNREACHABLE_WAIT: Duration = Duration::from_secs(1);

pub use crate::citus_shape::citus_shape_violations;
pub use crate::migrate::{
    MigrateError, MigrateOptions, MigrateReport, all_tables, migrate, runtime_grants,
};

/// Pool settings for the runtime connection.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503
    /// (much less while the server is known to be unreachable; see
    /// [`UNREACHABLE_WAIT`]).
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether a database URL names PostgreSQL (sqlx would parse any scheme).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Why the server may not run on this database.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid PostgreSQL URL: {0}")]
    BadUrl(String),
    #[error("cannot connect to PostgreSQL: {0}")]
    Unreachable(String),
    #[error("refusing to run as database role {role:?}: {reason}")]
    UnsafeRole { role: String, reason: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A store on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    notifier: Arc<Notifier>,
    connectivity: Arc<Connectivity>,
    /// Lets one request at a time find out whether an unreachable server is
    /// back; the others wait for its answer instead of trying too.
    probe: Arc<tokio::sync::Mutex<()>>,
    /// Forward other processes' invalidations and send this one's
    /// wake-ups; aborted by `close`.
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl PgStore {
    /// Connects as the runtime role. Refuses a role that is a superuser, has
    /// BYPASSRLS or owns Bulkhead's tables, a schema whose migrations are not
    /// current, and a server that does not make commits durable.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, ConnectError> {
        if !is_postgres_url(url) {
            return Err(ConnectError::BadUrl(
                "it must start with postgres:// or postgresql://".into(),
            ));
        }
        let options: PgConnectOptions = url
            .parse()
            .map_err(|error: sqlx::Error| ConnectError::BadUrl(error.to_string()))?;
        let connectivity = Arc::new(Connectivity::default());
        let pinger = Arc::clone(&connectivity);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(10 * 60)))
            .max_lifetime(Some(Duration::from_secs(30 * 60)))
            // sqlx already pings every connection it takes back into the
            // pool (off the request's path); a ping on every way out would
            // cost every request a round trip. Only a connection that may
            // have died while idle is pinged: idle since the listener saw a
            // connection drop (a server restart), or idle for long. A dead
            // one is closed and replaced before any request sees it.
            .test_before_acquire(false)
            .before_acquire(move |connection, meta| {
                let ping = pinger.needs_ping(meta.idle_for);
                Box::pin(async move {
                    if ping {
                        tokio::time::timeout(PING_TIMEOUT, sqlx::Connection::ping(connection))
                            .await
                            .map_err(|_| {
                                sqlx::Error::Io(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "ping timed out",
                                ))
                            })??;
                    }
                    Ok(true)
                })
            })
            .after_connect(|connection, _meta| {
                Box::pin(async move {
                    // A standby would accept our reads and fail our writes;
                    // never hand one out.
                    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                        .fetch_one(&mut *connection)
                        .await?;
                    if in_recovery {
                        return Err(sqlx::Error::Protocol(
                            "the server is a read-only standby".into(),
                        ));
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(|error| ConnectError::Unreachable(error.to_string()))?;
        let listeners = Arc::new(Listeners::default());
        let listener_task =
            notify::spawn_listener(options, Arc::clone(&listeners), Arc::clone(&connectivity))
                .await
                .map_err(|error| ConnectError::Unreachable(error.to_string()))?;
        let (notifier, announcer) = Notifier::spawn(listeners, pool.clone());
        let store = Self {
            pool,
            notifier,
            connectivity,
            probe: Arc::default(),
            tasks: Arc::new(std::sync::Mutex::new(vec![listener_task, announcer])),
        };
        if let Err(error) = store.check_runtime_role().await {
            store.close().await;
            return Err(error);
        }
        if let Err(error) = store.check_schema_and_durability().await {
            store.close().await;
            return Err(error.into());
        }
        Ok(store)
    }

    async fn check_runtime_role(&self) -> Result<(), ConnectError> {
        let row = sqlx::query(
            "SELECT current_user::text AS name, r.rolsuper, r.rolbypassrls,
                    coalesce((SELECT string_agg(c.relname::text, ', ' ORDER BY c.relname)
                              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE c.relowner = r.oid AND n.nspname = current_schema()
                                AND c.relname = ANY($1)), '') AS owned
             FROM pg_roles r WHERE r.rolname = current_user",
        )
        .bind(all_tables())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| ConnectError::Unreachable(error.to_string()))?;
        let role: String = row
            .try_get("name")
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let superuser: bool = row
            .try_get("rolsuper")
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let bypass: bool = row
            .try_get("rolbypassrls")
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let owned: String = row
            .try_get("owned")
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let reason = if superuser {
            Some("it is a superuser, which bypasses row-level security; connect as the runtime role `bulkhead migrate` created".to_owned())
        } else if bypass {
            Some(
                "it has BYPASSRLS; connect as the runtime role `bulkhead migrate` created"
                    .to_owned(),
            )
        } else if !owned.is_empty() {
            Some(format!(
                "it owns tables ({owned}); run migrations as the owner and the server as a separate runtime role"
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ConnectError::UnsafeRole { role, reason }),
            None => Ok(()),
        }
    }

    async fn check_schema_and_durability(&self) -> Result<(), StoreError> {
        self.wait_if_unreachable().await?;
        let mut connection = self.pool.acquire().await.map_err(store_error)?;
        checks::migrations_current(&mut connection).await?;
        checks::email_keys_filled(&mut connection).await?;
        checks::durable_commits(&mut connection).await?;
        checks::citus_distribution(&mut connection).await?;
        if !checks::autovacuum_on(&mut connection).await? {
            tracing::warn!(
                "autovacuum is off: planner statistics go stale after bulk loads; \
                 run ANALYZE as the schema owner after loading data, or turn autovacuum on"
            );
        }
        Ok(())
    }

    /// While the server is known to be unreachable, fails within twice
    /// [`UNREACHABLE_WAIT`] rather than the acquire timeout: one request at
    /// a time tries for a connection for that long (the others wait that
    /// long for their turn), and a request that gets one makes the server
    /// reachable again for all.
    async fn wait_if_unreachable(&self) -> Result<(), StoreError> {
        let unavailable = || StoreError::Unavailable("the database server is unreachable".into());
        if !self.connectivity.is_unreachable() {
            return Ok(());
        }
        let _probing = match tokio::time::timeout(UNREACHABLE_WAIT, self.probe.lock()).await {
            Ok(guard) => guard,
            Err(_) => return Err(unavailable()),
        };
        if !self.connectivity.is_unreachable() {
            return Ok(());
        }
        match tokio::time::timeout(UNREACHABLE_WAIT, self.pool.acquire()).await {
            Ok(Ok(_connection)) => {
                self.connectivity.set_reachable(true);
                Ok(())
            }
            Ok(Err(_)) | Err(_) => Err(unavailable()),
        }
    }

    /// Begins a transaction, read-only if asked, with the transaction-local
    /// settings of its scope. The value is a UUID we format ourselves (hex
    /// digits and dashes only), which is why it may be written into the
    /// statement: `SET LOCAL` takes no bind parameters, and we prefer it to
    /// `set_config(…, true)` because Citus propagates `SET LOCAL` to its
    /// workers.
    async fn begin(
        &self,
        access: Access,
        scope: Scope,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        // Listening before the check below, so that a drop seen between the
        // check and the wait is not missed.
        let mut dropped = std::pin::pin!(self.connectivity.dropped());
        dropped.as_mut().enable();
        self.wait_if_unreachable().await?;
        // One simple-protocol message, so one round trip, for BEGIN and the
        // setting alike.
        let mut sql = String::from(match access {
            Access::Read => "BEGIN READ ONLY;",
            Access::Write => "BEGIN;",
        });
        match scope {
            Scope::Tenant(tenant) => {
                let _ = write!(
                    sql,
                    " SET LOCAL bulkhead.tenant_id = '{}';",
                    tenant.hyphenated()
                );
            }
            Scope::MembershipsOf(user) => {
                let _ = write!(
                    sql,
                    " SET LOCAL bulkhead.user_id = '{}'; SET LOCAL citus.multi_task_query_log_level = 'off';",
                    user.hyphenated()
                );
            }
            Scope::Platform => {}
        }
        // BEGIN runs in a task of its own, so it always finishes. sqlx
        // (0.8.6, and 0.9.0) is not cancel-safe here: dropped while BEGIN is
        // in flight, it returns the connection to the pool still inside
        // that transaction (its rollback guard keys on a depth raised only
        // after the round trip; transact-rs/sqlx#4393), and the next
        // borrower's statements run in it, where its writes fail with
        // "cannot execute INSERT in a read-only transaction". Request
        // handlers are dropped at any await when their client goes away.
        // A transaction begun for a caller that has gone is dropped with the
        // task's result, which rolls it back the ordinary way.
        let pool = self.pool.clone();
        let mut begun = tokio::spawn(async move { pool.begin_with(sql).await });
        let joined = tokio::select! {
            joined = &mut begun => joined,
            () = dropped => {
                // The server's connection dropped while this request waited
                // for one, too early for the check above to have seen it.
                // Give the wait what a request gets while the server is
                // known to be down, rather than the rest of the acquire
                // timeout; if the listener is back by then (the server never
                // went away, only a connection did), go on waiting.
                match tokio::time::timeout(UNREACHABLE_WAIT, &mut begun).await {
                    Ok(joined) => joined,
                    Err(_) if self.connectivity.is_unreachable() => {
                        return Err(StoreError::Unavailable(
                            "the database server became unreachable".into(),
                        ));
                    }
                    Err(_) => begun.await,
                }
            }
        };
        joined
            .map_err(|error| StoreError::Unavailable(format!("beginning a transaction: {error}")))?
            .map_err(store_error)
    }
}

/// What a transaction is opened for, which decides what its rows are.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// One tenant's rows (`bulkhead.tenant_id`); under Citus, one shard.
    Tenant(Uuid),
    /// One user's memberships in every tenant (`bulkhead.user_id`): the one
    /// read that spans tenants, and so under Citus the one that reads every
    /// shard. It says so, so that a deployment (or the test suites) may set
    /// `citus.multi_task_query_log_level = 'error'` for the runtime role
    /// and have any other statement that spans shards fail.
    MembershipsOf(Uuid),
    /// Platform tables only (reference tables under Citus).
    Platform,
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn tenant(
        &self,
        tenant: TenantId,
        access: Access,
    ) -> Result<Box<dyn TenantTx>, StoreError> {
        let tx = self.begin(access, Scope::Tenant(*tenant.as_uuid())).await?;
        let tx = Tx::new(tx, Arc::clone(&self.notifier));
        Ok(Box::new(PgTenantTx::new(tx, tenant)))
    }

    async fn create_tenant(&self, tenant: NewTenant) -> Result<Box<dyn TenantTx>, StoreError> {
        let tx = self
            .begin(Access::Write, Scope::Tenant(*tenant.id.as_uuid()))
            .await?;
        let mut tx = PgTenantTx::new(Tx::new(tx, Arc::clone(&self.notifier)), tenant.id);
        tx.insert_tenant(&tenant).await?;
        Ok(Box::new(tx))
    }

    async fn platform(&self, access: Access) -> Result<Box<dyn PlatformTx>, StoreError> {
        let tx = self.begin(access, Scope::Platform).await?;
        let tx = Tx::new(tx, Arc::clone(&self.notifier));
        Ok(Box::new(PgPlatformTx::new(tx)))
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<UserMembership>, StoreError> {
        let mut tx = self
            .begin(Access::Read, Scope::MembershipsOf(*user.as_uuid()))
            .await?;
        let sql = format!(
            "SELECT {}, m.role AS member_role, m.created_at AS joined_at
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.user_id = $1 ORDER BY m.created_at, t.id",
            codec::TENANT_COLUMNS
                .split(", ")
                .map(|column| format!("t.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let memberships = sqlx::query(&sql)
            .bind(user.as_uuid())
            .try_map(|row: sqlx::postgres::PgRow| {
                let role: &str = row.try_get("member_role")?;
                Ok(UserMembership {
                    tenant: codec::tenant(&row)?,
                    role: role
                        .parse()
                        .map_err(|e: bulkhead_domain::role::UnknownRole| {
                            sqlx::Error::ColumnDecode {
                                index: "member_role".into(),
                                source: e.into(),
                            }
                        })?,
                    joined_at: row.try_get("joined_at")?,
                })
            })
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(memberships)
    }

    fn on_notice(&self, listener: NoticeListener) {
        self.notifier.listeners().add(listener);
    }

    async fn readiness(&self) -> Result<(), StoreError> {
        self.check_schema_and_durability().await
    }

    fn is_unreachable(&self) -> bool {
        self.connectivity.is_unreachable()
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let open = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        vec![PoolStats {
            pool: "postgres",
            in_use: open.saturating_sub(idle),
            idle,
            max: self.pool.options().get_max_connections(),
        }]
    }

    async fn close(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            task.abort();
        }
        self.pool.close().await;
    }
}
