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

use bulkhead_domain::collection::FieldType;
use bulkhead_domain::filter::{FieldRef, SystemField, TypedExpr, TypedValue};
use bulkhead_domain::{RecordId, Role, TenantId, UserId};
use serde_json::json;

use super::fixtures::{self, at, hash_of};
use crate::{
    Access, ApiKey, AuditEntry, AuditQuery, Collection, EventKind, IdempotencyClaim, Invitation,
    Membership, Page, Record, RecordChange, RecordEvent, RecordQuery, Store, Tenant, TenantTx,
    Write,
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
    GetCollection,
    ListCollections,
    UpdateCollection,
    /// Inserts a collection named like one only B has.
    InsertCollectionWithForeignName,
    EnsureRecordIndex,
    GetRecord,
    ListRecords,
    UniqueValueHolder,
    /// Inserts a record with B's record id and B's unique value.
    InsertRecord,
    UpdateRecord,
    DeleteRecord,
    ClaimIdempotencyKey,
    CompleteIdempotencyKey,
    AppendRecordChange,
    RecordEventsAfter,
    RecordEventPosition,
    /// Removes a data field from A's records of the shared collection.
    RemoveRecordField,
    DeleteCollection,
    DeleteTenant,
}

/// The table order matters for `InsertCollectionWithForeignName` (before
/// the record operations, which then find an empty collection of that
/// name in A), `InsertRecord` (after `GetRecord`, since it gives A a record
/// with B's id), `DeleteCollection` (after every record operation) and
/// `DeleteTenant`, which must come last.
pub const OPS: [Op; 43] = [
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
    Op::GetCollection,
    Op::ListCollections,
    Op::UpdateCollection,
    Op::InsertCollectionWithForeignName,
    Op::EnsureRecordIndex,
    Op::GetRecord,
    Op::ListRecords,
    Op::UniqueValueHolder,
    Op::InsertRecord,
    Op::UpdateRecord,
    Op::DeleteRecord,
    Op::ClaimIdempotencyKey,
    Op::CompleteIdempotencyKey,
    Op::AppendRecordChange,
    Op::RecordEventsAfter,
    Op::RecordEventPosition,
    Op::RemoveRecordField,
    Op::DeleteCollection,
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
            Op::GetCollection
            | Op::ListCollections
            | Op::UpdateCollection
            | Op::InsertCollectionWithForeignName => &["collections"],
            Op::EnsureRecordIndex | Op::GetRecord | Op::ListRecords => &["records"],
            Op::UniqueValueHolder => &["record_unique_values"],
            Op::InsertRecord | Op::UpdateRecord | Op::DeleteRecord => {
                &["records", "record_unique_values"]
            }
            Op::ClaimIdempotencyKey | Op::CompleteIdempotencyKey => &["idempotency_keys"],
            Op::AppendRecordChange => &["record_events", "audit_log", "audit_personal"],
            Op::RecordEventsAfter | Op::RecordEventPosition => &["record_events", "audit_log"],
            Op::DeleteCollection => &["collections", "records", "record_unique_values"],
            Op::RemoveRecordField => &["records", "record_unique_values"],
            Op::DeleteTenant => COVERED_TABLES,
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
    "collections",
    "records",
    "record_unique_values",
    "idempotency_keys",
    "record_events",
];

/// The collection both tenants have, and the one only B has.
const SHARED_COLLECTION: &str = "notes";
const B_ONLY_COLLECTION: &str = "secrets";

/// Unique values a snapshot looks up: `(collection, field, value)`. B holds
/// the first three, A the last; A's handle copies B's first into its own
/// `notes`, which must not make A the holder in B.
pub const PROBED_UNIQUE_VALUES: [(&str, &str, &str); 4] = [
    (SHARED_COLLECTION, "slug", "b-first"),
    (SHARED_COLLECTION, "slug", "b-second"),
    (B_ONLY_COLLECTION, "code", "b-secret"),
    (SHARED_COLLECTION, "slug", "a-only"),
];

/// Idempotency keys a snapshot claims (in a transaction it rolls back):
/// `(key, request)`, the request standing for its body hash.
pub const PROBED_IDEMPOTENCY_KEYS: [(&str, &str); 3] = [
    ("b-key-1", "b-request-1"),
    ("b-key-2", "b-request-2"),
    ("a-key", "a-request"),
];

fn notes_schema() -> serde_json::Value {
    fixtures::schema_json(
        SHARED_COLLECTION,
        &[("slug", "text", true, true), ("body", "text", false, false)],
    )
}

fn secrets_schema() -> serde_json::Value {
    fixtures::schema_json(B_ONLY_COLLECTION, &[("code", "text", true, true)])
}

/// Every record of every collection, newest first within each.
fn all_records() -> RecordQuery {
    RecordQuery {
        limit: 1000,
        ..Default::default()
    }
}

/// Everything one tenant owns, as its own handle sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSnapshot {
    pub tenant: Option<Tenant>,
    pub memberships: Vec<Membership>,
    pub api_keys: Vec<ApiKey>,
    pub invitations: Vec<Invitation>,
    pub audit: Vec<AuditEntry>,
    pub collections: Vec<Collection>,
    /// The stored schema text of the shared collection and of B's own.
    pub schemas: Vec<Option<String>>,
    /// Every record, collection by collection (in `collections` order).
    pub records: Vec<Record>,
    /// The holder of each of [`PROBED_UNIQUE_VALUES`].
    pub unique_holders: Vec<Option<RecordId>>,
    /// What a claim of each of [`PROBED_IDEMPOTENCY_KEYS`] finds; empty once
    /// the tenant is gone (a claim would insert a row for it).
    pub idempotency: Vec<IdempotencyClaim>,
    pub record_events: Vec<RecordEvent>,
}

impl TenantSnapshot {
    pub fn is_empty(&self) -> bool {
        self.tenant.is_none()
            && self.memberships.is_empty()
            && self.api_keys.is_empty()
            && self.invitations.is_empty()
            && self.audit.is_empty()
            && self.collections.is_empty()
            && self.schemas.iter().all(Option::is_none)
            && self.records.is_empty()
            && self.unique_holders.iter().all(Option::is_none)
            && self
                .idempotency
                .iter()
                .all(|claim| *claim == IdempotencyClaim::New)
            && self.record_events.is_empty()
    }
}

pub async fn snapshot(store: &dyn Store, tenant: TenantId) -> TenantSnapshot {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let collections = tx.list_collections().await.unwrap();
    let mut records = Vec::new();
    for collection in &collections {
        records.extend(
            tx.list_records(&collection.name, &all_records())
                .await
                .unwrap(),
        );
    }
    let mut schemas = Vec::new();
    for name in [SHARED_COLLECTION, B_ONLY_COLLECTION] {
        schemas.push(tx.collection_schema(name).await.unwrap());
    }
    let mut unique_holders = Vec::new();
    for (collection, field, value) in PROBED_UNIQUE_VALUES {
        unique_holders.push(
            tx.unique_value_holder(collection, field, value)
                .await
                .unwrap(),
        );
    }
    let mut snapshot = TenantSnapshot {
        tenant: tx.tenant().await.unwrap(),
        memberships: tx.list_memberships(Page::first(1000)).await.unwrap(),
        api_keys: tx.list_api_keys(Page::first(1000)).await.unwrap(),
        invitations: tx.list_invitations(Page::first(1000)).await.unwrap(),
        audit: tx.audit_chain(0, 1000).await.unwrap(),
        collections,
        schemas,
        records,
        unique_holders,
        idempotency: Vec::new(),
        record_events: tx.record_events_after(0, 1000).await.unwrap(),
    };
    drop(tx);
    if snapshot.tenant.is_some() {
        // A claim may write, so it runs in a write transaction that is
        // dropped: the probe leaves nothing behind.
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        for (key, request) in PROBED_IDEMPOTENCY_KEYS {
            snapshot.idempotency.push(
                tx.claim_idempotency_key(key, &hash_of(request), at(0))
                    .await
                    .unwrap(),
            );
        }
        drop(tx);
    }
    snapshot
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
    /// B's records: two in `notes` (which A has too), one in `secrets`.
    note_1: Record,
    note_2: Record,
    secret: Record,
    /// A's own record in its `notes` (kept here for the record operations).
    a_note: Record,
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
    tx.insert_collection(fixtures::collection(
        SHARED_COLLECTION,
        notes_schema(),
        at(0),
    ))
    .await
    .unwrap();
    let a_note = tx
        .insert_record(fixtures::record(
            SHARED_COLLECTION,
            RecordId::new(),
            Some(owner_a.id),
            json!({"slug": "a-only", "body": "from a"}),
            &[("slug", "a-only")],
            at(0),
        ))
        .await
        .unwrap();
    let event = fixtures::record_event(
        SHARED_COLLECTION,
        a_note.id,
        EventKind::Create,
        Some(owner_a.id),
        json!({"tenant": "a"}),
        at(0),
    );
    let audit = fixtures::change_audit(&event);
    tx.append_record_change(event, audit).await.unwrap();
    let claim = tx
        .claim_idempotency_key("a-key", &hash_of("a-request"), at(0))
        .await
        .unwrap();
    assert_eq!(claim, IdempotencyClaim::New);
    tx.complete_idempotency_key("a-key", 201, &json!({"tenant": "a"}))
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
    // B's collections, records, unique values, events and idempotency keys.
    tx.insert_collection(fixtures::collection(
        SHARED_COLLECTION,
        notes_schema(),
        at(0),
    ))
    .await
    .unwrap();
    tx.insert_collection(fixtures::collection(
        B_ONLY_COLLECTION,
        secrets_schema(),
        at(0),
    ))
    .await
    .unwrap();
    let mut notes = Vec::new();
    for (i, slug) in ["b-first", "b-second"].into_iter().enumerate() {
        let note = tx
            .insert_record(fixtures::record(
                SHARED_COLLECTION,
                RecordId::new(),
                Some(owner_b.id),
                json!({"slug": slug, "body": format!("from b {i}")}),
                &[("slug", slug)],
                at(i as i64),
            ))
            .await
            .unwrap();
        notes.push(note);
    }
    let secret = tx
        .insert_record(fixtures::record(
            B_ONLY_COLLECTION,
            RecordId::new(),
            None,
            json!({"code": "b-secret"}),
            &[("code", "b-secret")],
            at(0),
        ))
        .await
        .unwrap();
    for record in notes.iter().chain([&secret]) {
        let event = fixtures::record_event(
            &record.collection,
            record.id,
            EventKind::Create,
            record.owner_id,
            json!({"tenant": "b", "data": record.data}),
            at(0),
        );
        let audit = fixtures::change_audit(&event);
        tx.append_record_change(event, audit).await.unwrap();
    }
    for (i, (key, request)) in PROBED_IDEMPOTENCY_KEYS[..2].iter().enumerate() {
        let claim = tx
            .claim_idempotency_key(key, &hash_of(request), at(0))
            .await
            .unwrap();
        assert_eq!(claim, IdempotencyClaim::New);
        tx.complete_idempotency_key(key, 200 + i as u16, &json!({"tenant": "b", "key": key}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let [note_1, note_2] = <[Record; 2]>::try_from(notes).unwrap();
    let foreign = Foreign {
        owner: owner_b.id,
        shared: shared.id,
        outsider: outsider.id,
        api_key,
        invitation,
        audit_seq_only_in_b: last_seq,
        note_1,
        note_2,
        secret,
        a_note,
    };
    (a.id, b.id, foreign)
}

/// Runs the whole isolation table on a fresh store.
pub async fn run(store: &dyn Store) {
    let (a, b, foreign) = seed(store).await;
    let b_before = snapshot(store, b).await;
    assert!(!b_before.is_empty());
    // The snapshot sees every kind of B's data, so a change to any shows.
    assert_eq!(b_before.collections.len(), 2);
    assert_eq!(b_before.records.len(), 3);
    assert_eq!(b_before.record_events.len(), 3);
    assert_eq!(
        b_before.unique_holders,
        vec![
            Some(foreign.note_1.id),
            Some(foreign.note_2.id),
            Some(foreign.secret.id),
            None
        ]
    );
    assert!(
        matches!(
            b_before.idempotency.as_slice(),
            [
                IdempotencyClaim::Replay { status: 200, .. },
                IdempotencyClaim::Replay { status: 201, .. },
                IdempotencyClaim::New
            ]
        ),
        "{:?}",
        b_before.idempotency
    );

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
            // "a.only" and its note's creation.
            assert_eq!(all.len(), 2);
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
            assert_eq!(chain.len(), 2);
            assert!(chain.iter().all(|e| e.tenant_id == Some(a)), "{chain:?}");
            assert!(tx.audit_chain(2, 1000).await.unwrap().is_empty());
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
            // A has "a.only" and its note's creation.
            assert_eq!(
                (entry.tenant_id, entry.seq),
                (Some(a), 3),
                "A's chain continues from A's own last entry"
            );
        }
        Op::GetCollection => {
            assert!(tx.collection(B_ONLY_COLLECTION).await.unwrap().is_none());
            assert!(
                tx.collection_schema(B_ONLY_COLLECTION)
                    .await
                    .unwrap()
                    .is_none()
            );
            let own = tx.collection(SHARED_COLLECTION).await.unwrap().unwrap();
            assert_eq!(own.tenant_id, a);
            let own_schema = tx.collection_schema(SHARED_COLLECTION).await.unwrap();
            assert_eq!(
                own_schema.map(|text| serde_json::from_str::<serde_json::Value>(&text).unwrap()),
                Some(own.schema)
            );
        }
        Op::ListCollections => {
            let all = tx.list_collections().await.unwrap();
            assert_eq!(
                all.iter()
                    .map(|c| (c.tenant_id, c.name.as_str()))
                    .collect::<Vec<_>>(),
                vec![(a, SHARED_COLLECTION)]
            );
        }
        Op::UpdateCollection => {
            for version in [1, 2, 3] {
                let write = tx
                    .update_collection(fixtures::collection_change(
                        B_ONLY_COLLECTION,
                        &notes_schema(),
                        version,
                        at(1),
                    ))
                    .await
                    .unwrap();
                assert_eq!(
                    write,
                    Write::NotFound,
                    "B's collection at version {version}"
                );
            }
            let own = tx.collection(SHARED_COLLECTION).await.unwrap().unwrap();
            let mut schema = notes_schema();
            schema["fields"][1]["type"] = json!("json");
            match tx
                .update_collection(fixtures::collection_change(
                    SHARED_COLLECTION,
                    &schema,
                    own.version,
                    at(1),
                ))
                .await
                .unwrap()
            {
                Write::Done(updated) => {
                    assert_eq!(updated.tenant_id, a);
                    assert_eq!(updated.schema, schema);
                }
                other => panic!("A's own collection: {other:?}"),
            }
        }
        Op::InsertCollectionWithForeignName => {
            let inserted = tx
                .insert_collection(fixtures::collection(
                    B_ONLY_COLLECTION,
                    secrets_schema(),
                    at(1),
                ))
                .await
                .unwrap();
            assert_eq!((inserted.tenant_id, inserted.version), (a, 1));
        }
        Op::EnsureRecordIndex => {
            let fields = [("slug".to_owned(), FieldType::Text { max_len: None })];
            tx.ensure_record_index(SHARED_COLLECTION, &fields)
                .await
                .unwrap();
            let fields = [("code".to_owned(), FieldType::Text { max_len: None })];
            tx.ensure_record_index(B_ONLY_COLLECTION, &fields)
                .await
                .unwrap();
        }
        Op::GetRecord => {
            for record in [&foreign.note_1, &foreign.note_2, &foreign.secret] {
                assert!(
                    tx.record(&record.collection, record.id)
                        .await
                        .unwrap()
                        .is_none()
                );
            }
            assert!(
                tx.record(SHARED_COLLECTION, foreign.a_note.id)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        Op::ListRecords => {
            let all = tx
                .list_records(SHARED_COLLECTION, &all_records())
                .await
                .unwrap();
            assert_eq!(
                all.iter().map(|r| (r.tenant_id, r.id)).collect::<Vec<_>>(),
                vec![(a, foreign.a_note.id)]
            );
            assert!(
                tx.list_records(B_ONLY_COLLECTION, &all_records())
                    .await
                    .unwrap()
                    .is_empty()
            );
            // Aimed at B's ids and owner, a filter and an owner find nothing.
            let by_id = RecordQuery {
                filter: Some(TypedExpr::In {
                    field: FieldRef::System(SystemField::Id),
                    values: [&foreign.note_1, &foreign.note_2, &foreign.secret]
                        .iter()
                        .map(|r| TypedValue::Uuid(*r.id.as_uuid()))
                        .collect(),
                }),
                ..all_records()
            };
            for collection in [SHARED_COLLECTION, B_ONLY_COLLECTION] {
                assert!(
                    tx.list_records(collection, &by_id)
                        .await
                        .unwrap()
                        .is_empty()
                );
            }
            let by_owner = RecordQuery {
                owner: Some(foreign.owner),
                ..all_records()
            };
            assert!(
                tx.list_records(SHARED_COLLECTION, &by_owner)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        Op::UniqueValueHolder => {
            for (collection, field, value) in &PROBED_UNIQUE_VALUES[..3] {
                assert!(
                    tx.unique_value_holder(collection, field, value)
                        .await
                        .unwrap()
                        .is_none(),
                    "{collection}.{field} = {value}"
                );
            }
            assert_eq!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "a-only")
                    .await
                    .unwrap(),
                Some(foreign.a_note.id)
            );
        }
        Op::InsertRecord => {
            // B's id and B's unique value are A's to use in A.
            let inserted = tx
                .insert_record(fixtures::record(
                    SHARED_COLLECTION,
                    foreign.note_1.id,
                    None,
                    json!({"slug": "b-first", "body": "copied by a"}),
                    &[("slug", "b-first")],
                    at(1),
                ))
                .await
                .unwrap();
            assert_eq!((inserted.tenant_id, inserted.version), (a, 1));
            assert_eq!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "b-first")
                    .await
                    .unwrap(),
                Some(foreign.note_1.id)
            );
            let secret = tx
                .insert_record(fixtures::record(
                    B_ONLY_COLLECTION,
                    foreign.secret.id,
                    None,
                    json!({"code": "b-secret"}),
                    &[("code", "b-secret")],
                    at(1),
                ))
                .await
                .unwrap();
            assert_eq!(secret.tenant_id, a);
        }
        Op::UpdateRecord => {
            // B's record is missing to A whatever version it names: a
            // version mismatch would tell A that it exists.
            for expected_version in [None, Some(1), Some(2)] {
                let write = tx
                    .update_record(RecordChange {
                        collection: SHARED_COLLECTION.into(),
                        id: foreign.note_2.id,
                        expected_version,
                        data: json!({"slug": "b-second", "body": "changed by a"}),
                        unique_values: fixtures::unique_values(&[("slug", "b-second")]),
                        at: at(2),
                    })
                    .await
                    .unwrap();
                assert_eq!(write, Write::NotFound, "{expected_version:?}");
            }
        }
        Op::DeleteRecord => {
            for expected_version in [None, Some(1), Some(2)] {
                let write = tx
                    .delete_record(SHARED_COLLECTION, foreign.note_2.id, expected_version)
                    .await
                    .unwrap();
                assert_eq!(write, Write::NotFound, "{expected_version:?}");
            }
        }
        Op::ClaimIdempotencyKey => {
            // B's key with B's request is new in A: no replay of B's answer.
            let claim = tx
                .claim_idempotency_key("b-key-1", &hash_of("b-request-1"), at(2))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::New);
            tx.complete_idempotency_key("b-key-1", 409, &json!({"tenant": "a"}))
                .await
                .unwrap();
        }
        Op::CompleteIdempotencyKey => {
            // B's key with another request is new in A too (a mismatch would
            // tell A that B used it), and A's answer lands in A.
            let claim = tx
                .claim_idempotency_key("b-key-2", &hash_of("a-other-request"), at(3))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::New);
            let body = json!({"tenant": "a", "key": "b-key-2"});
            tx.complete_idempotency_key("b-key-2", 202, &body)
                .await
                .unwrap();
            let claim = tx
                .claim_idempotency_key("b-key-2", &hash_of("a-other-request"), at(3))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::Replay { status: 202, body });
        }
        Op::AppendRecordChange => {
            let event = fixtures::record_event(
                SHARED_COLLECTION,
                foreign.note_2.id,
                EventKind::Delete,
                Some(foreign.owner),
                json!({"tenant": "a"}),
                at(3),
            );
            let audit = fixtures::change_audit(&event);
            let (event, entry) = tx.append_record_change(event, audit).await.unwrap();
            // After A's three entries (AppendAudit ran before).
            assert_eq!(
                (event.tenant_id, event.seq, entry.tenant_id, entry.seq),
                (a, 4, Some(a), 4),
                "A's events and entries continue from A's own last entry"
            );
        }
        Op::RecordEventPosition => {
            // A's own newest entry (4), not B's (6).
            assert_eq!(tx.record_event_position().await.unwrap(), 4);
        }
        Op::RecordEventsAfter => {
            let events = tx.record_events_after(0, 1000).await.unwrap();
            assert_eq!(
                events
                    .iter()
                    .map(|e| (e.tenant_id, e.seq, e.payload.clone()))
                    .collect::<Vec<_>>(),
                vec![
                    (a, 2, json!({"tenant": "a"})),
                    (a, 4, json!({"tenant": "a"}))
                ]
            );
            assert!(tx.record_events_after(4, 1000).await.unwrap().is_empty());
        }
        Op::RemoveRecordField => {
            // A's copy of B's unique value goes; B's records keep `slug`.
            tx.remove_record_field(SHARED_COLLECTION, "slug")
                .await
                .unwrap();
            assert!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "b-first")
                    .await
                    .unwrap()
                    .is_none()
            );
            let query = crate::RecordQuery {
                limit: 1000,
                ..Default::default()
            };
            let left = tx.list_records(SHARED_COLLECTION, &query).await.unwrap();
            assert!(
                left.iter()
                    .all(|r| r.tenant_id == a && r.data.field("slug").is_none()),
                "{left:?}"
            );
        }
        Op::DeleteCollection => {
            // A's `notes` goes with its records; B's `notes` stays.
            assert!(tx.delete_collection(SHARED_COLLECTION).await.unwrap());
            assert!(!tx.delete_collection(SHARED_COLLECTION).await.unwrap());
            assert!(tx.delete_collection(B_ONLY_COLLECTION).await.unwrap());
            assert!(!tx.delete_collection("never_existed").await.unwrap());
            assert!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "b-first")
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        Op::DeleteTenant => {
            assert!(tx.delete_tenant().await.unwrap());
        }
    }
}
