//! `bulkhead migrate` on PostgreSQL: schema, runtime role, grants.
//!
//! Run as the owner role. It applies the embedded migrations (sqlx records
//! them with checksums in `_sqlx_migrations` and takes an advisory lock, so
//! concurrent runs are safe), then makes sure the runtime role exists as a
//! plain login role and holds exactly its [`runtime_grants`]. Every step is
//! idempotent: a second run changes nothing.

use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};

use bulkhead_store::{EmailKeyCollision, TenantTable};

use crate::{checks, citus, citus_shape, email_keys};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Platform tables (no `tenant_id`, reached only through the system path)
/// and what the runtime role may do with each. No TRUNCATE, REFERENCES or
/// TRIGGER anywhere, here or in [`tenant_privileges`].
pub const PLATFORM_GRANTS: &[(&str, &str)] = &[
    ("tenants", "SELECT, INSERT, UPDATE, DELETE"),
    ("plans", "SELECT, INSERT, UPDATE"),
    ("users", "SELECT, INSERT, UPDATE, DELETE"),
    ("sessions", "SELECT, INSERT, UPDATE, DELETE"),
    ("refresh_tokens", "SELECT, INSERT, UPDATE, DELETE"),
    ("signing_keys", "SELECT, INSERT, UPDATE"),
    ("platform_audit_log", "SELECT, INSERT"),
    ("platform_audit_personal", "SELECT, INSERT, DELETE"),
];

/// sqlx's record of the applied migrations, which the server reads at start.
const MIGRATIONS_GRANT: (&str, &str) = ("_sqlx_migrations", "SELECT");

/// What the runtime role may do with a tenant table (TRUNCATE is not
/// subject to row-level security, so it is never granted). The audit log,
/// the record events and the ledger's transfers and postings are
/// insert-only; a ledger account is never deleted but with its tenant.
/// Idempotency keys are deleted by the retention sweep, the users
/// remembered for a day's active users by the metering flush. Metered
/// hours and days are only ever added to. The match is
/// exhaustive so that a new [`TenantTable`] needs its privileges written
/// here to compile.
pub const fn tenant_privileges(table: TenantTable) -> &'static str {
    match table {
        TenantTable::Memberships
        | TenantTable::ApiKeys
        | TenantTable::Invitations
        | TenantTable::Collections
        | TenantTable::Records => "SELECT, INSERT, UPDATE, DELETE",
        TenantTable::AuditLog
        | TenantTable::RecordEvents
        | TenantTable::LedgerTransfers
        | TenantTable::LedgerPostings
        | TenantTable::LedgerCharges => "SELECT, INSERT",
        TenantTable::LedgerAccounts
        | TenantTable::LedgerHolds
        | TenantTable::LedgerLimitProfiles
        | TenantTable::TenantUsage
        | TenantTable::UsageHours
        | TenantTable::UsageDays => "SELECT, INSERT, UPDATE",
        TenantTable::AuditPersonal
        | TenantTable::RecordUniqueValues
        | TenantTable::UsageDayUsers => "SELECT, INSERT, DELETE",
        TenantTable::IdempotencyKeys => "SELECT, INSERT, UPDATE, DELETE",
    }
}

/// The platform tables' names.
pub fn platform_tables() -> impl Iterator<Item = &'static str> {
    PLATFORM_GRANTS.iter().map(|(table, _)| *table)
}

/// What the runtime role may do, table by table, and nothing more: every
/// table of the schema is here.
pub fn runtime_grants() -> Vec<(&'static str, &'static str)> {
    let mut grants = PLATFORM_GRANTS.to_vec();
    grants.extend(
        TenantTable::ALL
            .into_iter()
            .map(|table| (table.name(), tenant_privileges(table))),
    );
    grants.push(MIGRATIONS_GRANT);
    grants
}

/// Every table of the schema (for the ownership check).
pub fn all_tables() -> Vec<&'static str> {
    runtime_grants()
        .into_iter()
        .map(|(table, _)| table)
        .collect()
}

/// Functions the runtime role may call (all others are revoked from PUBLIC
/// where they matter).
pub const RUNTIME_FUNCTIONS: &[&str] = &["bulkhead_ensure_record_index(text, text[])"];

/// What `bulkhead migrate` does besides applying migrations.
#[derive(Clone)]
pub struct MigrateOptions {
    /// The runtime login role to create if missing and grant DML to.
    pub app_role: String,
    /// Its password, set when given; `None` leaves an existing one alone
    /// (and creates the role without one, for trust or peer authentication).
    pub app_password: Option<String>,
    /// Also distribute the tables with Citus.
    pub citus: bool,
}

impl std::fmt::Debug for MigrateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateOptions")
            .field("app_role", &self.app_role)
            .field(
                "app_password",
                &self.app_password.as_ref().map(|_| "<redacted>"),
            )
            .field("citus", &self.citus)
            .finish()
    }
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            app_role: "bulkhead_app".into(),
            app_password: None,
            citus: false,
        }
    }
}

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateReport {
    pub applied: usize,
    pub role_created: bool,
    pub distributed_tables: usize,
    /// Accounts from before email keys that share one (see
    /// [`bulkhead_store::EmailKeyCollision`]): kept, and to be reported.
    pub email_key_collisions: Vec<EmailKeyCollision>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("invalid PostgreSQL URL: {0}")]
    BadUrl(String),
    #[error("cannot connect to PostgreSQL: {0}")]
    Unreachable(String),
    #[error(
        "invalid runtime role name {0:?}: use 1 to 63 characters of a-z, 0-9 and _, starting with a letter or _"
    )]
    BadRoleName(String),
    #[error("{0}")]
    UnsafeRole(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("Citus: {0}")]
    Citus(String),
    #[error("the schema does not isolate its tenant tables: {0}")]
    Unisolated(String),
    #[error("the schema would not distribute on Citus: {0}")]
    CitusShape(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Applies migrations as the owner at `owner_url` and sets up the runtime role.
pub async fn migrate(
    owner_url: &str,
    options: &MigrateOptions,
) -> Result<MigrateReport, MigrateError> {
    if !valid_role_name(&options.app_role) {
        return Err(MigrateError::BadRoleName(options.app_role.clone()));
    }
    if !crate::is_postgres_url(owner_url) {
        return Err(MigrateError::BadUrl(
            "it must start with postgres:// or postgresql://".into(),
        ));
    }
    let connect_options: sqlx::postgres::PgConnectOptions = owner_url
        .parse()
        .map_err(|error: sqlx::Error| MigrateError::BadUrl(error.to_string()))?;
    let mut connection = PgConnection::connect_with(&connect_options)
        .await
        .map_err(|error| MigrateError::Unreachable(error.to_string()))?;

    let owner: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut connection)
        .await?;
    if owner == options.app_role {
        return Err(MigrateError::UnsafeRole(format!(
            "the runtime role {:?} cannot be the role that owns the schema; connect as the owner",
            options.app_role
        )));
    }

    let before = applied_count(&mut connection).await?;
    MIGRATOR.run(&mut connection).await?;
    let applied = applied_count(&mut connection).await? - before;
    let unisolated = checks::tenant_tables_unisolated(&mut connection).await?;
    if !unisolated.is_empty() {
        return Err(MigrateError::Unisolated(unisolated.join("; ")));
    }
    let misshapen = citus_shape::citus_shape_violations(&mut connection).await?;
    if !misshapen.is_empty() {
        return Err(MigrateError::CitusShape(misshapen.join("; ")));
    }
    // Migration 0003's keys, which SQL cannot compute; a no-op once filled.
    if !email_keys::filled(&mut connection).await? {
        email_keys::backfill(&mut connection).await?;
    }
    let email_key_collisions = email_keys::collisions(&mut connection).await?;

    let role_created = ensure_role(&mut connection, options).await?;
    grant(&mut connection, &options.app_role).await?;
    let distributed_tables = if options.citus {
        citus::distribute(&mut connection, &options.app_role).await?
    } else {
        0
    };
    connection.close().await?;
    Ok(MigrateReport {
        applied,
        role_created,
        distributed_tables,
        email_key_collisions,
    })
}

async fn applied_count(connection: &mut PgConnection) -> Result<usize, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *connection)
        .await?;
    if !exists {
        return Ok(0);
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *connection)
        .await?;
    Ok(usize::try_from(n).unwrap_or_default())
}

/// The role name quoted as an identifier by the server itself.
pub(crate) async fn quoted_role(
    connection: &mut PgConnection,
    role: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT quote_ident($1)")
        .bind(role)
        .fetch_one(connection)
        .await
}

/// Creates the runtime role if missing. Returns whether it did.
async fn ensure_role(
    connection: &mut PgConnection,
    options: &MigrateOptions,
) -> Result<bool, MigrateError> {
    let existing: Option<(bool, bool)> =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1")
            .bind(&options.app_role)
            .fetch_optional(&mut *connection)
            .await?;
    let role = quoted_role(connection, &options.app_role).await?;
    let created = match existing {
        Some((true, _)) | Some((_, true)) => {
            return Err(MigrateError::UnsafeRole(format!(
                "the runtime role {:?} exists with SUPERUSER or BYPASSRLS; drop those attributes or choose another role",
                options.app_role
            )));
        }
        Some(_) => false,
        None => {
            // CREATE ROLE takes no bind parameters: the name was quoted by
            // quote_ident above, and the password is quoted by the server
            // with quote_literal below.
            let statement = format!(
                "CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION"
            );
            match sqlx::raw_sql(&statement).execute(&mut *connection).await {
                Ok(_) => true,
                // Another migrate created it meanwhile: fine.
                Err(sqlx::Error::Database(db))
                    if matches!(db.code().as_deref(), Some("42710" | "23505")) =>
                {
                    false
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    if let Some(password) = &options.app_password {
        let literal: String = sqlx::query_scalar("SELECT quote_literal($1)")
            .bind(password)
            .fetch_one(&mut *connection)
            .await?;
        sqlx::raw_sql(&format!("ALTER ROLE {role} PASSWORD {literal}"))
            .execute(&mut *connection)
            .await?;
    }
    Ok(created)
}

/// Sets the runtime role's privileges to exactly [`runtime_grants`], in one
/// transaction so the server never sees a half-granted schema.
async fn grant(connection: &mut PgConnection, app_role: &str) -> Result<(), MigrateError> {
    let role = quoted_role(connection, app_role).await?;
    let mut statements = String::from("BEGIN;\n");
    statements.push_str(&format!("GRANT USAGE ON SCHEMA public TO {role};\n"));
    for (table, privileges) in runtime_grants() {
        statements.push_str(&format!("REVOKE ALL ON TABLE {table} FROM {role};\n"));
        statements.push_str(&format!("GRANT {privileges} ON TABLE {table} TO {role};\n"));
    }
    for function in RUNTIME_FUNCTIONS {
        statements.push_str(&format!(
            "GRANT EXECUTE ON FUNCTION {function} TO {role};\n"
        ));
    }
    statements.push_str("COMMIT;");
    sqlx::raw_sql(&statements).execute(&mut *connection).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        for good in ["bulkhead_app", "_x", "app2"] {
            assert!(valid_role_name(good), "{good}");
        }
        for bad in [
            "",
            "2app",
            "App",
            "bulkhead-app",
            "a\"; DROP TABLE x; --",
            &"a".repeat(64),
        ] {
            assert!(!valid_role_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_table_has_runtime_grants_once_and_the_audit_log_is_insert_only() {
        let mut tables = all_tables();
        tables.sort_unstable();
        tables.dedup();
        assert_eq!(tables.len(), runtime_grants().len());
        for table in TenantTable::names().chain(platform_tables()) {
            assert!(tables.contains(&table), "{table}");
        }
        let (_, audit) = runtime_grants()
            .into_iter()
            .find(|(t, _)| *t == "audit_log")
            .unwrap();
        assert!(!audit.contains("UPDATE") && !audit.contains("DELETE"));
    }
}
