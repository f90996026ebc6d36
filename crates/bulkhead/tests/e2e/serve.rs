//! `bulkhead serve` on SQLite: probes answer, signals stop it cleanly.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, bulkhead};

#[tokio::test]
async fn healthz_and_readyz_answer_200_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;

    let health = server.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );

    let missing = server.get("/nope").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );

    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn sigterm_stops_the_server_with_status_0_and_a_checkpointed_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data).await;
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);

    let (status, stderr) = server.stop_with("TERM").await;

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
    // Closing the store checkpoints the WAL into the database file.
    let wal = data.join("bulkhead.db-wal");
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(wal_len, 0, "the WAL was not checkpointed at shutdown");
}

#[tokio::test]
async fn sigint_stops_the_server_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data")).await;
    let (status, stderr) = server.stop_with("INT").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn settings_come_from_the_environment_when_no_flag_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-env");
    let mut command = bulkhead(["serve"]);
    command
        .env("BULKHEAD_ADDR", "127.0.0.1:0")
        .env("BULKHEAD_DATA_DIR", &data);
    let server = Server::start_with(command).await;
    assert!(server.addr.ip().is_loopback());
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);
    assert!(data.join("bulkhead.db").exists());
    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn a_config_file_sets_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-file");
    let config = dir.path().join("bulkhead.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\nlog = \"warn\"\n", data.to_str().unwrap()),
    )
    .unwrap();
    let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0", "--config"]);
    command.arg(&config);
    let server = Server::start_with(command).await;
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);
    assert!(data.join("bulkhead.db").exists());
    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}
