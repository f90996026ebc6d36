//! Bulkhead's PostgreSQL store (work in progress: signatures only).

use std::time::Duration;

/// Pool settings for the runtime connection.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }
}

/// What `bulkhead migrate` does besides applying migrations.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// The runtime login role to create if missing and grant DML to.
    pub app_role: String,
    /// Its password, set when the role is created or changed; `None` leaves it.
    pub app_password: Option<String>,
    /// Also distribute the tables with Citus.
    pub citus: bool,
}

/// What a migration run did.
#[derive(Debug, Clone, Default)]
pub struct MigrateReport {
    pub applied: usize,
    pub role_created: bool,
    pub signing_key_created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct PgStore;

impl PgStore {
    /// Connects as the runtime role. Refuses a role that is a superuser, has
    /// BYPASSRLS or owns a tenant table, and a schema whose migrations are not current.
    pub async fn connect(_url: &str, _settings: &PoolSettings) -> Result<PgStore, ConnectError> {
        Err(ConnectError::Failed("not yet implemented".into()))
    }
}

/// Applies migrations as the owner, creates and grants the runtime role.
pub async fn migrate(_owner_url: &str, _options: &MigrateOptions) -> Result<MigrateReport, MigrateError> {
    Err(MigrateError::Failed("not yet implemented".into()))
}
