//! `bulkhead migrate` on SQLite.

use crate::support::{Server, assert_one_line_failure, assert_success, bulkhead, run};

fn migrate(data: &std::path::Path) -> tokio::process::Command {
    let mut command = bulkhead(["migrate", "--data-dir"]);
    command.arg(data);
    command
}

#[tokio::test]
async fn migrating_twice_succeeds_both_times_and_the_server_then_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let expected = format!(
        "sqlite database {} is up to date",
        data.join("bulkhead.db").display()
    );

    for _ in 0..2 {
        let stdout = assert_success(&run(migrate(&data), None).await);
        assert!(stdout.lines().any(|line| line == expected), "{stdout}");
    }

    let server = Server::start(&data).await;
    assert_eq!(
        server.get("/readyz").await.status(),
        reqwest::StatusCode::OK
    );
    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn citus_without_postgres_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = migrate(&dir.path().join("data"));
    command.arg("--citus");
    let line = assert_one_line_failure(&run(command, None).await);
    assert!(
        line.contains("--citus needs a PostgreSQL database URL"),
        "{line}"
    );
}
