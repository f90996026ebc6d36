//! The PostgreSQL server the tests make their databases on: whether one
//! answers, and a fresh database on it. The binary's end-to-end tests
//! include this file and `urls.rs` by path, so that both crates find the
//! server, skip without it and name their databases one way.

use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

use crate::urls::{DEFAULT_ADMIN_URL, redact};

#[allow(
    clippy::disallowed_methods,
    reason = "tests read their own environment"
)]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The superuser URL, or `None` (with a message) when there is no server
/// and we are not under CI.
pub async fn admin_url() -> Option<String> {
    static AVAILABLE: OnceCell<Option<String>> = OnceCell::const_new();
    AVAILABLE
        .get_or_init(|| async {
            let url = env("BULKHEAD_TEST_DATABASE_URL").unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned());
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
/// returns its name.
pub async fn create_database(admin_url: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    name
}
