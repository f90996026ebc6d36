//! The binary on PostgreSQL: `bulkhead migrate` as the owner role, then
//! `bulkhead serve` and `bulkhead admin create` as the runtime role, each
//! against a database made for the test.
//!
//! They need a PostgreSQL server reachable with a superuser URL, from
//! `BULKHEAD_TEST_DATABASE_URL` or, by default,
//! `postgres://postgres@127.0.0.1:5432/postgres`, with trust authentication
//! for new roles. Without one they are skipped with a message, except under
//! `CI=true`, where they fail.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server::{
    admin_url, citus, create_database, create_database_without_citus, drop_database, install_citus,
};
use crate::support::{Server, assert_one_line_failure, assert_success, bulkhead, run};
use crate::urls::with_user_and_database;
use tokio::process::Command;

/// The runtime role these tests create. Roles are cluster-wide, so it is
/// distinct from the store crate's test role, and one test creates it.
pub(crate) const APP_ROLE: &str = "bulkhead_e2e_app";

/// A database made for one server or test, dropped (connections and all)
/// when this is dropped.
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub(crate) async fn create() -> Option<Self> {
        let admin_url = admin_url().await?;
        let name = create_database(&admin_url, "bulkhead_e2e").await;
        Some(Self { admin_url, name })
    }

    /// A database without the citus extension even on Citus, as a
    /// deployment that ran on one node has, until [`Self::install_citus`].
    pub(crate) async fn create_without_citus() -> Option<Self> {
        let admin_url = admin_url().await?;
        let name = create_database_without_citus(&admin_url, "bulkhead_e2e").await;
        Some(Self { admin_url, name })
    }

    /// Installs the citus extension on every node and registers the
    /// workers, ready for `bulkhead migrate --citus`.
    pub(crate) async fn install_citus(&self) {
        install_citus(&self.admin_url, &self.name).await;
    }

    /// The database's name, the same on every node.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn owner_url(&self) -> String {
        with_user_and_database(&self.admin_url, None, &self.name)
    }

    pub(crate) fn app_url(&self) -> String {
        with_user_and_database(&self.admin_url, Some(APP_ROLE), &self.name)
    }
}

/// `bulkhead migrate` for the test databases, to be given the owner's URL;
/// with `--citus` when the tests run on a Citus cluster.
pub(crate) fn migrate_command() -> Command {
    migrate_command_distributing(citus())
}

/// `bulkhead migrate` for the test databases, to be given the owner's URL,
/// with `--citus` or not.
pub(crate) fn migrate_command_distributing(distribute: bool) -> Command {
    let mut command = bulkhead(["migrate", "--app-role", APP_ROLE]);
    if distribute {
        command.arg("--citus");
    }
    command.arg("--database-url");
    command
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and may run while a test unwinds inside a
        // runtime: drop the database from a thread with a runtime of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(drop_database(&admin_url, &name));
            Some(())
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

#[tokio::test]
async fn migrate_then_serve_and_create_an_admin_on_postgres() {
    let Some(database) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // Migrating is idempotent: the second run applies nothing.
    let migrate = || {
        let mut command = migrate_command();
        command.arg(database.owner_url());
        command
    };
    let first = assert_success(&run(migrate(), None).await);
    assert!(first.contains("postgresql database postgres://"), "{first}");
    let second = assert_success(&run(migrate(), None).await);
    assert!(second.contains("applied 0 migration(s)"), "{second}");
    assert!(second.contains("already existed"), "{second}");

    // The server runs as the runtime role; the data dir is not used.
    let mut serve = bulkhead(["serve", "--addr", "127.0.0.1:0", "--data-dir"]);
    serve
        .arg(dir.path().join("unused"))
        .env("BULKHEAD_DATABASE_URL", database.app_url());
    let server = Server::start_with(serve).await;
    let health = server.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );

    let create = || {
        let mut command = bulkhead(["admin", "create", "--email", "admin@example.com"]);
        command.env("BULKHEAD_DATABASE_URL", database.app_url());
        command
    };
    assert_success(&run(create(), Some("correct horse battery staple\n")).await);
    let line =
        assert_one_line_failure(&run(create(), Some("correct horse battery staple\n")).await);
    assert!(line.contains("already exists"), "{line}");

    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!dir.path().join("unused").exists());
    drop(database);
}

#[tokio::test]
async fn serving_as_a_superuser_is_refused_in_one_line() {
    let Some(admin_url) = admin_url().await else {
        return;
    };
    let mut serve = bulkhead(["serve", "--addr", "127.0.0.1:0", "--database-url"]);
    serve.arg(&admin_url);
    let line = assert_one_line_failure(&run(serve, None).await);
    assert!(line.contains("refusing to run as database role"), "{line}");
}
