//! Checks the server makes of its database before and while serving.

use bulkhead_store::{StoreError, TenantTable};
use sqlx::PgConnection;

use crate::codec::store_error;
use crate::migrate::MIGRATOR;

/// Every migration this binary knows is applied, unchanged, and none newer.
pub async fn migrations_current(connection: &mut PgConnection) -> Result<(), StoreError> {
    let applied: Vec<(i64, Vec<u8>, bool)> = match sqlx::query_as(
        "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut *connection)
    .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => {
            return Err(StoreError::MigrationsPending(
                "the database has no Bulkhead schema; run `bulkhead migrate` as its owner".into(),
            ));
        }
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42501") => {
            return Err(StoreError::Misconfigured(
                    "the runtime role may not read _sqlx_migrations; run `bulkhead migrate`, which grants it".into(),
                ));
        }
        Err(error) => return Err(store_error(error)),
    };
    for migration in MIGRATOR.iter() {
        match applied
            .iter()
            .find(|(version, _, _)| *version == migration.version)
        {
            Some((_, checksum, true)) if checksum[..] == migration.checksum[..] => {}
            Some((_, _, true)) => {
                return Err(StoreError::MigrationsPending(format!(
                    "migration {} ({}) was applied with different contents",
                    migration.version, migration.description
                )));
            }
            _ => {
                return Err(StoreError::MigrationsPending(format!(
                    "migration {} ({}) is not applied; run `bulkhead migrate`",
                    migration.version, migration.description
                )));
            }
        }
    }
    if let Some((version, _, _)) = applied
        .iter()
        .find(|(version, _, _)| MIGRATOR.iter().all(|m| m.version != *version))
    {
        return Err(StoreError::MigrationsPending(format!(
            "the database has migration {version}, which this binary does not know: it was written by a newer Bulkhead"
        )));
    }
    Ok(())
}

/// Migration 0003's keys were computed: `bulkhead migrate` does it after
/// applying the migration, and a run that stopped in between leaves
/// accounts the unique index cannot see.
pub async fn email_keys_filled(connection: &mut PgConnection) -> Result<(), StoreError> {
    match crate::email_keys::filled(connection)
        .await
        .map_err(store_error)?
    {
        true => Ok(()),
        false => Err(StoreError::MigrationsPending(
            "the email keys of migration 3 are not filled in; run `bulkhead migrate`".into(),
        )),
    }
}

/// Commits must survive a crash: `fsync` on and `synchronous_commit` not
/// off (RELIABILITY F2).
pub async fn durable_commits(connection: &mut PgConnection) -> Result<(), StoreError> {
    let fsync: String = sqlx::query_scalar("SELECT current_setting('fsync')")
        .fetch_one(&mut *connection)
        .await
        .map_err(store_error)?;
    let synchronous_commit: String =
        sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
            .fetch_one(&mut *connection)
            .await
            .map_err(store_error)?;
    if fsync != "on" || synchronous_commit == "off" {
        return Err(StoreError::Misconfigured(format!(
            "PostgreSQL does not make commits durable (fsync={fsync}, synchronous_commit={synchronous_commit})"
        )));
    }
    Ok(())
}

/// Whether autovacuum is on. Off, nothing refreshes the planner's statistics
/// after a bulk load, and lists are planned without them: a tenant's newest
/// records are read through whichever index leads with the tenant and then
/// sorted, several times slower than through the order's index (figures:
/// `benches/results/design-figures.md`).
/// Not a reason to refuse to start, but worth a warning.
pub async fn autovacuum_on(connection: &mut PgConnection) -> Result<bool, StoreError> {
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&mut *connection)
        .await
        .map_err(store_error)?;
    Ok(autovacuum == "on")
}

/// What keeps each table of the registry of tenant tables from being
/// isolated: it must exist, with row-level security enabled and forced and
/// its `tenant_isolation` policy. The migrations write these statements
/// table by table; this reads them back against the registry, so a tenant
/// table whose migration forgot them is caught by `bulkhead migrate`.
pub async fn tenant_tables_unisolated(
    connection: &mut PgConnection,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity AND c.relforcerowsecurity,
                EXISTS (SELECT 1 FROM pg_policy p
                        WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relname = ANY($1)",
    )
    .bind(TenantTable::names().collect::<Vec<_>>())
    .fetch_all(&mut *connection)
    .await?;
    Ok(TenantTable::names()
        .filter_map(
            |table| match rows.iter().find(|(name, _, _)| name == table) {
                None => Some(format!("{table} does not exist")),
                Some((_, false, _)) => Some(format!("{table} does not force row-level security")),
                Some((_, _, false)) => Some(format!("{table} has no tenant_isolation policy")),
                Some(_) => None,
            },
        )
        .collect())
}
