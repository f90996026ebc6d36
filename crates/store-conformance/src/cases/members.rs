//! Who may act in a tenant: memberships, API keys and invitations.

use std::sync::Arc;

use bulkhead_domain::Role;

use crate::TestStore;
use crate::fixtures::{self, at, t0};
use bulkhead_store::{
    Access, ConflictKind, InvitationAcceptance, MembershipChange, Page, StoreError,
};

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
        .set_member_role(MembershipChange {
            user_id: members[0],
            role: Role::Admin,
            at: at(1),
        })
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
        tx.set_member_role(MembershipChange {
            user_id: members[1],
            role: Role::Admin,
            at: at(1)
        })
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
        !tx.accept_invitation(InvitationAcceptance {
            invitation: stale.id,
            user: guest.id,
            at: at(10)
        })
        .await
        .unwrap(),
        "accepted at expiry"
    );
    assert!(
        tx.accept_invitation(InvitationAcceptance {
            invitation: invitation.id,
            user: guest.id,
            at: at(5)
        })
        .await
        .unwrap()
    );
    assert!(
        !tx.accept_invitation(InvitationAcceptance {
            invitation: invitation.id,
            user: guest.id,
            at: at(6)
        })
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

    fixtures::exactly_one_wins(16, |_| {
        let store = Arc::clone(&store);
        async move {
            let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
            let accepted = tx
                .accept_invitation(InvitationAcceptance {
                    invitation: invitation.id,
                    user: guest.id,
                    at: at(1),
                })
                .await
                .unwrap();
            tx.commit().await.unwrap();
            accepted
        }
    })
    .await;
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
