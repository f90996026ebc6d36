//! The isolation table: every operation of a [`TenantTx`], opened for
//! tenant A, aimed at tenant B's rows.
//!
//! For each [`Op`] the suite asserts that A's handle reads nothing of B's,
//! changes nothing of B's, and that whatever it inserts lands in A. After
//! the whole table has run, B's data is compared with a snapshot taken
//! before: one changed or leaked row fails the suite. `Op` is matched
//! exhaustively, so a new operation must take its place here, and
//! [`COVERED_TABLES`] is compared with the database catalog, so a new tenant
//! table must too.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed case"
)]

use bulkhead_domain::{Role, TenantId, UserId};

use super::fixtures::{self, at, hash_of};
use crate::{
    Access, ApiKey, AuditEntry, AuditQuery, Invitation, Membership, Page, Store, Tenant, TenantTx,
};

/// An operation of [`TenantTx`] in the isolation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ReadTenant,
    RenameTenant,
    GetMembership,
    ListMemberships,
    ListMembers,
    CountMembers,
    SetMemberRole,
    SetSharedMemberRole,
    DeleteMembership,
    InsertMembership,
    GetApiKey,
    ListApiKeys,
    RevokeApiKey,
    TouchApiKey,
    InsertApiKeyWithForeignHash,
    GetInvitation,
    ListInvitations,
    AcceptInvitation,
    DeleteInvitation,
    InsertInvitationWithForeignToken,
    ListAudit,
    ReadAuditChain,
    EraseAuditPersonal,
    AppendAudit,
    DeleteTenant,
}

/// The table order matters only for `DeleteTenant`, which must come last.
pub const OPS: [Op; 25] = [
    Op::ReadTenant,
    Op::RenameTenant,
    Op::GetMembership,
    Op::ListMemberships,
    Op::ListMembers,
    Op::CountMembers,
    Op::SetMemberRole,
    Op::SetSharedMemberRole,
    Op::DeleteMembership,
    Op::InsertMembership,
    Op::GetApiKey,
    Op::ListApiKeys,
    Op::RevokeApiKey,
    Op::TouchApiKey,
    Op::InsertApiKeyWithForeignHash,
    Op::GetInvitation,
    Op::ListInvitations,
    Op::AcceptInvitation,
    Op::DeleteInvitation,
    Op::InsertInvitationWithForeignToken,
    Op::ListAudit,
    Op::ReadAuditChain,
    Op::EraseAuditPersonal,
    Op::AppendAudit,
    Op::DeleteTenant,
];

impl Op {
    /// The tenant-owned tables the operation touches.
    pub const fn tables(self) -> &'static [&'static str] {
        match self {
            Op::ReadTenant | Op::RenameTenant => &[],
            Op::GetMembership
            | Op::ListMemberships
            | Op::ListMembers
            | Op::CountMembers
            | Op::SetMemberRole
            | Op::SetSharedMemberRole
            | Op::DeleteMembership
            | Op::InsertMembership => &["memberships"],
            Op::GetApiKey
            | Op::ListApiKeys
            | Op::RevokeApiKey
            | Op::TouchApiKey
            | Op::InsertApiKeyWithForeignHash => &["api_keys"],
            Op::GetInvitation
            | Op::ListInvitations
            | Op::AcceptInvitation
            | Op::DeleteInvitation
            | Op::InsertInvitationWithForeignToken => &["invitations"],
            Op::ListAudit | Op::ReadAuditChain | Op::EraseAuditPersonal | Op::AppendAudit => {
                &["audit_log", "audit_personal"]
            }
            Op::DeleteTenant => &[
                "memberships",
                "api_keys",
                "invitations",
                "audit_log",
                "audit_personal",
            ],
        }
    }
}

/// Every tenant-owned table the isolation table exercises.
pub const COVERED_TABLES: &[&str] = &[
    "memberships",
    "api_keys",
    "invitations",
    "audit_log",
    "audit_personal",
];

/// Everything one tenant owns, as its own handle sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSnapshot {
    pub tenant: Option<Tenant>,
    pub memberships: Vec<Membership>,
    pub api_keys: Vec<ApiKey>,
    pub invitations: Vec<Invitation>,
    pub audit: Vec<AuditEntry>,
}

impl TenantSnapshot {
    pub fn is_empty(&self) -> bool {
        self.tenant.is_none()
            && self.memberships.is_empty()
            && self.api_keys.is_empty()
            && self.invitations.is_empty()
            && self.audit.is_empty()
    }
}

pub async fn snapshot(store: &dyn Store, tenant: TenantId) -> TenantSnapshot {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    TenantSnapshot {
        tenant: tx.tenant().await.unwrap(),
        memberships: tx.list_memberships(Page::first(1000)).await.unwrap(),
        api_keys: tx.list_api_keys(Page::first(1000)).await.unwrap(),
        invitations: tx.list_invitations(Page::first(1000)).await.unwrap(),
        audit: tx.audit_chain(0, 1000).await.unwrap(),
    }
}

/// Tenant B's identifiers, which A's handle aims at.
struct Foreign {
    owner: UserId,
    shared: UserId,
    outsider: UserId,
    api_key: ApiKey,
    invitation: Invitation,
    /// A sequence number that exists in B's audit chain but not in A's.
    audit_seq_only_in_b: i64,
}

async fn seed(store: &dyn Store) -> (TenantId, TenantId, Foreign) {
    let owner_a = fixtures::user(store, "owner-a@example.com").await;
    let owner_b = fixtures::user(store, "owner-b@example.com").await;
    let shared = fixtures::user(store, "shared@example.com").await;
    let outsider = fixtures::user(store, "outsider@example.com").await;
    let a = fixtures::tenant(store, "tenant-a", &owner_a).await;
    let b = fixtures::tenant(store, "tenant-b", &owner_b).await;

    let mut tx = store.tenant(a.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(shared.id, Role::Viewer))
        .await
        .unwrap();
    tx.insert_api_key(fixtures::api_key("a-key", Some(owner_a.id)))
        .await
        .unwrap();
    tx.insert_invitation(fixtures::invitation("a-guest@example.com", 60))
        .await
        .unwrap();
    tx.append_audit(fixtures::audit("a.only", Some(owner_a.id)))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(b.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(shared.id, Role::Member))
        .await
        .unwrap();
    let api_key = tx
        .insert_api_key(fixtures::api_key("b-key", Some(owner_b.id)))
        .await
        .unwrap();
    let invitation = tx
        .insert_invitation(fixtures::invitation("b-guest@example.com", 60))
        .await
        .unwrap();
    let mut last_seq = 0;
    for i in 0..3 {
        last_seq = tx
            .append_audit(fixtures::audit(&format!("b.{i}"), Some(owner_b.id)))
            .await
            .unwrap()
            .seq;
    }
    tx.commit().await.unwrap();

    let foreign = Foreign {
        owner: owner_b.id,
        shared: shared.id,
        outsider: outsider.id,
        api_key,
        invitation,
        audit_seq_only_in_b: last_seq,
    };
    (a.id, b.id, foreign)
}

/// Runs the whole isolation table on a fresh store.
pub async fn run(store: &dyn Store) {
    let (a, b, foreign) = seed(store).await;
    let b_before = snapshot(store, b).await;
    assert!(!b_before.is_empty());

    for op in OPS {
        let mut tx = store.tenant(a, Access::Write).await.unwrap();
        attempt(op, &mut *tx, a, &foreign).await;
        tx.commit().await.unwrap();
        let b_now = snapshot(store, b).await;
        assert_eq!(
            b_now, b_before,
            "{op:?} through tenant A's handle changed tenant B"
        );
    }
    // A is gone (DeleteTenant ran last) and took nothing of B's with it.
    assert!(snapshot(store, a).await.is_empty());
    assert_eq!(snapshot(store, b).await, b_before);
}

async fn attempt(op: Op, tx: &mut dyn TenantTx, a: TenantId, foreign: &Foreign) {
    match op {
        Op::ReadTenant => {
            let tenant = tx.tenant().await.unwrap().unwrap();
            assert_eq!(tenant.id, a);
        }
        Op::RenameTenant => {
            let tenant = tx
                .rename_tenant("Renamed by A", at(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(tenant.id, a);
        }
        Op::GetMembership => {
            assert!(tx.membership(foreign.owner).await.unwrap().is_none());
        }
        Op::ListMemberships => {
            let all = tx.list_memberships(Page::first(1000)).await.unwrap();
            assert!(all.iter().all(|m| m.tenant_id == a), "{all:?}");
            assert!(all.iter().all(|m| m.user_id != foreign.owner));
            let shared = all.iter().find(|m| m.user_id == foreign.shared).unwrap();
            assert_eq!(
                shared.role,
                Role::Viewer,
                "A sees B's role for the shared user"
            );
        }
        Op::ListMembers => {
            let all = tx.list_members(Page::first(1000)).await.unwrap();
            assert!(all.iter().all(|m| m.membership.tenant_id == a), "{all:?}");
            assert!(all.iter().all(|m| m.membership.user_id != foreign.owner));
            assert!(
                all.iter()
                    .all(|m| m.email.as_str() != "owner-b@example.com")
            );
        }
        Op::CountMembers => {
            assert_eq!(tx.count_members_with_role(Role::Owner).await.unwrap(), 1);
            assert_eq!(tx.count_members_with_role(Role::Member).await.unwrap(), 0);
        }
        Op::SetMemberRole => {
            assert!(
                tx.set_member_role(foreign.owner, Role::Viewer, at(1))
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        Op::SetSharedMemberRole => {
            let changed = tx
                .set_member_role(foreign.shared, Role::Admin, at(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(changed.tenant_id, a);
        }
        Op::DeleteMembership => {
            assert!(!tx.delete_membership(foreign.owner).await.unwrap());
        }
        Op::InsertMembership => {
            let inserted = tx
                .insert_membership(fixtures::membership(foreign.outsider, Role::Member))
                .await
                .unwrap();
            assert_eq!(inserted.tenant_id, a);
            let owner_b_in_a = tx
                .insert_membership(fixtures::membership(foreign.owner, Role::Viewer))
                .await
                .unwrap();
            assert_eq!(owner_b_in_a.tenant_id, a);
        }
        Op::GetApiKey => {
            assert!(tx.api_key(foreign.api_key.id).await.unwrap().is_none());
        }
        Op::ListApiKeys => {
            let all = tx.list_api_keys(Page::first(1000)).await.unwrap();
            assert!(!all.is_empty());
            assert!(
                all.iter()
                    .all(|k| k.tenant_id == a && k.id != foreign.api_key.id),
                "{all:?}"
            );
        }
        Op::RevokeApiKey => {
            assert!(!tx.revoke_api_key(foreign.api_key.id, at(1)).await.unwrap());
        }
        Op::TouchApiKey => {
            assert!(!tx.touch_api_key(foreign.api_key.id, at(1)).await.unwrap());
        }
        Op::InsertApiKeyWithForeignHash => {
            let mut key = fixtures::api_key("copy", None);
            key.key_hash = foreign.api_key.key_hash;
            key.id = foreign.api_key.id;
            let inserted = tx.insert_api_key(key).await.unwrap();
            assert_eq!(inserted.tenant_id, a);
        }
        Op::GetInvitation => {
            assert!(
                tx.invitation(foreign.invitation.id)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        Op::ListInvitations => {
            let all = tx.list_invitations(Page::first(1000)).await.unwrap();
            assert!(!all.is_empty());
            assert!(
                all.iter()
                    .all(|i| i.tenant_id == a && i.id != foreign.invitation.id),
                "{all:?}"
            );
        }
        Op::AcceptInvitation => {
            assert!(
                !tx.accept_invitation(foreign.invitation.id, foreign.outsider, at(1))
                    .await
                    .unwrap()
            );
        }
        Op::DeleteInvitation => {
            assert!(!tx.delete_invitation(foreign.invitation.id).await.unwrap());
        }
        Op::InsertInvitationWithForeignToken => {
            let mut invitation = fixtures::invitation("copy@example.com", 60);
            invitation.token_hash = foreign.invitation.token_hash;
            invitation.id = foreign.invitation.id;
            let inserted = tx.insert_invitation(invitation).await.unwrap();
            assert_eq!(inserted.tenant_id, a);
            assert_eq!(inserted.token_hash, hash_of("b-guest@example.com"));
        }
        Op::ListAudit => {
            let all = tx
                .list_audit(AuditQuery {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(all.len(), 1);
            assert!(all.iter().all(|e| e.tenant_id == Some(a)), "{all:?}");
            let by_b_owner = AuditQuery {
                actor_id: Some(*foreign.owner.as_uuid()),
                limit: 100,
                ..Default::default()
            };
            assert!(tx.list_audit(by_b_owner).await.unwrap().is_empty());
        }
        Op::ReadAuditChain => {
            let chain = tx.audit_chain(0, 1000).await.unwrap();
            assert!(chain.iter().all(|e| e.tenant_id == Some(a)), "{chain:?}");
            assert!(tx.audit_chain(1, 1000).await.unwrap().is_empty());
        }
        Op::EraseAuditPersonal => {
            assert!(
                !tx.erase_audit_personal(foreign.audit_seq_only_in_b)
                    .await
                    .unwrap()
            );
        }
        Op::AppendAudit => {
            let entry = tx
                .append_audit(fixtures::audit("a.more", None))
                .await
                .unwrap();
            assert_eq!(
                (entry.tenant_id, entry.seq),
                (Some(a), 2),
                "A's chain continues from A's own last entry"
            );
        }
        Op::DeleteTenant => {
            assert!(tx.delete_tenant().await.unwrap());
        }
    }
}
