//! Tests for account creation, on a real SQLite store.

use bulkhead_domain::{EmailLookup, ManualClock};
use bulkhead_store_sqlite::SqliteStore;
use time::macros::datetime;

use super::*;
use crate::passwords::{Verification, verify_password};

fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(
        &dir.path().join(bulkhead_store_sqlite::DATABASE_FILE),
        datetime!(2026-01-01 0:00 UTC),
    )
    .unwrap()
}

#[tokio::test]
async fn a_platform_admin_is_stored_with_a_verifiable_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let clock = ManualClock::new(datetime!(2026-01-02 3:04 UTC));
    let email = Email::parse("admin@example.com").unwrap();
    let password = Password::parse("correct horse battery").unwrap();

    let user = create_platform_admin(&store, &clock, email.clone(), &password)
        .await
        .unwrap();

    assert!(user.is_platform_admin);
    assert_eq!(user.created_at, datetime!(2026-01-02 3:04 UTC));
    let mut tx = store.platform(Access::Read).await.unwrap();
    let stored = tx
        .user_by_email(&EmailLookup::of(email.as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, user);
    assert_eq!(
        verify_password(&stored.password_hash, "correct horse battery"),
        Verification::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(tx.count_platform_admins().await.unwrap(), 1);
}

#[tokio::test]
async fn a_second_admin_with_the_same_email_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let clock = ManualClock::new(datetime!(2026-01-02 3:04 UTC));
    let email = Email::parse("admin@example.com").unwrap();
    let password = Password::parse("correct horse battery").unwrap();
    create_platform_admin(&store, &clock, email.clone(), &password)
        .await
        .unwrap();

    let error = create_platform_admin(&store, &clock, email, &password)
        .await
        .unwrap_err();

    assert!(matches!(error, ServiceError::EmailTaken), "{error:?}");
    let mut tx = store.platform(Access::Read).await.unwrap();
    assert_eq!(tx.count_platform_admins().await.unwrap(), 1);
}
