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
//! Idempotent: tables already in `pg_dist_partition` are left alone.

use bulkhead_store::TenantTable;
use sqlx::PgConnection;

use crate::migrate::{MigrateError, platform_tables, quoted_role};

/// The table every other tenant table is co-located with.
const COLOCATION_ANCHOR: &str = TenantTable::Memberships.name();

/// The Citus statements for one table, given whether it is already distributed.
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

/// Reference tables first (distributed tables reference them), then the
/// anchor, then the rest in foreign-key order (audit_log before audit_personal).
pub fn distribution_order() -> Vec<&'static str> {
    platform_tables().chain(TenantTable::names()).collect()
}

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
    let already: Vec<String> =
        sqlx::query_scalar("SELECT logicalrelid::regclass::text FROM pg_dist_partition")
            .fetch_all(&mut *connection)
            .await?;
    let mut n_distributed = 0;
    for table in distribution_order() {
        if already.iter().any(|t| t == table) {
            continue;
        }
        sqlx::raw_sql(&distribution_statement(table))
            .execute(&mut *connection)
            .await
            .map_err(|error| MigrateError::Citus(format!("distributing {table}: {error}")))?;
        n_distributed += 1;
    }
    let role = quoted_role(connection, app_role).await?;
    sqlx::raw_sql(&format!(
        "ALTER ROLE {role} SET citus.propagate_set_commands = 'local'"
    ))
    .execute(&mut *connection)
    .await?;
    Ok(n_distributed)
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
    fn referenced_tables_are_distributed_before_the_tables_referencing_them() {
        let order = distribution_order();
        let position = |t: &str| order.iter().position(|x| *x == t).unwrap();
        assert!(position("tenants") < position("memberships"));
        assert!(position("users") < position("api_keys"));
        assert!(position("memberships") < position("audit_log"));
        assert!(position("audit_log") < position("audit_personal"));
        assert_eq!(
            order.len(),
            platform_tables().count() + TenantTable::ALL.len()
        );
    }
}
