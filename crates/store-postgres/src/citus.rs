//! `bulkhead migrate --citus`: distribute the schema by tenant.
//!
//! Tenant tables become distributed tables on `tenant_id`, all co-located
//! with `memberships`, so one tenant's rows live on one worker and joins and
//! foreign keys between them stay local. Platform tables become reference
//! tables (a copy on every worker), which distributed tables may reference.
//! The runtime role gets `citus.propagate_set_commands = local`, so the
//! `SET LOCAL bulkhead.tenant_id` that opens each tenant transaction reaches
//! the workers where the row-level security policies are evaluated.
//!
//! All of it happens in one transaction: Citus runs its distribution
//! functions transactionally, so a run that fails leaves the schema exactly
//! as it found it, and a second run after a success changes nothing.
//!
//! Citus refuses to distribute a table that a local table still references,
//! and the schema's foreign keys form a graph (platform tables among
//! themselves, tenant tables into platform tables and into each other), so
//! no order of distribution works with them in place. The transaction drops
//! the foreign keys of the tables it distributes, distributes every table,
//! and adds the same constraints back, which Citus then validates shard by
//! shard.

use bulkhead_store::TenantTable;
use sqlx::{Connection, PgConnection};

use crate::migrate::{MigrateError, platform_tables, quoted_role};

/// The table every other tenant table is co-located with.
const COLOCATION_ANCHOR: &str = TenantTable::Memberships.name();

/// Serializes concurrent `migrate --citus` runs ("bulkhead" in ASCII, as an
/// advisory lock key), so the second finds the work done.
const DISTRIBUTION_LOCK: i64 = 0x6275_6c6b_6865_6164;

/// The Citus statement that distributes one table.
pub fn distribution_statement(table: &str) -> String {
    if platform_tables().any(|platform| platform == table) {
        format!("SELECT create_reference_table('{table}')")
    } else if table == COLOCATION_ANCHOR {
        format!("SELECT create_distributed_table('{table}', 'tenant_id')")
    } else {
        format!(
            "SELECT create_distributed_table('{table}', 'tenant_id', colocate_with => '{COLOCATION_ANCHOR}')"
        )
    }
}

/// Reference tables first, then the anchor, then the rest co-located with it.
pub fn distribution_order() -> Vec<&'static str> {
    platform_tables().chain(TenantTable::names()).collect()
}

/// A foreign key as the catalog defines it, to drop and add back.
#[derive(Debug)]
struct ForeignKey {
    table: String,
    name: String,
    definition: String,
}

/// Distributes every table not yet distributed, in one transaction.
/// Returns how many it distributed.
pub async fn distribute(
    connection: &mut PgConnection,
    app_role: &str,
) -> Result<usize, MigrateError> {
    let installed: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            .fetch_optional(&mut *connection)
            .await?;
    if installed.is_none() {
        return Err(MigrateError::Citus(
            "the citus extension is not installed in this database (CREATE EXTENSION citus as a superuser first)"
                .into(),
        ));
    }
    let role = quoted_role(connection, app_role).await?;
    let mut tx = connection.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(DISTRIBUTION_LOCK)
        .execute(&mut *tx)
        .await?;
    // Citus opens one connection per shard group for parallel DDL, which it
    // cannot do once this transaction has touched a reference table.
    sqlx::raw_sql("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        .execute(&mut *tx)
        .await?;
    let already: Vec<String> =
        sqlx::query_scalar("SELECT logicalrelid::regclass::text FROM pg_dist_partition")
            .fetch_all(&mut *tx)
            .await?;
    let pending: Vec<&str> = distribution_order()
        .into_iter()
        .filter(|table| !already.iter().any(|t| t == table))
        .collect();

    let foreign_keys = foreign_keys_touching(&mut tx, &pending).await?;
    for key in &foreign_keys {
        sqlx::raw_sql(&format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            key.table, key.name
        ))
        .execute(&mut *tx)
        .await?;
    }
    for table in &pending {
        sqlx::raw_sql(&distribution_statement(table))
            .execute(&mut *tx)
            .await
            .map_err(|error| failed(format!("distributing {table}: {error}")))?;
        // The rows were copied into the shards; the coordinator's own copy
        // is dead weight that a plain PostgreSQL query would still see.
        sqlx::query("SELECT truncate_local_data_after_distributing_table($1::regclass)")
            .bind(table)
            .execute(&mut *tx)
            .await
            .map_err(|error| failed(format!("clearing the local rows of {table}: {error}")))?;
    }
    for key in &foreign_keys {
        sqlx::raw_sql(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}",
            key.table, key.name, key.definition
        ))
        .execute(&mut *tx)
        .await
        .map_err(|error| failed(format!("restoring {} on {}: {error}", key.name, key.table)))?;
    }
    // In this database only: a role-wide setting is one row that every
    // database's migration would update, and concurrent ones collide
    // ("tuple concurrently updated").
    let database: String = sqlx::query_scalar("SELECT quote_ident(current_database())")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::raw_sql(&format!(
        "ALTER ROLE {role} IN DATABASE {database} SET citus.propagate_set_commands = 'local'"
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(pending.len())
}

/// A failure inside the transaction, which rolled it back.
fn failed(reason: String) -> MigrateError {
    MigrateError::Citus(format!(
        "{reason}; nothing was changed, fix the cause and run `bulkhead migrate --citus` again"
    ))
}

/// The foreign keys from or to any of `tables`, quoted for reuse.
async fn foreign_keys_touching(
    connection: &mut PgConnection,
    tables: &[&str],
) -> Result<Vec<ForeignKey>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT quote_ident(c.conrelid::regclass::text), quote_ident(c.conname::text),
                pg_get_constraintdef(c.oid)
         FROM pg_constraint c
         WHERE c.contype = 'f'
           AND (c.conrelid::regclass::text = ANY($1) OR c.confrelid::regclass::text = ANY($1))
         ORDER BY c.conrelid::regclass::text, c.conname",
    )
    .bind(tables)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(table, name, definition)| ForeignKey {
            table,
            name,
            definition,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_tables_are_reference_tables_and_tenant_tables_are_colocated() {
        assert_eq!(
            distribution_statement("users"),
            "SELECT create_reference_table('users')"
        );
        assert_eq!(
            distribution_statement("memberships"),
            "SELECT create_distributed_table('memberships', 'tenant_id')"
        );
        assert_eq!(
            distribution_statement("audit_log"),
            "SELECT create_distributed_table('audit_log', 'tenant_id', colocate_with => 'memberships')"
        );
    }

    #[test]
    fn the_anchor_is_distributed_before_the_tables_colocated_with_it() {
        let order = distribution_order();
        let position = |t: &str| order.iter().position(|x| *x == t).unwrap();
        assert!(position("tenants") < position("memberships"));
        assert!(position("memberships") < position("audit_log"));
        assert_eq!(
            order.len(),
            platform_tables().count() + TenantTable::ALL.len()
        );
    }
}
