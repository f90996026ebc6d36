//! Checks the server makes of its database before and while serving.

use bulkhead_store::{StoreError, TenantTable};
use sqlx::PgConnection;

use crate::codec::store_error;
use crate::migrate::{MIGRATOR, platform_tables};

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

/// On a database with the `citus` extension, the schema is distributed as
/// `bulkhead migrate --citus` leaves it. Otherwise Citus keeps tenant
/// tables on the coordinator, which works but scales nothing, or, worse,
/// the `SET LOCAL` of the tenant does not reach the workers and their
/// row-level security policies see no tenant at all. Without the extension
/// there is nothing to check.
pub async fn citus_distribution(connection: &mut PgConnection) -> Result<(), StoreError> {
    let installed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            .fetch_one(&mut *connection)
            .await
            .map_err(store_error)?;
    if !installed {
        return Ok(());
    }
    // pg_dist_partition is readable by every role, like the PostgreSQL
    // catalogs it sits beside. A reference table is replicated to every
    // node ('t'); a Citus local table has the same partition method but
    // stays on the coordinator.
    let rows: Vec<(String, Option<String>, Option<i32>)> = sqlx::query_as(
        "SELECT c.relname::text,
                CASE WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
                     WHEN p.partmethod = 'h'
                      AND column_to_column_name(p.logicalrelid, p.partkey) = 'tenant_id'
                     THEN 'tenant' END,
                p.colocationid
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
         WHERE n.nspname = current_schema() AND c.relname = ANY($1)",
    )
    .bind(crate::citus::distribution_order())
    .fetch_all(&mut *connection)
    .await
    .map_err(store_error)?;
    let propagation: String = sqlx::query_scalar(
        "SELECT coalesce(current_setting('citus.propagate_set_commands', true), 'unset')",
    )
    .fetch_one(&mut *connection)
    .await
    .map_err(store_error)?;
    let tables: Vec<DistributedTable> = rows
        .into_iter()
        .map(|(name, how, colocation)| DistributedTable {
            name,
            by_tenant: how.as_deref() == Some("tenant"),
            reference: how.as_deref() == Some("reference"),
            colocation,
        })
        .collect();
    let problems = distribution_problems(&tables, &propagation);
    if problems.is_empty() {
        return Ok(());
    }
    Err(StoreError::Misconfigured(format!(
        "the database has the citus extension but is not distributed for Bulkhead ({}); run `bulkhead migrate --citus` as the schema owner",
        problems.join("; ")
    )))
}

/// How Citus holds one table of the schema.
#[derive(Debug)]
struct DistributedTable {
    name: String,
    /// Hash-distributed on `tenant_id`.
    by_tenant: bool,
    /// A reference table: a copy on every node.
    reference: bool,
    /// The co-location group, if Citus knows the table.
    colocation: Option<i32>,
}

/// What keeps `tables` (those of the schema that exist) and the runtime
/// role's `citus.propagate_set_commands` from being what `bulkhead migrate
/// --citus` makes them, worded for an operator.
fn distribution_problems(tables: &[DistributedTable], propagation: &str) -> Vec<String> {
    let table = |name: &str| tables.iter().find(|t| t.name == name);
    let mut problems = Vec::new();
    let undistributed: Vec<&str> = TenantTable::names()
        .filter(|name| !table(name).is_some_and(|t| t.by_tenant))
        .collect();
    if !undistributed.is_empty() {
        problems.push(format!(
            "not hash-distributed on tenant_id: {}",
            undistributed.join(", ")
        ));
    } else {
        let groups: std::collections::BTreeSet<Option<i32>> = TenantTable::names()
            .map(|name| table(name).and_then(|t| t.colocation))
            .collect();
        if groups.len() > 1 {
            problems.push("the tenant tables are not all co-located".to_owned());
        }
    }
    let unreplicated: Vec<&str> = platform_tables()
        .filter(|name| !table(name).is_some_and(|t| t.reference))
        .collect();
    if !unreplicated.is_empty() {
        problems.push(format!("not reference tables: {}", unreplicated.join(", ")));
    }
    if propagation != "local" {
        problems.push(format!(
            "citus.propagate_set_commands is '{propagation}' for this role, so the tenant of a transaction would not reach the workers"
        ));
    }
    problems
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

#[cfg(test)]
mod tests {
    use super::*;

    fn distributed() -> Vec<DistributedTable> {
        let tenant = TenantTable::names().map(|name| DistributedTable {
            name: name.to_owned(),
            by_tenant: true,
            reference: false,
            colocation: Some(1),
        });
        let platform = platform_tables().map(|name| DistributedTable {
            name: name.to_owned(),
            by_tenant: false,
            reference: true,
            colocation: Some(2),
        });
        tenant.chain(platform).collect()
    }

    #[test]
    fn a_schema_as_migrate_citus_leaves_it_has_no_problem() {
        assert!(distribution_problems(&distributed(), "local").is_empty());
    }

    #[test]
    fn each_departure_is_named() {
        let mut tables = distributed();
        tables.retain(|t| t.name != "records");
        let users = tables.iter_mut().find(|t| t.name == "users").unwrap();
        users.reference = false;
        let problems = distribution_problems(&tables, "none");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(problems[0], "not hash-distributed on tenant_id: records");
        assert_eq!(problems[1], "not reference tables: users");
        assert!(problems[2].contains("propagate_set_commands is 'none'"));

        let mut apart = distributed();
        let audit = apart.iter_mut().find(|t| t.name == "audit_log").unwrap();
        audit.colocation = Some(7);
        assert_eq!(
            distribution_problems(&apart, "local"),
            ["the tenant tables are not all co-located"]
        );
    }
}
