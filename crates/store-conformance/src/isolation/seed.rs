//! The two tenants of the isolation table, each with a row in every
//! tenant table, and B's identifiers that A's handle aims at.

use bulkhead_domain::{
    ChargeId, HoldId, LedgerAccountId, RecordId, Role, TenantId, TransferId, UserId,
};
use serde_json::json;

use super::snapshot::{
    B_ONLY_COLLECTION, PROBED_IDEMPOTENCY_KEYS, SHARED_COLLECTION, notes_schema, secrets_schema,
};
use crate::fixtures::{self, at, hash_of};
use bulkhead_store::{
    Access, ApiKey, EventKind, IdempotencyClaim, Invitation, Record, Store, TenantTx,
};

/// Adds a collection, created at the first instant.
async fn insert_collection(tx: &mut dyn TenantTx, name: &str, schema: serde_json::Value) {
    tx.insert_collection(fixtures::collection(name, schema, at(0)))
        .await
        .unwrap();
}

/// Tenant B's identifiers, which A's handle aims at.
pub(super) struct Foreign {
    pub(super) owner: UserId,
    pub(super) shared: UserId,
    pub(super) outsider: UserId,
    /// A's owner (A's own, kept here for the metering operations).
    pub(super) a_owner: UserId,
    pub(super) api_key: ApiKey,
    pub(super) invitation: Invitation,
    /// A sequence number that exists in B's audit chain but not in A's.
    pub(super) audit_seq_only_in_b: i64,
    /// B's records: two in `notes` (which A has too), one in `secrets`.
    pub(super) note_1: Record,
    pub(super) note_2: Record,
    pub(super) secret: Record,
    /// A's own record in its `notes` (kept here for the record operations).
    pub(super) a_note: Record,
    /// B's ledger: a house account that funded a wallet by one transfer.
    pub(super) b_house: LedgerAccountId,
    pub(super) b_wallet: LedgerAccountId,
    pub(super) b_transfer: TransferId,
    /// An open hold on B's wallet.
    pub(super) b_hold: HoldId,
    /// B's charge of 30 on its wallet, debited to its house.
    pub(super) b_charge: ChargeId,
    /// A's funded wallet, in the same currency as B's, and its house.
    pub(super) a_wallet: LedgerAccountId,
    pub(super) a_house: LedgerAccountId,
}

/// A house account and a wallet funded from it with `amount`: (house,
/// wallet, the transfer).
async fn funded_wallet(
    tx: &mut dyn TenantTx,
    owner: UserId,
    amount: i64,
) -> (LedgerAccountId, LedgerAccountId, TransferId) {
    let house = tx
        .insert_ledger_account(fixtures::ledger_account("house", "USD", None, true))
        .await
        .unwrap();
    let wallet = tx
        .insert_ledger_account(fixtures::ledger_account(
            "wallet",
            "USD",
            Some(owner),
            false,
        ))
        .await
        .unwrap();
    let transfer = fixtures::transfer(house.id, wallet.id, amount);
    let id = transfer.id;
    tx.post_transfer(transfer).await.unwrap().unwrap();
    (house.id, wallet.id, id)
}

pub(super) async fn seed(store: &dyn Store) -> (TenantId, TenantId, Foreign) {
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
    insert_collection(&mut *tx, SHARED_COLLECTION, notes_schema()).await;
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
    let (a_house, a_wallet, _) = funded_wallet(&mut *tx, owner_a.id, 700).await;
    // A charge that rounded to nothing: a row, and A's balances as they were.
    let mut a_charge = fixtures::charge(a_wallet, a_house, 1);
    a_charge.amount = 0;
    tx.record_charge(a_charge).await.unwrap().unwrap();
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
    insert_collection(&mut *tx, SHARED_COLLECTION, notes_schema()).await;
    insert_collection(&mut *tx, B_ONLY_COLLECTION, secrets_schema()).await;
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
    let (b_house, b_wallet, b_transfer) = funded_wallet(&mut *tx, owner_b.id, 500).await;
    let b_hold = fixtures::hold(b_wallet, 120, 60);
    let b_hold = tx.place_hold(b_hold).await.unwrap().unwrap().id;
    let b_charge = fixtures::charge(b_wallet, b_house, 30);
    let b_charge = tx.record_charge(b_charge).await.unwrap().unwrap().id;
    tx.put_limit_profile(fixtures::limit_profile("b-only", Some("5")))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Metered use, each tenant's counted by a flush of its own, in the
    // same hour, one user in common.
    for (tenant, requests, records, owner) in [(a.id, 3, 1, owner_a.id), (b.id, 7, 2, owner_b.id)] {
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        tx.add_metered_use(&fixtures::metered_use(
            at(0),
            requests,
            records,
            &[owner, shared.id],
        ))
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    let [note_1, note_2] = <[Record; 2]>::try_from(notes).unwrap();
    let foreign = Foreign {
        owner: owner_b.id,
        shared: shared.id,
        outsider: outsider.id,
        a_owner: owner_a.id,
        api_key,
        invitation,
        audit_seq_only_in_b: last_seq,
        note_1,
        note_2,
        secret,
        a_note,
        b_house,
        b_wallet,
        b_transfer,
        b_hold,
        b_charge,
        a_wallet,
        a_house,
    };
    (a.id, b.id, foreign)
}
