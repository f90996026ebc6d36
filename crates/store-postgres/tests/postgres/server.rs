//! The PostgreSQL server the tests make their databases on: whether one
//! answers, and a fresh database on it. The binary's end-to-end tests
//! include this file and `urls.rs` by path, so that both crates find the
//! server, skip without it and name their databases one way.
//!
//! With `BULKHEAD_TEST_CITUS_URL` (a superuser URL of a Citus coordinator,
//! in a database where its workers are registered), every database is made
//! on the coordinator and on each worker, with the extension and the
//! workers registered, and the tests migrate it with `--citus`: the same
//! suites then run on the cluster.

use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

use crate::urls::{DEFAULT_ADMIN_URL, redact, with_user_and_database};

#[allow(
    clippy::disallowed_methods,
    reason = "tests read their own environment"
)]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Whether the tests run on a Citus cluster (`BULKHEAD_TEST_CITUS_URL`).
pub fn citus() -> bool {
    env("BULKHEAD_TEST_CITUS_URL").is_some()
}

/// The superuser URL, or `None` (with a message) when there is no server
/// and we are not under CI.
pub async fn admin_url() -> Option<String> {
    static AVAILABLE: OnceCell<Option<String>> = OnceCell::const_new();
    AVAILABLE
        .get_or_init(|| async {
            let url = env("BULKHEAD_TEST_CITUS_URL")
                .or_else(|| env("BULKHEAD_TEST_DATABASE_URL"))
                .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned());
            match PgConnection::connect(&url).await {
                Ok(connection) => {
                    let _ = connection.close().await;
                    Some(url)
                }
                Err(error) => {
                    let message = format!("PostgreSQL at {} is not reachable: {error}", redact(&url));
                    if env("CI").as_deref() == Some("true") {
                        panic!("{message}; under CI the PostgreSQL tests must run");
                    }
                    eprintln!("SKIPPED: {message}; set BULKHEAD_TEST_DATABASE_URL to run the PostgreSQL tests");
                    None
                }
            }
        })
        .await
        .clone()
}

/// Creates an empty database named after `prefix` and a fresh id, and
/// returns its name. On Citus, on every node, ready to distribute.
pub async fn create_database(admin_url: &str, prefix: &str) -> String {
    let name = create_database_without_citus(admin_url, prefix).await;
    if citus() {
        install_citus(admin_url, &name).await;
    }
    name
}

/// Like [`create_database`], but without the citus extension: on Citus,
/// the database of a deployment that ran on one node, made on every node
/// so that [`install_citus`] can later make it ready to distribute.
pub async fn create_database_without_citus(admin_url: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    execute(admin_url, &format!("CREATE DATABASE {name}")).await;
    for (host, port) in workers(admin_url).await {
        execute(
            &node_url(admin_url, &host, port),
            &format!("CREATE DATABASE {name}"),
        )
        .await;
    }
    name
}

/// Installs the citus extension in database `name` on every node and
/// registers the workers in the coordinator's.
pub async fn install_citus(admin_url: &str, name: &str) {
    let workers = workers(admin_url).await;
    let mut nodes = vec![admin_url.to_owned()];
    nodes.extend(
        workers
            .iter()
            .map(|(host, port)| node_url(admin_url, host, *port)),
    );
    for node in &nodes {
        execute(
            &with_user_and_database(node, None, name),
            "CREATE EXTENSION citus",
        )
        .await;
    }
    // Registering a worker writes catalogs that all its databases
    // share (roles), which fails with "tuple concurrently updated" when
    // two tests register at once.
    static REGISTERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _registering = REGISTERING.lock().await;
    let coordinator = url::Url::parse(admin_url).unwrap();
    let mut register = format!(
        "SELECT citus_set_coordinator_host('{}', {});",
        coordinator.host_str().unwrap(),
        coordinator.port().unwrap_or(5432)
    );
    for (host, port) in &workers {
        register.push_str(&format!("SELECT citus_add_node('{host}', {port});"));
    }
    // Every statement that spans several shards fails, but where the
    // store says it spans tenants by design (its memberships-of-a-user
    // read): what the suites run is then shown to be single-shard.
    register.push_str(&format!(
        "ALTER DATABASE {name} SET citus.multi_task_query_log_level = 'error';"
    ));
    // Other processes (another suite, a benchmark) may register nodes on
    // the same cluster at the same moment; the statements repeat safely.
    let url = with_user_and_database(admin_url, None, name);
    let mut attempts = 0;
    while let Err(error) = try_execute(&url, &register).await {
        attempts += 1;
        assert!(attempts < 5, "{}: {register}: {error}", redact(&url));
    }
}

/// Drops a database made by [`create_database`], on every node,
/// disconnecting whoever is still connected.
pub async fn drop_database(admin_url: &str, name: &str) {
    let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    // The coordinator first: its connections to the workers go with it.
    execute(admin_url, &statement).await;
    for (host, port) in workers(admin_url).await {
        execute(&node_url(admin_url, &host, port), &statement).await;
    }
}

/// A connection for a test's own statements. On Citus the test databases
/// forbid statements that span shards (see [`create_database`]), which is
/// for the store's statements; a test's probes (a count over every tenant,
/// a raw read without a tenant) may span them.
#[allow(
    dead_code,
    reason = "the end-to-end tests include this file and have no use for it"
)]
pub async fn probe(url: &str) -> PgConnection {
    let mut connection = PgConnection::connect(url).await.unwrap();
    if citus() {
        sqlx::Executor::execute(
            &mut connection,
            "SET citus.multi_task_query_log_level = 'off'",
        )
        .await
        .unwrap();
    }
    connection
}

/// Runs `statements` in the admin URL's database of every node: the
/// coordinator's, and each worker's on Citus.
#[allow(
    dead_code,
    reason = "the end-to-end tests include this file and have no use for it"
)]
pub async fn on_every_node(admin_url: &str, statements: &str) {
    execute(admin_url, statements).await;
    for (host, port) in workers(admin_url).await {
        execute(&node_url(admin_url, &host, port), statements).await;
    }
}

/// The Citus workers registered in the admin URL's database (none without Citus).
pub async fn workers(admin_url: &str) -> Vec<(String, i32)> {
    if !citus() {
        return Vec::new();
    }
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    let workers = sqlx::query_as(
        "SELECT nodename::text, nodeport FROM pg_dist_node
         WHERE noderole = 'primary' AND groupid <> 0 ORDER BY nodeid",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    workers
}

/// `admin_url` with a worker's host and port.
pub fn node_url(admin_url: &str, host: &str, port: i32) -> String {
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_host(Some(host)).unwrap();
    url.set_port(Some(u16::try_from(port).unwrap())).unwrap();
    url.to_string()
}

// A plain &str, not raw_sql: the futures of the conformance harness must be
// Send, and raw_sql's is not (sqlx lifetime quirk).
async fn try_execute(url: &str, statements: &str) -> Result<(), sqlx::Error> {
    let mut connection = PgConnection::connect(url).await?;
    sqlx::Executor::execute(&mut connection, statements).await?;
    connection.close().await
}

async fn execute(url: &str, statements: &str) {
    try_execute(url, statements)
        .await
        .unwrap_or_else(|error| panic!("{}: {statements}: {error}", redact(url)));
}
