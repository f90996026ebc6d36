//! Opening the configured store: SQLite in the data directory unless a
//! PostgreSQL URL is set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulkhead_store::Store;
use bulkhead_store_postgres::{PgStore, PoolSettings};
use bulkhead_store_sqlite::{DATABASE_FILE, SqliteStore};
use time::OffsetDateTime;

use crate::Error;
use crate::settings::{DatabaseUrl, Settings};

/// Opens the store the settings name. SQLite migrates itself on open;
/// PostgreSQL must have been migrated by `bulkhead migrate`.
pub async fn open(settings: &Settings, now: OffsetDateTime) -> Result<Arc<dyn Store>, Error> {
    match &settings.database_url {
        None => Ok(Arc::new(open_sqlite(&settings.data_dir, now)?)),
        Some(url) => connect_postgres(url, settings).await,
    }
}

/// The SQLite file inside a data directory.
pub fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

/// Creates the data directory if needed, then opens (and migrates) the file.
/// Opening is blocking IO, which is fine here: nothing else runs yet.
pub fn open_sqlite(data_dir: &Path, now: OffsetDateTime) -> Result<SqliteStore, Error> {
    std::fs::create_dir_all(data_dir).map_err(|source| Error::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    Ok(SqliteStore::open(&sqlite_path(data_dir), now)?)
}

/// Connects as the runtime role. `PgStore::connect` refuses a role that
/// could bypass row-level security and a schema that is not current, so
/// those refusals surface here as start-up errors.
async fn connect_postgres(url: &DatabaseUrl, settings: &Settings) -> Result<Arc<dyn Store>, Error> {
    let pool = PoolSettings {
        acquire_timeout: settings.database_acquire_timeout,
        max_connections: settings.database_pool_size,
    };
    let store = PgStore::connect(url.expose(), &pool)
        .await
        .map_err(|error| Error::Database {
            url: url.redacted(),
            message: error.to_string(),
        })?;
    Ok(Arc::new(store))
}
