//! `bulkhead admin create` on SQLite.

use crate::support::{assert_one_line_failure, assert_success, bulkhead, run};

fn create(data: &std::path::Path, email: &str) -> tokio::process::Command {
    let mut command = bulkhead(["admin", "create", "--email", email, "--data-dir"]);
    command.arg(data);
    command
}

#[tokio::test]
async fn an_admin_is_created_with_the_password_from_stdin_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let first = run(
        create(&data, "admin@example.com"),
        Some("correct horse battery staple\n"),
    )
    .await;
    let stdout = assert_success(&first);
    assert!(
        stdout.contains("created platform administrator admin@example.com"),
        "{stdout}"
    );
    assert!(!stdout.contains("generated password"), "{stdout}");
    assert!(!stdout.contains("correct horse"), "{stdout}");

    let second = run(
        create(&data, "admin@example.com"),
        Some("another good password\n"),
    )
    .await;
    let line = assert_one_line_failure(&second);
    assert!(line.contains("already exists"), "{line}");
}

#[tokio::test]
async fn without_stdin_a_password_is_generated_and_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(create(&dir.path().join("data"), "root@example.com"), None).await;
    let stdout = assert_success(&output);
    let passwords: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("generated password: "))
        .collect();
    assert_eq!(passwords.len(), 1, "{stdout}");
    assert_eq!(passwords[0].len(), 24, "{stdout}");
    assert!(passwords[0].chars().all(|c| c.is_ascii_alphanumeric()));
}

#[tokio::test]
async fn a_password_that_breaks_the_policy_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        create(&dir.path().join("data"), "admin@example.com"),
        Some("short\n"),
    )
    .await;
    let line = assert_one_line_failure(&output);
    assert!(line.contains("at least 12 characters"), "{line}");
}

#[tokio::test]
async fn an_invalid_email_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        create(&dir.path().join("data"), "not-an-email"),
        Some("correct horse battery staple\n"),
    )
    .await;
    let line = assert_one_line_failure(&output);
    assert!(line.contains("invalid email address"), "{line}");
}
