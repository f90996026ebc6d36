//! `bulkhead keys rotate` on SQLite.

use crate::support::{assert_one_line_failure, assert_success, bulkhead, run};

#[tokio::test]
async fn rotation_keeps_the_previous_key_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut migrate = bulkhead(["migrate", "--data-dir"]);
    migrate.arg(&data);
    assert_success(&run(migrate, None).await);

    let mut rotate = bulkhead(["keys", "rotate", "--data-dir"]);
    rotate.arg(&data);
    let stdout = assert_success(&run(rotate, None).await);

    assert!(stdout.contains("new signing key "), "{stdout}");
    assert!(stdout.contains("2 key(s) verify tokens"), "{stdout}");
}

#[tokio::test]
async fn rotation_is_refused_when_the_key_comes_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rotate = bulkhead(["keys", "rotate", "--data-dir"]);
    rotate
        .arg(dir.path().join("data"))
        .env("BULKHEAD_SIGNING_KEY_FILE", dir.path().join("key"));
    let line = assert_one_line_failure(&run(rotate, None).await);
    assert!(line.contains("replace that file"), "{line}");
}
