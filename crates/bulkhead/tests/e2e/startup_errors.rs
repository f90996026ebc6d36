//! A server that cannot start says why in one line on stderr and exits 1.

use crate::support::{assert_one_line_failure, bulkhead, run};

#[tokio::test]
async fn a_port_already_taken_is_one_line_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut command = bulkhead(["serve", "--addr", &addr, "--data-dir"]);
    command.arg(dir.path().join("data"));

    let line = assert_one_line_failure(&run(command, None).await);

    assert_eq!(
        line,
        format!("bulkhead: cannot listen on {addr}: address already in use")
    );
}

#[tokio::test]
async fn a_data_directory_under_a_regular_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let data = file.join("data");
    let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0", "--data-dir"]);
    command.arg(&data);

    let line = assert_one_line_failure(&run(command, None).await);

    assert!(line.contains("cannot create the data directory"), "{line}");
    assert!(line.contains(data.to_str().unwrap()), "{line}");
}

#[tokio::test]
async fn a_mysql_database_url_is_one_line_without_the_password() {
    let command = bulkhead([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "mysql://root:hunter2@x",
    ]);

    let line = assert_one_line_failure(&run(command, None).await);

    assert!(line.contains("unsupported database URL mysql://"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
}

#[tokio::test]
async fn a_bad_url_in_the_environment_is_one_line_too() {
    let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0"]);
    command.env("BULKHEAD_DATABASE_URL", "mysql://x");
    let line = assert_one_line_failure(&run(command, None).await);
    assert!(line.contains("mysql://x"), "{line}");
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_one_line_without_the_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused.
    let command = bulkhead([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "postgres://bulkhead:hunter2@127.0.0.1:1/bulkhead",
    ]);

    let line = assert_one_line_failure(&run(command, None).await);

    assert!(
        line.contains("postgres://bulkhead:***@127.0.0.1:1/bulkhead"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
}

#[tokio::test]
async fn a_missing_config_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("missing.toml");
    let mut command = bulkhead(["serve", "--config"]);
    command.arg(&config);
    let line = assert_one_line_failure(&run(command, None).await);
    assert!(line.contains("cannot read the config file"), "{line}");
    assert!(line.contains("missing.toml"), "{line}");
}

#[tokio::test]
async fn an_invalid_config_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bulkhead.toml");
    std::fs::write(&config, "addr = \"127.0.0.1:0\"\nport = 8080\n").unwrap();
    let mut command = bulkhead(["serve", "--config"]);
    command.arg(&config);
    let line = assert_one_line_failure(&run(command, None).await);
    assert!(line.contains("invalid config file"), "{line}");
    assert!(line.contains("line 2"), "{line}");
    assert!(line.contains("unknown field `port`"), "{line}");
}

#[tokio::test]
async fn a_short_signing_key_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "too short\n").unwrap();
    let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0", "--data-dir"]);
    command
        .arg(dir.path().join("data"))
        .arg("--signing-key-file")
        .arg(&key);
    let line = assert_one_line_failure(&run(command, None).await);
    assert!(line.contains("at least 32"), "{line}");
}
