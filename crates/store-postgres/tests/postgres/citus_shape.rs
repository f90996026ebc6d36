//! The static check of the schema's shape for Citus, on plain PostgreSQL:
//! the migrated schema passes, and each change that would stop Citus from
//! distributing it is named, by the check and by `migrate`.

use bulkhead_store_postgres::{MigrateError, MigrateOptions, citus_shape_violations, migrate};

use crate::support::{TestDatabase, options};

/// A database migrated without distributing it, on Citus too: the check is
/// for schemas that have not met Citus yet (Citus itself refuses each of
/// these changes on a distributed table).
async fn migrated_locally() -> Option<TestDatabase> {
    let database = TestDatabase::create().await?;
    let local = MigrateOptions {
        citus: false,
        ..options()
    };
    migrate(&database.owner_url, &local).await.unwrap();
    Some(database)
}

/// The violations of a freshly migrated schema after `statements`, run as
/// the owner.
async fn violations_after(statements: &str) -> Option<Vec<String>> {
    let database = migrated_locally().await?;
    let mut owner = database.owner().await;
    sqlx::raw_sql(statements).execute(&mut owner).await.unwrap();
    let violations = citus_shape_violations(&mut owner).await.unwrap();
    drop(owner);
    database.drop_database().await;
    Some(violations)
}

/// Exactly one violation, naming every one of `names`.
fn assert_one_naming(violations: &[String], names: &[&str]) {
    assert_eq!(violations.len(), 1, "{violations:#?}");
    for name in names {
        assert!(violations[0].contains(name), "{name}: {violations:#?}");
    }
}

#[tokio::test]
async fn the_migrated_schema_and_a_declared_record_index_would_distribute() {
    let Some(database) = migrated_locally().await else {
        return;
    };
    let mut owner = database.owner().await;
    assert_eq!(
        citus_shape_violations(&mut owner).await.unwrap(),
        Vec::<String>::new()
    );
    // The expression indexes collections declare are created at run time,
    // after tenant_id and collection.
    sqlx::raw_sql(
        "SELECT bulkhead_ensure_record_index('ix_records_0123456789abcdef',
                ARRAY['((data ->> ''title'') COLLATE \"C\")'])",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        citus_shape_violations(&mut owner).await.unwrap(),
        Vec::<String>::new()
    );
    drop(owner);
    database.drop_database().await;
}

#[tokio::test]
async fn a_trigger_on_a_tenant_or_platform_table_is_named() {
    let Some(violations) = violations_after(
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER records_stamp BEFORE UPDATE ON records
             FOR EACH ROW EXECUTE FUNCTION stamp();
         CREATE TRIGGER users_stamp BEFORE UPDATE ON users
             FOR EACH ROW EXECUTE FUNCTION stamp();",
    )
    .await
    else {
        return;
    };
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(violations[0].starts_with("records: trigger records_stamp"));
    assert!(violations[1].starts_with("users: trigger users_stamp"));
}

#[tokio::test]
async fn a_unique_index_of_a_tenant_table_without_tenant_id_is_named_and_migrate_refuses_it() {
    let Some(database) = migrated_locally().await else {
        return;
    };
    let mut owner = database.owner().await;
    sqlx::raw_sql("CREATE UNIQUE INDEX uq_records_id ON records (id)")
        .execute(&mut owner)
        .await
        .unwrap();
    let violations = citus_shape_violations(&mut owner).await.unwrap();
    assert_one_naming(&violations, &["records", "unique index uq_records_id (id)"]);
    let error = migrate(&database.owner_url, &options()).await.unwrap_err();
    assert!(matches!(error, MigrateError::CitusShape(_)), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("the schema would not distribute on Citus: records: unique index"),
        "{error}"
    );
    drop(owner);
    database.drop_database().await;
}

#[tokio::test]
async fn the_index_exception_does_not_excuse_a_unique_index_of_its_name() {
    let Some(violations) = violations_after(
        "DROP INDEX ix_memberships_user;
         CREATE UNIQUE INDEX ix_memberships_user ON memberships (user_id);",
    )
    .await
    else {
        return;
    };
    assert_one_naming(
        &violations,
        &["memberships", "unique index ix_memberships_user (user_id)"],
    );
}

#[tokio::test]
async fn a_unique_constraint_that_does_not_lead_with_tenant_id_is_named() {
    let Some(violations) = violations_after(
        "ALTER TABLE api_keys ADD CONSTRAINT uq_api_keys_prefix UNIQUE (prefix, tenant_id)",
    )
    .await
    else {
        return;
    };
    assert_one_naming(
        &violations,
        &["api_keys", "unique constraint uq_api_keys_prefix"],
    );
}

#[tokio::test]
async fn plain_and_expression_indexes_not_led_by_tenant_id_are_named() {
    let Some(violations) = violations_after(
        "CREATE INDEX ix_records_owner_only ON records (owner_id);
         CREATE INDEX ix_records_title ON records ((data ->> 'title'), tenant_id);",
    )
    .await
    else {
        return;
    };
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].starts_with("records: index ix_records_owner_only (owner_id)"),
        "{violations:#?}"
    );
    assert!(
        violations[1].starts_with("records: index ix_records_title"),
        "{violations:#?}"
    );
}

#[tokio::test]
async fn a_foreign_key_from_a_platform_table_into_a_tenant_table_is_named() {
    let Some(violations) = violations_after(
        "ALTER TABLE tenants ADD COLUMN owner_id uuid;
         ALTER TABLE tenants ADD CONSTRAINT fk_tenants_owner
             FOREIGN KEY (id, owner_id) REFERENCES memberships (tenant_id, user_id);",
    )
    .await
    else {
        return;
    };
    assert_one_naming(
        &violations,
        &["tenants", "fk_tenants_owner", "tenant table memberships"],
    );
}

#[tokio::test]
async fn a_foreign_key_between_tenant_tables_not_led_by_tenant_id_is_named() {
    let Some(violations) = violations_after(
        "ALTER TABLE record_events ADD CONSTRAINT fk_record_events_record
             FOREIGN KEY (record_id, tenant_id) REFERENCES records (id, tenant_id);",
    )
    .await
    else {
        return;
    };
    assert_one_naming(
        &violations,
        &[
            "record_events",
            "fk_record_events_record",
            "tenant table records",
        ],
    );
}

#[tokio::test]
async fn a_table_neither_tenant_nor_platform_is_named() {
    let Some(violations) = violations_after("CREATE TABLE scratch (id uuid PRIMARY KEY)").await
    else {
        return;
    };
    assert_one_naming(&violations, &["scratch: a table that is neither"]);
}
