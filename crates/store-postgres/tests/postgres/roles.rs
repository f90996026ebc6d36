//! `migrate` and the runtime-role checks of `PgStore::connect`.

use bulkhead_store::Store;
use bulkhead_store_postgres::{
    ConnectError, MigrateError, MigrateOptions, PgStore, PoolSettings, migrate,
};
use sqlx::{Connection, PgConnection};

use crate::server::on_every_node;
use crate::support::{APP_ROLE, TestDatabase, options};

/// Creates a login role if it does not exist yet (tests share the cluster).
async fn ensure_role(admin_url: &str, name: &str, attributes: &str) {
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    let statement = format!(
        "DO $$ BEGIN CREATE ROLE {name} LOGIN {attributes};
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    );
    sqlx::raw_sql(&statement).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}

#[tokio::test]
async fn migrating_twice_changes_nothing_the_second_time() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let first = migrate(&database.owner_url, &options()).await.unwrap();
    assert!(first.applied >= 1);
    let second = migrate(&database.owner_url, &options()).await.unwrap();
    assert_eq!(
        (
            second.applied,
            second.role_created,
            second.distributed_tables
        ),
        (0, false, 0)
    );
    let store = database.store(2).await;
    store.readiness().await.unwrap();
    store.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn serving_as_a_superuser_is_refused() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let error = PgStore::connect(&database.owner_url, &PoolSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::UnsafeRole { .. }), "{error}");
    assert!(error.to_string().contains("superuser"), "{error}");
    database.drop_database().await;
}

#[tokio::test]
async fn serving_as_a_bypassrls_role_is_refused() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    ensure_role(&database.admin_url, "bulkhead_test_bypass", "BYPASSRLS").await;
    let error = PgStore::connect(
        &database.url_as("bulkhead_test_bypass"),
        &PoolSettings::default(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("BYPASSRLS"), "{error}");
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_superuser_owner_can_migrate_but_not_serve_and_is_itself_subject_to_rls() {
    let Some(admin_url) = crate::server::admin_url().await else {
        return;
    };
    ensure_role(&admin_url, "bulkhead_test_owner", "NOSUPERUSER CREATEROLE").await;
    ensure_role(&admin_url, APP_ROLE, "").await;
    let database = TestDatabase::create().await.unwrap();
    // On Citus the owner owns the database on the workers too, where its
    // tables' shards are made.
    on_every_node(
        &admin_url,
        &format!(
            "ALTER DATABASE {} OWNER TO bulkhead_test_owner",
            database.name
        ),
    )
    .await;
    let owner_url = database.url_as("bulkhead_test_owner");
    migrate(&owner_url, &options()).await.unwrap();

    let error = PgStore::connect(&owner_url, &PoolSettings::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("owns tables"), "{error}");

    // The app role serves; the owner, not being a superuser, sees no tenant
    // rows either without a tenant set, because RLS is forced.
    let store = PgStore::connect(&database.app_url, &PoolSettings::default())
        .await
        .unwrap();
    let user = bulkhead_store_conformance::fixtures::user(&store, "x@example.com").await;
    bulkhead_store_conformance::fixtures::tenant(&store, "acme", &user).await;
    let mut owner = crate::server::probe(&owner_url).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(n, 0);
    owner.close().await.unwrap();
    store.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn serving_an_unmigrated_or_altered_schema_is_refused() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    ensure_role(&database.admin_url, APP_ROLE, "").await;
    let error = PgStore::connect(&database.app_url, &PoolSettings::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("bulkhead migrate"), "{error}");

    migrate(&database.owner_url, &options()).await.unwrap();
    let store = database.store(1).await;
    let mut owner = database.owner().await;
    sqlx::raw_sql("UPDATE _sqlx_migrations SET checksum = '\\x00'")
        .execute(&mut owner)
        .await
        .unwrap();
    let error = store.readiness().await.unwrap_err();
    assert!(error.to_string().contains("different contents"), "{error}");
    let error = PgStore::connect(&database.app_url, &PoolSettings::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("different contents"), "{error}");
    owner.close().await.unwrap();
    store.close().await;
    database.drop_database().await;
}

/// Migration 0003's email keys are computed by `migrate` after the SQL has
/// run; a schema left between the two (a run that stopped there) has
/// accounts the unique key cannot see, so the server refuses it until
/// `migrate` runs again, which fills the keys in.
#[tokio::test]
async fn serving_before_the_email_keys_are_filled_in_is_refused() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let mut owner = database.owner().await;
    // One statement at a time: Citus relays each to the workers as a
    // prepared statement, which holds one command.
    for statement in [
        "ALTER TABLE users ALTER COLUMN email_key DROP NOT NULL",
        "INSERT INTO users (id, email, password_hash, created_at, updated_at)
         VALUES (gen_random_uuid(), 'Ada@example.com', 'x', now(), now())",
    ] {
        sqlx::raw_sql(statement).execute(&mut owner).await.unwrap();
    }
    let error = PgStore::connect(&database.app_url, &PoolSettings::default())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("email keys") && error.to_string().contains("bulkhead migrate"),
        "{error}"
    );

    migrate(&database.owner_url, &options()).await.unwrap();
    let key: String = sqlx::query_scalar("SELECT email_key FROM users")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(key, "ada@example.com");
    let store = database.store(1).await;
    store.close().await;
    owner.close().await.unwrap();
    database.drop_database().await;
}

#[tokio::test]
async fn readiness_fails_once_the_database_is_gone() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(2).await;
    store.readiness().await.unwrap();
    database.clone().drop_database().await;
    assert!(store.readiness().await.is_err());
    store.close().await;
}

#[tokio::test]
async fn migrate_refuses_unsafe_runtime_roles_and_bad_names() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let as_owner = MigrateOptions {
        app_role: "postgres".into(),
        ..options()
    };
    let error = migrate(&database.owner_url, &as_owner).await.unwrap_err();
    assert!(matches!(error, MigrateError::UnsafeRole(_)), "{error}");
    let bad = MigrateOptions {
        app_role: "app\"; DROP TABLE users; --".into(),
        ..options()
    };
    assert!(matches!(
        migrate(&database.owner_url, &bad).await.unwrap_err(),
        MigrateError::BadRoleName(_)
    ));
    ensure_role(&database.admin_url, "bulkhead_test_bypass", "BYPASSRLS").await;
    let bypass = MigrateOptions {
        app_role: "bulkhead_test_bypass".into(),
        ..options()
    };
    let error = migrate(&database.owner_url, &bypass).await.unwrap_err();
    assert!(error.to_string().contains("BYPASSRLS"), "{error}");
    database.drop_database().await;
}

#[tokio::test]
async fn migrate_with_citus_needs_the_extension_and_says_so() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let citus = MigrateOptions {
        citus: true,
        ..options()
    };
    if crate::server::citus() {
        // The test databases of a Citus run come with the extension.
        sqlx::raw_sql("DROP EXTENSION citus")
            .execute(&mut database.owner().await)
            .await
            .unwrap();
    }
    let error = migrate(&database.owner_url, &citus).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("citus extension is not installed"),
        "{error}"
    );
    database.drop_database().await;
}

#[tokio::test]
async fn an_unreachable_server_or_bad_url_is_a_clear_error() {
    let error = PgStore::connect(
        "postgres://nobody@127.0.0.1:1/none",
        &PoolSettings::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ConnectError::Unreachable(_)), "{error}");
    let error = PgStore::connect("mysql://x", &PoolSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::BadUrl(_)), "{error}");
}
