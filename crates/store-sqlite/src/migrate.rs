//! The SQLite schema's migrations, embedded in the binary.
//!
//! Applied in order, each in its own `BEGIN IMMEDIATE` transaction, and
//! recorded with a checksum in `bulkhead_migrations`. Running them twice is a
//! no-op; a recorded migration whose text changed is an error, not a silent
//! divergence.

use bulkhead_store::TenantTable;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::email_keys;

#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "records",
        sql: include_str!("../migrations/0002_records.sql"),
    },
    Migration {
        version: 3,
        name: "append_only_logs",
        sql: include_str!("../migrations/0003_append_only_logs.sql"),
    },
    Migration {
        version: 4,
        name: "owner_index",
        sql: include_str!("../migrations/0004_owner_index.sql"),
    },
    Migration {
        version: 5,
        name: "cheaper_record_writes",
        sql: include_str!("../migrations/0005_cheaper_record_writes.sql"),
    },
    Migration {
        version: 6,
        name: "events_under_audit_entries",
        sql: include_str!("../migrations/0006_events_under_audit_entries.sql"),
    },
    Migration {
        version: 7,
        name: "email_keys",
        sql: include_str!("../migrations/0007_email_keys.sql"),
    },
    Migration {
        version: 8,
        name: "ledger",
        sql: include_str!("../migrations/0008_ledger.sql"),
    },
    Migration {
        version: 10,
        name: "idempotency_sweep",
        sql: include_str!("../migrations/0010_idempotency_sweep.sql"),
    },
    Migration {
        version: 11,
        name: "plans_and_usage",
        sql: include_str!("../migrations/0011_plans_and_usage.sql"),
    },
    Migration {
        version: 12,
        name: "metering",
        sql: include_str!("../migrations/0012_metering.sql"),
    },
];

/// Why the schema could not be brought up to date, or is not.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration {version} ({name}) was applied with different contents")]
    Changed { version: i64, name: String },
    #[error("migration {version} ({name}) is not applied")]
    Pending { version: i64, name: String },
    #[error(
        "the database has migration {version}, which this binary does not know: it was written by a newer Bulkhead"
    )]
    Newer { version: i64 },
    #[error(
        "the schema's tables with a tenant_id column ({in_catalog:?}) are not the registry of tenant tables"
    )]
    TenantTables { in_catalog: Vec<String> },
}

fn checksum(sql: &str) -> Vec<u8> {
    Sha256::digest(sql.as_bytes()).to_vec()
}

fn ensure_table(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS bulkhead_migrations (
             version    INTEGER NOT NULL PRIMARY KEY,
             name       TEXT    NOT NULL,
             checksum   BLOB    NOT NULL,
             applied_at INTEGER NOT NULL
         ) STRICT;",
    )
}

/// Applies every missing migration. Returns how many were applied.
pub fn run(connection: &Connection, now_micros: i64) -> Result<usize, MigrateError> {
    let applied = run_through(connection, i64::MAX, now_micros)?;
    check_no_newer(connection)?;
    check_tenant_tables(connection)?;
    Ok(applied)
}

/// Tables with a `tenant_id` column, from SQLite's own catalog, by name.
pub fn tenant_tables(connection: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare(
        "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name",
    )?;
    statement.query_map([], |row| row.get(0))?.collect()
}

/// Every statement of a tenant table names the tenant; this checks that
/// the tables which carry a tenant are exactly those of the registry that
/// the statements and the conformance suite are written against.
fn check_tenant_tables(connection: &Connection) -> Result<(), MigrateError> {
    let in_catalog = tenant_tables(connection)?;
    let mut registry: Vec<&str> = TenantTable::names().collect();
    registry.sort_unstable();
    if in_catalog == registry {
        Ok(())
    } else {
        Err(MigrateError::TenantTables { in_catalog })
    }
}

/// Applies the missing migrations up to and including `version`: the
/// schema as an older binary left it, for tests of what a migration does to
/// existing data.
pub fn run_through(
    connection: &Connection,
    version: i64,
    now_micros: i64,
) -> Result<usize, MigrateError> {
    ensure_table(connection)?;
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version <= version) {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        let result = apply_one(connection, migration, now_micros);
        match result {
            Ok(true) => {
                connection.execute_batch("COMMIT")?;
                applied += 1;
            }
            Ok(false) => connection.execute_batch("COMMIT")?,
            Err(error) => {
                let _ = connection.execute_batch("ROLLBACK");
                return Err(error);
            }
        }
    }
    Ok(applied)
}

fn apply_one(
    connection: &Connection,
    migration: &Migration,
    now_micros: i64,
) -> Result<bool, MigrateError> {
    let recorded: Option<Vec<u8>> = connection
        .query_row(
            "SELECT checksum FROM bulkhead_migrations WHERE version = ?1",
            [migration.version],
            |row| row.get(0),
        )
        .optional()?;
    match recorded {
        Some(sum) if sum == checksum(migration.sql) => Ok(false),
        Some(_) => Err(MigrateError::Changed {
            version: migration.version,
            name: migration.name.to_owned(),
        }),
        None => {
            connection.execute_batch(migration.sql)?;
            // What SQL cannot compute, in the same transaction.
            if migration.version == email_keys::MIGRATION_VERSION {
                email_keys::backfill(connection)?;
            }
            connection.execute(
                "INSERT INTO bulkhead_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                params![migration.version, migration.name, checksum(migration.sql), now_micros],
            )?;
            Ok(true)
        }
    }
}

fn check_no_newer(connection: &Connection) -> Result<(), MigrateError> {
    let newest: Option<i64> =
        connection.query_row("SELECT max(version) FROM bulkhead_migrations", [], |row| {
            row.get(0)
        })?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    match newest {
        Some(version) if version > known => Err(MigrateError::Newer { version }),
        _ => Ok(()),
    }
}

/// Succeeds when every migration is applied unchanged and none is unknown.
pub fn check_current(connection: &Connection) -> Result<(), MigrateError> {
    for migration in MIGRATIONS {
        let recorded: Option<Vec<u8>> = connection
            .query_row(
                "SELECT checksum FROM bulkhead_migrations WHERE version = ?1",
                [migration.version],
                |row| row.get(0),
            )
            .optional()
            .or_else(|error| match &error {
                rusqlite::Error::SqliteFailure(_, Some(message))
                    if message.contains("no such table") =>
                {
                    Ok(None)
                }
                _ => Err(error),
            })?;
        match recorded {
            Some(sum) if sum == checksum(migration.sql) => {}
            Some(_) => {
                return Err(MigrateError::Changed {
                    version: migration.version,
                    name: migration.name.to_owned(),
                });
            }
            None => {
                return Err(MigrateError::Pending {
                    version: migration.version,
                    name: migration.name.to_owned(),
                });
            }
        }
    }
    check_no_newer(connection)
}
