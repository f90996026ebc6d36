//! Tests for signing-key bootstrap and rotation, on a real SQLite store with
//! a manual clock.

use bulkhead_domain::ManualClock;
use bulkhead_store_sqlite::SqliteStore;
use time::macros::datetime;

use super::*;

struct Fixture {
    store: SqliteStore,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let start = datetime!(2026-01-01 0:00 UTC);
    let store = SqliteStore::open(
        &dir.path().join(bulkhead_store_sqlite::DATABASE_FILE),
        start,
    )
    .unwrap();
    Fixture {
        store,
        clock: ManualClock::new(start),
        _dir: dir,
    }
}

async fn stored_keys(store: &SqliteStore) -> Vec<SigningKey> {
    let mut tx = store.platform(Access::Read).await.unwrap();
    tx.signing_keys().await.unwrap()
}

fn kids(keys: &[SigningKey]) -> Vec<&str> {
    keys.iter().map(|key| key.kid.as_str()).collect()
}

#[tokio::test]
async fn the_first_call_creates_exactly_one_key() {
    let f = fixture();
    let ring = ensure_signing_key(&f.store, &f.clock).await.unwrap();
    let keys = stored_keys(&f.store).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0], ring.active);
    assert_eq!(ring.verifying, vec![ring.active.clone()]);
    assert_eq!(ring.active.kid.len(), 16);
    assert!(ring.active.kid.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(ring.active.secret.len(), 32);
    assert_eq!(ring.active.retired_at, None);
}

#[tokio::test]
async fn a_second_call_returns_the_same_key() {
    let f = fixture();
    let first = ensure_signing_key(&f.store, &f.clock).await.unwrap();
    f.clock.advance(Duration::days(3));
    let second = ensure_signing_key(&f.store, &f.clock).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(stored_keys(&f.store).await.len(), 1);
}

#[tokio::test]
async fn a_rotated_key_keeps_verifying_until_its_tokens_have_expired() {
    let f = fixture();
    let old = ensure_signing_key(&f.store, &f.clock).await.unwrap().active;
    f.clock.advance(Duration::hours(1));

    let ring = rotate_signing_key(&f.store, &f.clock).await.unwrap();
    assert_ne!(ring.active.kid, old.kid);
    assert_eq!(
        kids(&ring.verifying),
        [ring.active.kid.as_str(), old.kid.as_str()]
    );
    assert!(ring.verifying_key(&old.kid).is_some());

    // Another process starting later sees the same ring.
    f.clock
        .advance(ACCESS_TOKEN_TTL + LEEWAY - Duration::seconds(1));
    let later = ensure_signing_key(&f.store, &f.clock).await.unwrap();
    assert_eq!(later.active, ring.active);
    assert_eq!(
        kids(&later.verifying),
        [ring.active.kid.as_str(), old.kid.as_str()]
    );

    // 15 min 30 s after retirement the old key drops out.
    f.clock.advance(Duration::seconds(1));
    let expired = ensure_signing_key(&f.store, &f.clock).await.unwrap();
    assert_eq!(expired.active, ring.active);
    assert_eq!(kids(&expired.verifying), [ring.active.kid.as_str()]);
    assert!(expired.verifying_key(&old.kid).is_none());
    assert_eq!(stored_keys(&f.store).await.len(), 2);
}

#[tokio::test]
async fn rotation_retires_every_other_key() {
    let f = fixture();
    ensure_signing_key(&f.store, &f.clock).await.unwrap();
    rotate_signing_key(&f.store, &f.clock).await.unwrap();
    let ring = rotate_signing_key(&f.store, &f.clock).await.unwrap();
    let keys = stored_keys(&f.store).await;
    assert_eq!(keys.len(), 3);
    let active: Vec<_> = keys.iter().filter(|key| key.retired_at.is_none()).collect();
    assert_eq!(active, [&ring.active]);
    assert_eq!(ring.verifying.len(), 3);
    assert_eq!(ring.verifying[0], ring.active);
}

#[test]
fn a_file_secret_gets_a_kid_derived_from_it() {
    let at = datetime!(2026-01-01 0:00 UTC);
    let secret = [42u8; 32];
    let ring = KeyRing::from_file_secret(&secret, at).unwrap();
    let again = KeyRing::from_file_secret(&secret, at + Duration::hours(1)).unwrap();
    let expected = &hex::encode(Sha256::digest(secret))[..16];
    assert_eq!(ring.active.kid, expected);
    assert_eq!(again.active.kid, ring.active.kid);
    assert_eq!(ring.active.secret, secret);
    assert_eq!(ring.verifying, vec![ring.active.clone()]);
    let other = KeyRing::from_file_secret(&[43u8; 32], at).unwrap();
    assert_ne!(other.active.kid, ring.active.kid);
}

#[test]
fn a_file_secret_shorter_than_32_bytes_is_refused() {
    let at = datetime!(2026-01-01 0:00 UTC);
    let error = KeyRing::from_file_secret(&[1u8; 31], at).unwrap_err();
    assert!(matches!(error, ServiceError::InvalidKey(_)), "{error:?}");
    assert!(error.to_string().contains("31 bytes"), "{error}");
}

#[test]
fn a_key_ring_never_prints_a_secret() {
    let ring = KeyRing::from_file_secret(
        b"a very secret secret of 32 bytes",
        datetime!(2026-01-01 0:00 UTC),
    )
    .unwrap();
    assert!(!format!("{ring:?}").contains("very secret"));
}
