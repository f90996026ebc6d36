//! The shape Citus needs of the schema, read from the catalog of plain
//! PostgreSQL.
//!
//! `bulkhead migrate --citus` distributes the tenant tables by `tenant_id`
//! and makes the platform tables reference tables, and Citus refuses a
//! schema that does not fit: a unique index or foreign key between
//! distributed tables without the distribution column, a reference table
//! that references a distributed one, a table with triggers. Most
//! deployments, and CI, never run Citus, so a change that breaks it would
//! only be found by the first operator who does. `bulkhead migrate` runs
//! this check on every database instead and refuses a schema that would not
//! distribute. It is stricter than Citus where the house rule is: every key,
//! index and foreign key between tenant tables *leads* with `tenant_id`
//! (Citus only needs it somewhere in them), so that a tenant's rows are
//! found and joined within its shard.

use bulkhead_store::TenantTable;
use sqlx::PgConnection;

use crate::migrate::{all_tables, platform_tables};

/// The non-unique indexes of tenant tables, as (table, index), that may lead
/// with another column than `tenant_id`, each with its reason beside it.
/// Citus accepts a non-unique index on any column (each shard indexes its
/// own rows), so only the house rule is relaxed; a unique index or
/// constraint is never excused, whatever this list says.
const INDEX_EXCEPTIONS: &[(&str, &str)] = &[
    // A signed-in user's memberships across tenants
    // (Store::memberships_of_user), read without a tenant.
    ("memberships", "ix_memberships_user"),
];

/// What the schema does that would stop Citus from distributing it, one line
/// per violation naming the table, the object and the rule; empty when
/// nothing does. Reads only the catalog of the current schema.
pub async fn citus_shape_violations(
    connection: &mut PgConnection,
) -> Result<Vec<String>, sqlx::Error> {
    let mut violations: Vec<String> = tables(connection)
        .await?
        .iter()
        .filter_map(|table| unknown_table(table))
        .collect();
    violations.extend(
        indexes(connection)
            .await?
            .iter()
            .filter_map(index_violation),
    );
    violations.extend(
        foreign_keys(connection)
            .await?
            .iter()
            .filter_map(foreign_key_violation),
    );
    violations.extend(triggers(connection).await?.iter().map(trigger_violation));
    Ok(violations)
}

/// Which part of the schema a table belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TableKind {
    /// Distributed by `tenant_id` under Citus.
    Tenant,
    /// A reference table under Citus (a copy on every worker).
    Platform,
    /// Known, and left alone by Citus (sqlx's record of migrations).
    Bookkeeping,
    /// Anything else, which Citus would neither distribute nor replicate.
    Unknown,
}

fn table_kind(table: &str) -> TableKind {
    if TenantTable::names().any(|name| name == table) {
        TableKind::Tenant
    } else if platform_tables().any(|name| name == table) {
        TableKind::Platform
    } else if all_tables().contains(&table) {
        TableKind::Bookkeeping
    } else {
        TableKind::Unknown
    }
}

fn unknown_table(table: &str) -> Option<String> {
    (table_kind(table) == TableKind::Unknown).then(|| {
        format!(
            "{table}: a table that is neither a tenant table (TenantTable) nor a platform \
             table (PLATFORM_GRANTS), so Citus would neither distribute nor replicate it"
        )
    })
}

/// An index of a tenant table (primary keys and unique and exclusion
/// constraints are enforced by one).
#[derive(Debug)]
struct Index {
    table: String,
    name: String,
    /// "primary key", "unique constraint", "exclusion constraint",
    /// "unique index" or "index".
    kind: String,
    /// Whether it constrains rows across the table (unique or exclusion),
    /// which Citus can only do within a shard.
    constrains: bool,
    /// Its key columns and expressions, as the server prints them.
    keys: String,
    /// Whether `tenant_id` is its first key column (an expression is not).
    led_by_tenant: bool,
}

fn index_violation(index: &Index) -> Option<String> {
    let Index {
        table,
        name,
        kind,
        keys,
        ..
    } = index;
    if index.led_by_tenant {
        None
    } else if index.constrains {
        Some(format!(
            "{table}: {kind} {name} ({keys}) does not lead with tenant_id; Citus enforces it \
             shard by shard, so it must hold tenant_id, and a tenant table's keys lead with it"
        ))
    } else if INDEX_EXCEPTIONS.contains(&(table.as_str(), name.as_str())) {
        None
    } else {
        Some(format!(
            "{table}: {kind} {name} ({keys}) does not lead with tenant_id; every index of a \
             tenant table does, so a tenant's rows are found within its shard (a non-unique \
             exception goes in INDEX_EXCEPTIONS with its reason)"
        ))
    }
}

/// A foreign key from a table of the schema.
#[derive(Debug)]
struct ForeignKey {
    table: String,
    name: String,
    /// The referenced table, qualified when it is in another schema.
    referenced: String,
    /// Whether the referenced table is in the current schema.
    referenced_here: bool,
    /// Whether `tenant_id` is the first column on both sides.
    led_by_tenant: bool,
}

fn foreign_key_violation(key: &ForeignKey) -> Option<String> {
    let ForeignKey {
        table,
        name,
        referenced,
        ..
    } = key;
    let referenced_kind = if key.referenced_here {
        table_kind(referenced)
    } else {
        TableKind::Unknown
    };
    match (table_kind(table), referenced_kind) {
        // An unknown table is reported once, as a table.
        (TableKind::Unknown | TableKind::Bookkeeping, _) => None,
        (_, TableKind::Unknown | TableKind::Bookkeeping) => Some(format!(
            "{table}: foreign key {name} references {referenced}, which is neither a tenant \
             nor a platform table"
        )),
        (TableKind::Tenant, TableKind::Tenant) if !key.led_by_tenant => Some(format!(
            "{table}: foreign key {name} into tenant table {referenced} does not lead with \
             tenant_id on both sides; Citus needs the distribution column in a foreign key \
             between distributed tables"
        )),
        (TableKind::Platform, TableKind::Tenant) => Some(format!(
            "{table}: foreign key {name} from a platform table into tenant table \
             {referenced}; Citus does not let a reference table reference a distributed one"
        )),
        // Distributed into reference tables, and reference tables among
        // themselves, are what Citus supports.
        (TableKind::Tenant, _) | (TableKind::Platform, _) => None,
    }
}

/// A trigger that someone created (not one PostgreSQL keeps for a foreign
/// key, nor Citus's own truncate trigger, both internal).
#[derive(Debug)]
struct Trigger {
    table: String,
    name: String,
}

fn trigger_violation(trigger: &Trigger) -> String {
    let Trigger { table, name } = trigger;
    format!(
        "{table}: trigger {name}; Citus refuses to distribute or replicate a table with \
         triggers (keep rules in privileges and row-level security instead)"
    )
}

/// The ordinary and partitioned tables of the current schema. On a Citus
/// coordinator the shards placed on it (of reference tables, say) are not
/// listed: Citus hides them from catalog queries (its default
/// `citus.override_table_visibility`), and its truncate triggers are
/// internal, so a distributed schema passes as it did before.
async fn tables(connection: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.relname::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
         ORDER BY c.relname",
    )
    .fetch_all(connection)
    .await
}

/// Every index of the tenant tables.
async fn indexes(connection: &mut PgConnection) -> Result<Vec<Index>, sqlx::Error> {
    let rows: Vec<(String, String, String, bool, String, bool)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text,
                CASE con.contype
                    WHEN 'p' THEN 'primary key'
                    WHEN 'u' THEN 'unique constraint'
                    WHEN 'x' THEN 'exclusion constraint'
                    ELSE CASE WHEN x.indisunique THEN 'unique index' ELSE 'index' END
                END,
                x.indisunique OR con.contype IS NOT DISTINCT FROM 'x',
                array_to_string(ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                                      FROM generate_series(1, x.indnkeyatts) k
                                      ORDER BY k), ', '),
                coalesce(x.indkey[0] = tenant.attnum, false)
         FROM pg_index x
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_class i ON i.oid = x.indexrelid
         LEFT JOIN pg_constraint con
                ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
               AND con.contype IN ('p', 'u', 'x')
         LEFT JOIN pg_attribute tenant
                ON tenant.attrelid = t.oid AND tenant.attname = 'tenant_id'
               AND NOT tenant.attisdropped
         WHERE n.nspname = current_schema() AND t.relname = ANY($1)
         ORDER BY t.relname, i.relname",
    )
    .bind(TenantTable::names().collect::<Vec<_>>())
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(table, name, kind, constrains, keys, led_by_tenant)| Index {
                table,
                name,
                kind,
                constrains,
                keys,
                led_by_tenant,
            },
        )
        .collect())
}

/// Every foreign key of the tables of the current schema.
async fn foreign_keys(connection: &mut PgConnection) -> Result<Vec<ForeignKey>, sqlx::Error> {
    let rows: Vec<(String, String, String, bool, bool)> = sqlx::query_as(
        "SELECT t.relname::text, con.conname::text,
                CASE WHEN rn.nspname = current_schema() THEN r.relname::text
                     ELSE format('%I.%I', rn.nspname, r.relname) END,
                rn.nspname = current_schema(),
                coalesce(con.conkey[1] = tenant.attnum
                         AND con.confkey[1] = referenced_tenant.attnum, false)
         FROM pg_constraint con
         JOIN pg_class t ON t.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_class r ON r.oid = con.confrelid
         JOIN pg_namespace rn ON rn.oid = r.relnamespace
         LEFT JOIN pg_attribute tenant
                ON tenant.attrelid = t.oid AND tenant.attname = 'tenant_id'
               AND NOT tenant.attisdropped
         LEFT JOIN pg_attribute referenced_tenant
                ON referenced_tenant.attrelid = r.oid AND referenced_tenant.attname = 'tenant_id'
               AND NOT referenced_tenant.attisdropped
         WHERE con.contype = 'f' AND n.nspname = current_schema()
         ORDER BY t.relname, con.conname",
    )
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(table, name, referenced, referenced_here, led_by_tenant)| ForeignKey {
                table,
                name,
                referenced,
                referenced_here,
                led_by_tenant,
            },
        )
        .collect())
}

/// The triggers of the tenant and platform tables, except internal ones.
async fn triggers(connection: &mut PgConnection) -> Result<Vec<Trigger>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, tg.tgname::text
         FROM pg_trigger tg
         JOIN pg_class c ON c.oid = tg.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT tg.tgisinternal AND n.nspname = current_schema() AND c.relname = ANY($1)
         ORDER BY c.relname, tg.tgname",
    )
    .bind(
        TenantTable::names()
            .chain(platform_tables())
            .collect::<Vec<_>>(),
    )
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(table, name)| Trigger { table, name })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(table: &str, name: &str, constrains: bool, led_by_tenant: bool) -> Index {
        Index {
            table: table.into(),
            name: name.into(),
            kind: if constrains { "unique index" } else { "index" }.into(),
            constrains,
            keys: "user_id".into(),
            led_by_tenant,
        }
    }

    #[test]
    fn every_index_exception_is_a_plain_index_of_a_tenant_table() {
        for (table, name) in INDEX_EXCEPTIONS {
            assert_eq!(table_kind(table), TableKind::Tenant, "{table}");
            // The schema names its unique indexes uq_ and its plain ones ix_.
            assert!(name.starts_with("ix_"), "{name}");
        }
    }

    #[test]
    fn an_index_exception_never_excuses_a_unique_index_of_that_name() {
        for (table, name) in INDEX_EXCEPTIONS {
            assert_eq!(index_violation(&index(table, name, false, false)), None);
            let violation = index_violation(&index(table, name, true, false)).unwrap();
            assert!(violation.contains(name), "{violation}");
        }
    }

    #[test]
    fn a_foreign_key_from_a_tenant_table_into_a_platform_table_is_allowed() {
        let key = ForeignKey {
            table: "memberships".into(),
            name: "memberships_user_id_fkey".into(),
            referenced: "users".into(),
            referenced_here: true,
            led_by_tenant: false,
        };
        assert_eq!(foreign_key_violation(&key), None);
    }

    #[test]
    fn a_foreign_key_into_another_schema_is_named() {
        let key = ForeignKey {
            table: "records".into(),
            name: "records_elsewhere_fkey".into(),
            referenced: "other.records".into(),
            referenced_here: false,
            led_by_tenant: true,
        };
        let violation = foreign_key_violation(&key).unwrap();
        assert!(violation.contains("other.records"), "{violation}");
    }

    #[test]
    fn sqlx_bookkeeping_is_known_and_anything_else_is_not() {
        assert_eq!(table_kind("_sqlx_migrations"), TableKind::Bookkeeping);
        assert_eq!(table_kind("users"), TableKind::Platform);
        assert_eq!(table_kind("records"), TableKind::Tenant);
        assert_eq!(unknown_table("users"), None);
        assert!(unknown_table("scratch").is_some());
    }
}
