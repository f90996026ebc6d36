//! The conformance cases. Each takes a fresh, empty store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed case"
)]

use std::sync::Arc;

use bulkhead_domain::{Email, EmailLookup, Role, SessionId, TenantSlug};
use tokio::sync::Barrier;

use crate::TestStore;
use crate::fixtures::{self, at, hash_of, t0};
use bulkhead_store::audit::{ChainBreak, verify};
use bulkhead_store::{
    Access, AuditQuery, ConflictKind, NewSession, NewUser, Page, SigningKey, StoreError,
    TenantTable,
};

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
            .insert_user(NewUser {
                id: bulkhead_domain::UserId::new(),
                email: Email::parse(lookalike).unwrap(),
                display_name: None,
                password_hash: "x".into(),
                is_platform_admin: false,
                at: t0(),
            })
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

pub async fn memberships_are_created_listed_changed_and_removed(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut members = vec![owner.id];
    for i in 0..5 {
        members.push(fixtures::user(store, &format!("m{i}@example.com")).await.id);
    }
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    for user in &members[1..] {
        tx.insert_membership(fixtures::membership(*user, Role::Member))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let error = tx
        .insert_membership(fixtures::membership(members[1], Role::Viewer))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::Membership)),
        "{error:?}"
    );
    drop(tx);

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    // Pages of two, in id order, cover everyone exactly once.
    members.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = tx.list_memberships(Page { after, limit: 2 }).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|m| m.user_id);
        seen.extend(page.into_iter().map(|m| m.user_id));
    }
    assert_eq!(seen, members);
    assert_eq!(tx.count_members_with_role(Role::Member).await.unwrap(), 5);
    assert_eq!(tx.count_members_with_role(Role::Owner).await.unwrap(), 1);

    let changed = tx
        .set_member_role(members[0], Role::Admin, at(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.role, changed.updated_at, changed.created_at),
        (Role::Admin, at(1), t0())
    );
    assert!(tx.delete_membership(members[1]).await.unwrap());
    assert!(!tx.delete_membership(members[1]).await.unwrap());
    assert!(tx.membership(members[1]).await.unwrap().is_none());
    assert!(
        tx.set_member_role(members[1], Role::Admin, at(1))
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
}

pub async fn a_membership_needs_an_existing_user(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let error = tx
        .insert_membership(fixtures::membership(
            bulkhead_domain::UserId::new(),
            Role::Member,
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::MissingReference), "{error:?}");
}

pub async fn memberships_of_user_lists_that_users_tenants_only(ts: &TestStore) {
    let store = &*ts.store;
    let ada = fixtures::user(store, "ada@example.com").await;
    let bob = fixtures::user(store, "bob@example.com").await;
    let acme = fixtures::tenant(store, "acme", &ada).await;
    let _globex = fixtures::tenant(store, "globex", &bob).await;
    let initech = fixtures::tenant(store, "initech", &bob).await;
    let mut tx = store.tenant(initech.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(ada.id, Role::Viewer))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let memberships = store.memberships_of_user(ada.id).await.unwrap();
    let mut found: Vec<_> = memberships
        .iter()
        .map(|m| (m.tenant.slug.as_str(), m.role))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![("acme", Role::Owner), ("initech", Role::Viewer)]
    );
    assert!(memberships.iter().any(|m| m.tenant == acme));
    assert!(
        store
            .memberships_of_user(bulkhead_domain::UserId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn api_keys_are_created_listed_touched_and_revoked(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let mut new_key = fixtures::api_key("deploy", Some(owner.id));
    new_key.expires_at = Some(at(60));
    let key = tx.insert_api_key(new_key).await.unwrap();
    assert_eq!(key.tenant_id, tenant.id);
    assert_eq!(
        (key.expires_at, key.revoked_at, key.last_used_at),
        (Some(at(60)), None, None)
    );
    let second = tx
        .insert_api_key(fixtures::api_key("ci", None))
        .await
        .unwrap();

    assert_eq!(tx.api_key(key.id).await.unwrap(), Some(key.clone()));
    let listed = tx.list_api_keys(Page::first(10)).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![key.id, second.id]
    );
    assert_eq!(
        tx.list_api_keys(Page {
            after: Some(key.id),
            limit: 10
        })
        .await
        .unwrap()
        .len(),
        1
    );

    assert!(tx.touch_api_key(key.id, at(5)).await.unwrap());
    // A late, out-of-order touch never moves last_used_at backwards.
    assert!(tx.touch_api_key(key.id, at(3)).await.unwrap());
    assert_eq!(
        tx.api_key(key.id).await.unwrap().unwrap().last_used_at,
        Some(at(5))
    );
    assert!(tx.revoke_api_key(key.id, at(6)).await.unwrap());
    assert!(!tx.revoke_api_key(key.id, at(7)).await.unwrap());
    assert_eq!(
        tx.api_key(key.id).await.unwrap().unwrap().revoked_at,
        Some(at(6))
    );
    tx.commit().await.unwrap();
}

pub async fn api_key_hashes_are_unique_within_a_tenant_only(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    tx.insert_api_key(fixtures::api_key("same", None))
        .await
        .unwrap();
    let error = tx
        .insert_api_key(fixtures::api_key("same", None))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::ApiKey)),
        "{error:?}"
    );
    drop(tx);
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    tx.insert_api_key(fixtures::api_key("same", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The same hash in another tenant is neither an error nor visible.
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    tx.insert_api_key(fixtures::api_key("same", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub async fn invitations_are_accepted_once_and_not_after_expiry(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let guest = fixtures::user(store, "guest@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let invitation = tx
        .insert_invitation(fixtures::invitation("guest@example.com", 60))
        .await
        .unwrap();
    let stale = tx
        .insert_invitation(fixtures::invitation("late@example.com", 10))
        .await
        .unwrap();
    assert_eq!(tx.list_invitations(Page::first(10)).await.unwrap().len(), 2);

    assert!(
        !tx.accept_invitation(stale.id, guest.id, at(10))
            .await
            .unwrap(),
        "accepted at expiry"
    );
    assert!(
        tx.accept_invitation(invitation.id, guest.id, at(5))
            .await
            .unwrap()
    );
    assert!(
        !tx.accept_invitation(invitation.id, guest.id, at(6))
            .await
            .unwrap(),
        "accepted twice"
    );
    let accepted = tx.invitation(invitation.id).await.unwrap().unwrap();
    assert_eq!(
        (accepted.accepted_at, accepted.accepted_by),
        (Some(at(5)), Some(guest.id))
    );
    assert!(tx.delete_invitation(stale.id).await.unwrap());
    assert!(tx.invitation(stale.id).await.unwrap().is_none());
    tx.commit().await.unwrap();
}

pub async fn an_invitation_is_accepted_exactly_once_under_concurrency(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let guest = fixtures::user(&*store, "guest@example.com").await;
    let tenant = fixtures::tenant(&*store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let invitation = tx
        .insert_invitation(fixtures::invitation("guest@example.com", 60))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let n_tasks = 16;
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut tasks = Vec::new();
    for _ in 0..n_tasks {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
            let won = tx
                .accept_invitation(invitation.id, guest.id, at(1))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            won
        }));
    }
    let mut n_won = 0;
    for task in tasks {
        n_won += usize::from(task.await.unwrap());
    }
    assert_eq!(n_won, 1);
}

pub async fn audit_entries_form_a_verifiable_chain(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    for i in 0..5 {
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        let entry = tx
            .append_audit(fixtures::audit(&format!("action.{i}"), Some(owner.id)))
            .await
            .unwrap();
        assert_eq!(entry.seq, i + 1);
        tx.commit().await.unwrap();
    }
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let first = tx.audit_chain(0, 3).await.unwrap();
    let rest = tx.audit_chain(3, 100).await.unwrap();
    assert_eq!((first.len(), rest.len()), (3, 2));
    // What was stored reads back exactly, and the chain verifies in pieces.
    let last = verify(None, &first).unwrap();
    let last = verify(last, &rest).unwrap().unwrap();
    assert_eq!(last.0, 5);
    assert_eq!(
        first[0].details,
        serde_json::json!({"a": [true, null, "x"], "b": 1})
    );
    assert_eq!(first[0].at, t0());

    // Any change to a stored entry is detected.
    let mut tampered = first.clone();
    tampered[1].action = "something.else".into();
    assert_eq!(verify(None, &tampered), Err(ChainBreak::Content { seq: 2 }));
    assert_eq!(
        verify(None, &first[1..]),
        Err(ChainBreak::Gap {
            expected_seq: 1,
            found_seq: 2
        })
    );
}

pub async fn audit_personal_data_can_be_erased_without_breaking_the_chain(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    for i in 0..3 {
        tx.append_audit(fixtures::audit(&format!("a.{i}"), None))
            .await
            .unwrap();
    }
    assert!(tx.erase_audit_personal(2).await.unwrap());
    assert!(!tx.erase_audit_personal(2).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let chain = tx.audit_chain(0, 10).await.unwrap();
    assert!(chain[0].personal.is_some());
    assert!(chain[1].personal.is_none());
    assert_eq!(
        chain[0].personal.as_ref().unwrap().ip.as_deref(),
        Some("192.0.2.7")
    );
    assert!(verify(None, &chain).is_ok());
}

pub async fn audit_lists_filter_and_page(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let other = fixtures::user(store, "other@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    for i in 0..6_i64 {
        let actor = if i % 2 == 0 { owner.id } else { other.id };
        let mut draft = fixtures::audit(
            if i < 3 { "member.add" } else { "tenant.rename" },
            Some(actor),
        );
        draft.at = at(i);
        tx.append_audit(draft).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let seqs = |entries: Vec<bulkhead_store::AuditEntry>| {
        entries.into_iter().map(|e| e.seq).collect::<Vec<_>>()
    };
    let all = AuditQuery {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        seqs(tx.list_audit(all.clone()).await.unwrap()),
        vec![6, 5, 4, 3, 2, 1]
    );
    let page = AuditQuery {
        before_seq: Some(5),
        limit: 2,
        ..all.clone()
    };
    assert_eq!(seqs(tx.list_audit(page).await.unwrap()), vec![4, 3]);
    let by_action = AuditQuery {
        action: Some("member.add".into()),
        ..all.clone()
    };
    assert_eq!(seqs(tx.list_audit(by_action).await.unwrap()), vec![3, 2, 1]);
    let by_actor = AuditQuery {
        actor_id: Some(*other.id.as_uuid()),
        ..all.clone()
    };
    assert_eq!(seqs(tx.list_audit(by_actor).await.unwrap()), vec![6, 4, 2]);
    let window = AuditQuery {
        since: Some(at(1)),
        until: Some(at(3)),
        ..all.clone()
    };
    assert_eq!(seqs(tx.list_audit(window).await.unwrap()), vec![3, 2]);
    // A filter value is data, never SQL.
    let hostile = AuditQuery {
        action: Some("x' OR '1'='1".into()),
        ..all
    };
    assert!(tx.list_audit(hostile).await.unwrap().is_empty());
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
        tx.rotate_refresh_token(session.id, &hash_of("r1"), &hash_of("r2"), at(1))
            .await
            .unwrap()
    );
    assert!(
        !tx.rotate_refresh_token(session.id, &hash_of("r1"), &hash_of("r3"), at(2))
            .await
            .unwrap(),
        "a rotated token rotated again"
    );
    // Another session's current token cannot rotate this one.
    assert!(
        !tx.rotate_refresh_token(session.id, &hash_of("other"), &hash_of("r3"), at(2))
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
        !tx.rotate_refresh_token(session.id, &hash_of("r2"), &hash_of("r4"), at(5))
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

    let n_tasks = 16;
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut tasks = Vec::new();
    for i in 0..n_tasks {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.platform(Access::Write).await.unwrap();
            let next = hash_of(&format!("successor-{i}"));
            let won = tx
                .rotate_refresh_token(session.id, &hash_of("r1"), &next, at(1))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            won
        }));
    }
    let mut n_won = 0;
    for task in tasks {
        n_won += usize::from(task.await.unwrap());
    }
    assert_eq!(n_won, 1);
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

pub async fn dropping_a_transaction_rolls_it_back(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    {
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        tx.insert_api_key(fixtures::api_key("lost", None))
            .await
            .unwrap();
        tx.append_audit(fixtures::audit("lost", None))
            .await
            .unwrap();
    }
    {
        let tx = store
            .create_tenant(fixtures::new_tenant("ghost"))
            .await
            .unwrap();
        drop(tx);
    }
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(tx.list_api_keys(Page::first(10)).await.unwrap().is_empty());
    assert!(tx.audit_chain(0, 10).await.unwrap().is_empty());
    let mut platform = store.platform(Access::Read).await.unwrap();
    let ghost = TenantSlug::parse("ghost").unwrap();
    assert!(platform.tenant_by_slug(&ghost).await.unwrap().is_none());
}

pub async fn a_failed_statement_aborts_the_whole_transaction(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_api_key(fixtures::api_key("before", None))
        .await
        .unwrap();
    let error = tx
        .insert_membership(fixtures::membership(owner.id, Role::Viewer))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::Membership)),
        "{error:?}"
    );
    // PostgreSQL aborts the transaction here; the contract says so for
    // every backend, so a service cannot commit half of its work.
    let error = tx.commit().await.unwrap_err();
    assert!(matches!(error, StoreError::TransactionAborted), "{error:?}");
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(tx.list_api_keys(Page::first(10)).await.unwrap().is_empty());
}

pub async fn read_transactions_cannot_write(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(
        tx.insert_api_key(fixtures::api_key("nope", None))
            .await
            .is_err()
    );
    drop(tx);
    let mut tx = store.platform(Access::Read).await.unwrap();
    assert!(tx.set_password_hash(owner.id, "x", at(1)).await.is_err());
}

pub async fn tenant_admins_list_and_search_tenants_and_suspend_them(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let mut ids = Vec::new();
    for slug in ["acme", "globex", "initech", "acme-eu"] {
        ids.push(fixtures::tenant(store, slug, &owner).await.id);
    }
    let mut tx = store.platform(Access::Write).await.unwrap();
    let all = tx.list_tenants(None, Page::first(100)).await.unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), ids);
    let page = tx
        .list_tenants(
            None,
            Page {
                after: Some(ids[1]),
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page[0].id, ids[2]);
    let found = tx
        .list_tenants(Some("ACME"), Page::first(100))
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(
        tx.list_tenants(Some("%"), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.set_tenant_suspended(ids[0], Some(at(1)), at(1))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.tenant_by_id(ids[0]).await.unwrap().unwrap().suspended_at,
        Some(at(1))
    );
    assert!(tx.set_tenant_suspended(ids[0], None, at(2)).await.unwrap());
    assert_eq!(
        tx.tenant_by_id(ids[0]).await.unwrap().unwrap().suspended_at,
        None
    );
}

pub async fn deleting_a_tenant_removes_all_its_data_and_nothing_else(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let doomed = fixtures::tenant(store, "doomed", &owner).await;
    let kept = fixtures::tenant(store, "kept", &owner).await;
    for tenant in [&doomed, &kept] {
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        tx.insert_api_key(fixtures::api_key("key", None))
            .await
            .unwrap();
        tx.insert_invitation(fixtures::invitation("x@example.com", 60))
            .await
            .unwrap();
        tx.append_audit(fixtures::audit("something", None))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let kept_before = crate::isolation::snapshot(store, kept.id).await;
    let mut tx = store.tenant(doomed.id, Access::Write).await.unwrap();
    assert!(tx.delete_tenant().await.unwrap());
    tx.commit().await.unwrap();

    let after = crate::isolation::snapshot(store, doomed.id).await;
    assert!(after.is_empty(), "left behind: {after:?}");
    assert_eq!(
        crate::isolation::snapshot(store, kept.id).await,
        kept_before
    );
    let memberships = store.memberships_of_user(owner.id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].tenant.id, kept.id);
}

pub async fn a_tenant_handle_never_reaches_another_tenants_rows(ts: &TestStore) {
    crate::isolation::run(&*ts.store).await;
}

pub async fn the_isolation_table_covers_every_tenant_table(ts: &TestStore) {
    let mut from_catalog = ts.tenant_tables.clone();
    from_catalog.sort();
    let mut registry: Vec<String> = TenantTable::names().map(str::to_owned).collect();
    registry.sort();
    assert_eq!(
        from_catalog, registry,
        "every table with a tenant_id column must be in the registry of tenant tables"
    );
    // DeleteTenant names every table; the other operations must reach each
    // one between them.
    let mut covered: Vec<String> = crate::isolation::OPS
        .into_iter()
        .filter(|op| *op != crate::isolation::Op::DeleteTenant)
        .flat_map(|op| op.tables().iter().map(|table| table.name().to_owned()))
        .collect();
    covered.sort();
    covered.dedup();
    assert_eq!(
        covered, registry,
        "every tenant table must be covered by the isolation table"
    );
}

pub async fn members_are_listed_with_their_profiles(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let guest = fixtures::user(store, "guest@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(guest.id, Role::Viewer))
        .await
        .unwrap();
    let members = tx.list_members(Page::first(10)).await.unwrap();
    let mut found: Vec<_> = members
        .iter()
        .map(|m| {
            (
                m.email.as_str(),
                m.display_name.as_deref(),
                m.membership.role,
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "guest@example.com",
                Some("User guest@example.com"),
                Role::Viewer
            ),
            (
                "owner@example.com",
                Some("User owner@example.com"),
                Role::Owner
            ),
        ]
    );
    let first = tx.list_members(Page::first(1)).await.unwrap();
    let rest = tx
        .list_members(Page {
            after: Some(first[0].membership.user_id),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 2);
}

pub async fn the_platform_audit_log_is_its_own_verifiable_chain(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.append_audit(fixtures::audit("tenant.only", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Write).await.unwrap();
    for i in 0..3 {
        let entry = tx
            .append_platform_audit(fixtures::audit(&format!("login.{i}"), Some(owner.id)))
            .await
            .unwrap();
        assert_eq!((entry.seq, entry.tenant_id), (i + 1, None));
    }
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Read).await.unwrap();
    let chain = tx.platform_audit_chain(0, 100).await.unwrap();
    assert_eq!(
        chain.len(),
        3,
        "the tenant's entry is not in the platform log"
    );
    assert!(verify(None, &chain).is_ok());
    let query = AuditQuery {
        action: Some("login.1".into()),
        limit: 10,
        ..Default::default()
    };
    let found = tx.list_platform_audit(query).await.unwrap();
    assert_eq!(found.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2]);
    let mut tampered = chain.clone();
    tampered[0].tenant_id = Some(tenant.id);
    assert_eq!(verify(None, &tampered), Err(ChainBreak::Content { seq: 1 }));
}

pub async fn invalidations_reach_listeners_when_their_transaction_commits(ts: &TestStore) {
    use std::sync::Mutex;

    use bulkhead_store::{Invalidation, Notice};

    let store = &*ts.store;
    let seen: Arc<Mutex<Vec<Invalidation>>> = Arc::default();
    let sink = Arc::clone(&seen);
    store.on_notice(Arc::new(move |notice| {
        if let Notice::Invalidated(invalidation) = notice {
            sink.lock().unwrap().push(invalidation);
        }
    }));
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;

    let committed = Invalidation::Membership(tenant.id, owner.id);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.invalidate(committed);
    assert!(
        !seen.lock().unwrap().contains(&committed),
        "delivered before commit"
    );
    tx.commit().await.unwrap();
    assert!(
        seen.lock().unwrap().contains(&committed),
        "not delivered by the time commit returned"
    );

    let rolled_back = Invalidation::Tenant(tenant.id);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.invalidate(rolled_back);
    drop(tx);
    let session = Invalidation::User(owner.id);
    let mut tx = store.platform(Access::Write).await.unwrap();
    tx.invalidate(session);
    tx.commit().await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.contains(&session));
    assert!(
        !seen.contains(&rolled_back),
        "a rolled-back transaction's invalidation was delivered"
    );
}
