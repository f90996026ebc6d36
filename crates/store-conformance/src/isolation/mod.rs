//! The isolation table: every operation of a
//! [`TenantTx`](bulkhead_store::TenantTx), opened for tenant A, aimed at
//! tenant B's rows.
//!
//! For each [`Op`] the suite asserts that A's handle reads nothing of B's,
//! changes nothing of B's, and that whatever it inserts lands in A. After
//! the whole table has run, B's data is compared with a snapshot taken
//! before: one changed or leaked row fails the suite. `Op` is matched
//! exhaustively, so a new operation must take its place here, and the
//! tables its operations touch ([`Op::tables`]) are compared with the
//! registry of tenant tables, itself compared with the database catalog, so
//! a new tenant table must too.
//!
//! `seed` gives both tenants a row in every tenant table, [`snapshot`]
//! reads everything one tenant owns, and `attempt` runs one operation.

mod attempt;
mod seed;
mod snapshot;

pub use snapshot::{PROBED_IDEMPOTENCY_KEYS, PROBED_UNIQUE_VALUES, TenantSnapshot, snapshot};

use attempt::attempt;
use bulkhead_store::{Access, IdempotencyClaim, Store, TenantTable};
use seed::seed;

/// An operation of [`TenantTx`](bulkhead_store::TenantTx) in the isolation table.
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
    /// Sweeps every key, however new, and B's are as old as A's.
    SweepIdempotencyKeys,
    AppendRecordChange,
    RecordEventsAfter,
    RecordEventPosition,
    /// Removes a data field from A's records of the shared collection.
    RemoveRecordField,
    DeleteCollection,
    GetLedgerAccount,
    ListLedgerAccounts,
    ListLedgerPostings,
    /// Posts from B's wallet, and to it.
    PostTransferAcrossTenants,
    /// Places a hold on B's wallet, reads and settles B's hold.
    HoldAcrossTenants,
    /// Reads B's limit profile, and writes one of the same name.
    LimitProfileWithForeignName,
    /// Charges B's wallet, charges to B's house, reads B's charge, and
    /// records a charge of A's with the id of B's.
    ChargeAcrossTenants,
    /// Opens an account with the id of B's wallet, and pays into it.
    InsertLedgerAccountWithForeignId,
    /// Reads A's usage, which counts A's rows and none of B's.
    ReadUsage,
    /// Reads A's metered hours, days and remembered users.
    ReadMeteredUse,
    /// Adds use to the hour and day B has use in, with B's users, then
    /// forgets A's users of that day.
    AddMeteredUse,
    DeleteTenant,
}

/// The table order matters for `InsertCollectionWithForeignName` (before
/// the record operations, which then find an empty collection of that
/// name in A), `InsertRecord` (after `GetRecord`, since it gives A a record
/// with B's id), `DeleteCollection` (after every record operation),
/// `InsertLedgerAccountWithForeignId` (after the other ledger operations,
/// since it gives A an account with B's id), `ReadMeteredUse` (before
/// `AddMeteredUse`, which changes what it reads) and `DeleteTenant`, which
/// must come last.
pub const OPS: [Op; 55] = [
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
    Op::SweepIdempotencyKeys,
    Op::AppendRecordChange,
    Op::RecordEventsAfter,
    Op::RecordEventPosition,
    Op::RemoveRecordField,
    Op::DeleteCollection,
    Op::GetLedgerAccount,
    Op::ListLedgerAccounts,
    Op::ListLedgerPostings,
    Op::PostTransferAcrossTenants,
    Op::HoldAcrossTenants,
    Op::LimitProfileWithForeignName,
    Op::ChargeAcrossTenants,
    Op::InsertLedgerAccountWithForeignId,
    Op::ReadUsage,
    Op::ReadMeteredUse,
    Op::AddMeteredUse,
    Op::DeleteTenant,
];

impl Op {
    /// The tenant-owned tables the operation touches.
    pub const fn tables(self) -> &'static [TenantTable] {
        use TenantTable as T;
        match self {
            Op::ReadTenant | Op::RenameTenant => &[],
            Op::GetMembership
            | Op::ListMemberships
            | Op::ListMembers
            | Op::CountMembers
            | Op::SetMemberRole
            | Op::SetSharedMemberRole
            | Op::DeleteMembership
            | Op::InsertMembership => &[T::Memberships],
            Op::GetApiKey
            | Op::ListApiKeys
            | Op::RevokeApiKey
            | Op::TouchApiKey
            | Op::InsertApiKeyWithForeignHash => &[T::ApiKeys],
            Op::GetInvitation
            | Op::ListInvitations
            | Op::AcceptInvitation
            | Op::DeleteInvitation
            | Op::InsertInvitationWithForeignToken => &[T::Invitations],
            Op::ListAudit | Op::ReadAuditChain | Op::EraseAuditPersonal | Op::AppendAudit => {
                &[T::AuditLog, T::AuditPersonal]
            }
            Op::GetCollection
            | Op::ListCollections
            | Op::UpdateCollection
            | Op::InsertCollectionWithForeignName => &[T::Collections],
            Op::EnsureRecordIndex | Op::GetRecord | Op::ListRecords => &[T::Records],
            Op::UniqueValueHolder => &[T::RecordUniqueValues],
            Op::InsertRecord | Op::UpdateRecord | Op::DeleteRecord => {
                &[T::Records, T::RecordUniqueValues]
            }
            Op::ClaimIdempotencyKey | Op::CompleteIdempotencyKey | Op::SweepIdempotencyKeys => {
                &[T::IdempotencyKeys]
            }
            Op::AppendRecordChange => &[T::RecordEvents, T::AuditLog, T::AuditPersonal],
            Op::RecordEventsAfter | Op::RecordEventPosition => &[T::RecordEvents, T::AuditLog],
            Op::DeleteCollection => &[T::Collections, T::Records, T::RecordUniqueValues],
            Op::RemoveRecordField => &[T::Records, T::RecordUniqueValues],
            Op::GetLedgerAccount | Op::ListLedgerAccounts => &[T::LedgerAccounts],
            Op::ListLedgerPostings => &[T::LedgerPostings, T::LedgerTransfers],
            Op::PostTransferAcrossTenants | Op::InsertLedgerAccountWithForeignId => {
                &[T::LedgerAccounts, T::LedgerTransfers, T::LedgerPostings]
            }
            Op::HoldAcrossTenants => &[T::LedgerHolds, T::LedgerAccounts],
            Op::LimitProfileWithForeignName => &[T::LedgerLimitProfiles],
            Op::ChargeAcrossTenants => &[
                T::LedgerCharges,
                T::LedgerAccounts,
                T::LedgerTransfers,
                T::LedgerPostings,
            ],
            Op::ReadUsage => &[T::TenantUsage],
            Op::ReadMeteredUse => &[T::UsageHours, T::UsageDays, T::UsageDayUsers],
            // It reads the stored bytes of A's usage for the day.
            Op::AddMeteredUse => &[
                T::UsageHours,
                T::UsageDays,
                T::UsageDayUsers,
                T::TenantUsage,
            ],
            Op::DeleteTenant => &TenantTable::ALL,
        }
    }
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
    assert_eq!(b_before.ledger_accounts.len(), 2);
    // The transfer that funded B's wallet and the debit of B's charge.
    assert_eq!(b_before.ledger_postings.len(), 4);
    assert_eq!(b_before.ledger_charges.len(), 1);
    assert_eq!(
        b_before.ledger_accounts.iter().map(|a| a.held).sum::<i64>(),
        120
    );
    assert_eq!(b_before.limit_profiles.len(), 1);
    assert_eq!(b_before.usage_hours.len(), 1);
    assert_eq!(b_before.usage_days.len(), 1);
    assert_eq!(b_before.usage_days[0].active_users, 2);
    assert_eq!(b_before.metered_users.len(), 2);
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
