//! Tenants, users, sessions and signing keys: the platform's identities.

use std::sync::Arc;

use bulkhead_domain::{EmailLookup, SessionId, TenantSlug};

use crate::TestStore;
use crate::fixtures::{self, at, hash_of, t0};
use bulkhead_store::{Access, ConflictKind, NewSession, SigningKey, StoreError, TokenRotation};

pub async fn tenants_are_created_read_renamed_and_deleted(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    assert_eq!(tenant.slug.as_str(), "acme");
    assert_eq!(tenant.created_at, t0());
    assert_eq!(tenant.suspended_at, None);

    let mut platform = store.platform(Access::Read).await.unwrap();
    assert_eq!(
        platform.tenant_by_id(tenant.id).await.unwrap(),
        Some(tenant.clone())
    );
    let slug = TenantSlug::parse("acme").unwrap();
    assert_eq!(
        platform.tenant_by_slug(&slug).await.unwrap(),
        Some(tenant.clone())
    );
    drop(platform);

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let renamed = tx.rename_tenant("Acme Corp", at(1)).await.unwrap().unwrap();
    assert_eq!(renamed.name, "Acme Corp");
    assert_eq!(renamed.updated_at, at(1));
    tx.commit().await.unwrap();

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    assert!(tx.delete_tenant().await.unwrap());
    assert!(tx.tenant().await.unwrap().is_none());
    assert!(!tx.delete_tenant().await.unwrap());
    tx.commit().await.unwrap();
    let mut platform = store.platform(Access::Read).await.unwrap();
    assert!(platform.tenant_by_id(tenant.id).await.unwrap().is_none());
}

pub async fn tenant_slugs_are_unique_across_the_platform(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    fixtures::tenant(store, "acme", &owner).await;
    let error = match store.create_tenant(fixtures::new_tenant("acme")).await {
        Ok(_) => panic!("a second tenant got the slug acme"),
        Err(error) => error,
    };
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::TenantSlug)),
        "{error:?}"
    );
}

pub async fn users_are_unique_by_normalised_email(ts: &TestStore) {
    let store = &*ts.store;
    let user = fixtures::user(store, "Ada@Example.com").await;
    assert_eq!(user.email.as_str(), "Ada@example.com");

    // Another spelling with the same key: the case of the local part, the
    // fullwidth form, the domain's case.
    for lookalike in [
        "Ada@EXAMPLE.COM",
        "ada@example.com",
        "\u{ff41}da@example.com",
    ] {
        let mut tx = store.platform(Access::Write).await.unwrap();
        let error = tx
            .insert_user(fixtures::bare_user(lookalike))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict(ConflictKind::UserEmail)),
            "{lookalike}: {error:?}"
        );
        drop(tx);
    }

    let mut tx = store.platform(Access::Read).await.unwrap();
    for spelling in ["Ada@example.COM", "ada@example.com", "ADA@example.com"] {
        let found = tx.user_by_email(&EmailLookup::of(spelling)).await.unwrap();
        assert_eq!(found, Some(user.clone()), "{spelling}");
    }
    assert_eq!(tx.user(user.id).await.unwrap(), Some(user));
    assert!(
        tx.user_by_email(&EmailLookup::of("bob@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(tx.email_key_collisions().await.unwrap().is_empty());
}

pub async fn users_can_change_password_and_be_deactivated(ts: &TestStore) {
    let store = &*ts.store;
    let user = fixtures::user(store, "ada@example.com").await;
    let mut tx = store.platform(Access::Write).await.unwrap();
    assert!(
        tx.set_password_hash(user.id, "$argon2id$new", at(1))
            .await
            .unwrap()
    );
    assert!(
        tx.set_user_deactivated(user.id, Some(at(2)), at(2))
            .await
            .unwrap()
    );
    assert_eq!(tx.count_platform_admins().await.unwrap(), 0);
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Read).await.unwrap();
    let user = tx.user(user.id).await.unwrap().unwrap();
    assert_eq!(user.password_hash, "$argon2id$new");
    assert_eq!(user.deactivated_at, Some(at(2)));
    assert_eq!(user.updated_at, at(2));
}

fn new_session(user: bulkhead_domain::UserId, token: &str) -> NewSession {
    NewSession {
        id: SessionId::new(),
        user_id: user,
        refresh_token_hash: hash_of(token),
        expires_at: at(12 * 60),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
        at: t0(),
    }
}

/// The rotation of the session's token `current` to `next` (tokens by name,
/// as [`new_session`] takes them).
fn rotation(
    session: SessionId,
    current: &str,
    next: &str,
    at: time::OffsetDateTime,
) -> TokenRotation {
    TokenRotation {
        session,
        current: hash_of(current),
        next: hash_of(next),
        at,
    }
}

pub async fn sessions_rotate_their_token_atomically_and_revoke(ts: &TestStore) {
    let store = &*ts.store;
    let user = fixtures::user(store, "ada@example.com").await;
    let mut tx = store.platform(Access::Write).await.unwrap();
    let session = tx.insert_session(new_session(user.id, "r1")).await.unwrap();
    let other = tx
        .insert_session(new_session(user.id, "other"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Write).await.unwrap();
    let error = tx
        .insert_session(new_session(user.id, "r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::SessionToken)),
        "{error:?}"
    );
    drop(tx);

    let mut tx = store.platform(Access::Write).await.unwrap();
    let first = tx.refresh_token(&hash_of("r1")).await.unwrap().unwrap();
    assert_eq!((first.session_id, first.rotated_at), (session.id, None));
    assert!(
        tx.rotate_refresh_token(rotation(session.id, "r1", "r2", at(1)))
            .await
            .unwrap()
    );
    assert!(
        !tx.rotate_refresh_token(rotation(session.id, "r1", "r3", at(2)))
            .await
            .unwrap(),
        "a rotated token rotated again"
    );
    // Another session's current token cannot rotate this one.
    assert!(
        !tx.rotate_refresh_token(rotation(session.id, "other", "r3", at(2)))
            .await
            .unwrap()
    );
    let rotated = tx.refresh_token(&hash_of("r1")).await.unwrap().unwrap();
    assert_eq!(
        rotated.rotated_at,
        Some(at(1)),
        "the old token is remembered as rotated"
    );
    let current = tx.refresh_token(&hash_of("r2")).await.unwrap().unwrap();
    assert_eq!((current.session_id, current.rotated_at), (session.id, None));
    assert!(tx.refresh_token(&hash_of("r3")).await.unwrap().is_none());
    assert_eq!(
        tx.session(session.id).await.unwrap().unwrap().last_used_at,
        at(1)
    );
    assert_eq!(tx.sessions_of_user(user.id).await.unwrap().len(), 2);
    assert!(tx.revoke_session(session.id, at(3)).await.unwrap());
    assert!(!tx.revoke_session(session.id, at(4)).await.unwrap());
    // A revoked session's token can no longer rotate.
    assert!(
        !tx.rotate_refresh_token(rotation(session.id, "r2", "r4", at(5)))
            .await
            .unwrap()
    );
    assert_eq!(tx.revoke_sessions_of_user(user.id, at(6)).await.unwrap(), 1);
    assert_eq!(
        tx.session(other.id).await.unwrap().unwrap().revoked_at,
        Some(at(6))
    );
    tx.commit().await.unwrap();
}

pub async fn a_refresh_token_rotates_exactly_once_under_concurrency(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let user = fixtures::user(&*store, "ada@example.com").await;
    let mut tx = store.platform(Access::Write).await.unwrap();
    let session = tx.insert_session(new_session(user.id, "r1")).await.unwrap();
    tx.commit().await.unwrap();

    fixtures::exactly_one_wins(16, |i| {
        let store = Arc::clone(&store);
        async move {
            let mut tx = store.platform(Access::Write).await.unwrap();
            let next = format!("successor-{i}");
            let rotated = tx
                .rotate_refresh_token(rotation(session.id, "r1", &next, at(1)))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            rotated
        }
    })
    .await;
}

pub async fn signing_keys_are_kept_newest_first_and_retired(ts: &TestStore) {
    let store = &*ts.store;
    let mut tx = store.platform(Access::Write).await.unwrap();
    for (i, kid) in ["k1", "k2", "k3"].into_iter().enumerate() {
        let key = SigningKey {
            kid: kid.into(),
            secret: vec![i as u8; 32],
            created_at: at(i as i64),
            retired_at: None,
        };
        tx.insert_signing_key(key).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Write).await.unwrap();
    let duplicate = SigningKey {
        kid: "k1".into(),
        secret: vec![9; 32],
        created_at: at(9),
        retired_at: None,
    };
    let error = tx.insert_signing_key(duplicate).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::SigningKey)),
        "{error:?}"
    );
    drop(tx);
    let mut tx = store.platform(Access::Write).await.unwrap();
    assert_eq!(tx.retire_signing_keys("k3", at(10)).await.unwrap(), 2);
    let keys = tx.signing_keys().await.unwrap();
    let summary: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.retired_at))
        .collect();
    assert_eq!(
        summary,
        vec![("k3", None), ("k2", Some(at(10))), ("k1", Some(at(10)))]
    );
    assert_eq!(keys[2].secret, vec![0; 32]);
}
