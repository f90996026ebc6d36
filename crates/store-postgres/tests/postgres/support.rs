//! A fresh database per test, migrated by the real `migrate`, with the
//! store connected as the runtime role.

use std::sync::Arc;

use bulkhead_store_conformance::TestStore;
use bulkhead_store_postgres::{MigrateOptions, PgStore, PoolSettings, migrate};
use sqlx::PgConnection;

use crate::server::{admin_url, citus, create_database, drop_database, probe};
use crate::urls::with_user_and_database;

/// The runtime role every test database grants to. Roles are cluster-wide;
/// sharing one is safe because grants are per database.
pub const APP_ROLE: &str = "bulkhead_test_app";

/// A database created for one test; [`TestDatabase::drop_database`] removes it.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub admin_url: String,
    /// The superuser (schema owner) URL of this database.
    pub owner_url: String,
    /// The runtime role's URL of this database.
    pub app_url: String,
}

impl TestDatabase {
    pub async fn create() -> Option<Self> {
        let admin_url = admin_url().await?;
        let name = create_database(&admin_url, "bulkhead_test").await;
        Some(Self {
            owner_url: with_user_and_database(&admin_url, None, &name),
            app_url: with_user_and_database(&admin_url, Some(APP_ROLE), &name),
            name,
            admin_url,
        })
    }

    /// Creates a database, migrates it as the superuser owner, and returns
    /// it with the runtime role set up.
    pub async fn migrated() -> Option<Self> {
        let database = Self::create().await?;
        migrate(&database.owner_url, &options()).await.unwrap();
        Some(database)
    }

    /// This database's URL as another login role (no password: trust auth).
    pub fn url_as(&self, role: &str) -> String {
        with_user_and_database(&self.admin_url, Some(role), &self.name)
    }

    pub async fn owner(&self) -> PgConnection {
        probe(&self.owner_url).await
    }

    pub async fn app(&self) -> PgConnection {
        probe(&self.app_url).await
    }

    pub async fn store(&self, max_connections: u32) -> PgStore {
        let settings = PoolSettings {
            max_connections,
            ..PoolSettings::default()
        };
        PgStore::connect(&self.app_url, &settings).await.unwrap()
    }

    pub async fn drop_database(self) {
        drop_database(&self.admin_url, &self.name).await;
    }
}

pub fn options() -> MigrateOptions {
    MigrateOptions {
        app_role: APP_ROLE.into(),
        app_password: None,
        citus: citus(),
    }
}

/// Tables with a `tenant_id` column, from PostgreSQL's catalog.
pub async fn tenant_tables(connection: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name",
    )
    .fetch_all(connection)
    .await
    .unwrap()
}

/// The conformance suite's fresh store.
pub async fn fresh_store() -> Option<TestStore> {
    let database = TestDatabase::migrated().await?;
    let tables = tenant_tables(&mut database.owner().await).await;
    let store = database.store(8).await;
    Some(TestStore::new(Arc::new(store), tables).with_cleanup(database.drop_database()))
}
