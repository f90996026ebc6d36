//! The registry of tenant tables: the one list of the tables whose rows
//! belong to a tenant.
//!
//! Everything that must know which tables are a tenant's reads it here:
//! PostgreSQL's `bulkhead migrate` checks that each has forced row-level
//! security and grants the runtime role its privileges table by table, Citus
//! distributes them by `tenant_id`, and the conformance suite compares the
//! registry with the tables that carry a `tenant_id` column in each
//! backend's live catalog, so a new tenant table left out of it fails the
//! tests of both backends.

/// A table whose rows each belong to one tenant: it has a `tenant_id`
/// column and is reached only through a [`TenantTx`](crate::TenantTx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantTable {
    /// Who belongs to the tenant, and with which role. Under Citus, the
    /// table every other tenant table is co-located with.
    Memberships,
    /// The tenant's API keys: a name, a role, and the hash of the secret.
    ApiKeys,
    /// Invitations to join the tenant, by email, with the hash of their token.
    Invitations,
    /// The tenant's audit log: an append-only hash chain.
    AuditLog,
    /// The personal data of audit entries, kept apart from the chain so
    /// that it can be erased without breaking it.
    AuditPersonal,
    /// The tenant's collections: a name and a schema.
    Collections,
    /// The records of those collections: an owner, a version and a JSON
    /// document.
    Records,
    /// One row per value of a field declared unique, which enforces the
    /// uniqueness within a collection.
    RecordUniqueValues,
    /// The idempotency keys of record writes, with the first answer to replay.
    IdempotencyKeys,
    /// Record changes for the realtime stream, numbered by their audit entries.
    RecordEvents,
    /// The ledger's accounts: a currency, a scale and a balance in minor units.
    LedgerAccounts,
    /// Money moved between two accounts: append-only.
    LedgerTransfers,
    /// Each transfer's two postings, one per account, numbered per account: append-only.
    LedgerPostings,
    /// Amounts reserved on accounts until captured, released or expired.
    LedgerHolds,
    /// The tenant's caps on what an account pays out per transfer, day and month.
    LedgerLimitProfiles,
    /// Metered costs charged to accounts, marked up, each with the transfer
    /// that debited it (none for an unlimited account): append-only.
    LedgerCharges,
    /// What the tenant holds of what its plan may cap: one row, kept by
    /// every write's commit.
    TenantUsage,
    /// Metered requests and records created, one row per UTC hour, summed
    /// by every process's flushes.
    UsageHours,
    /// Metered use per UTC day: the sums of its hours, the stored bytes
    /// and the active users.
    UsageDays,
    /// Which users were already counted among a day's active users, so
    /// that several processes count each once; kept for two days.
    UsageDayUsers,
}

impl TenantTable {
    /// Every tenant table, each after the tables its foreign keys reference.
    pub const ALL: [TenantTable; 20] = [
        Self::Memberships,
        Self::ApiKeys,
        Self::Invitations,
        Self::AuditLog,
        Self::AuditPersonal,
        Self::Collections,
        Self::Records,
        Self::RecordUniqueValues,
        Self::IdempotencyKeys,
        Self::RecordEvents,
        Self::LedgerAccounts,
        Self::LedgerTransfers,
        Self::LedgerPostings,
        Self::LedgerHolds,
        Self::LedgerLimitProfiles,
        Self::LedgerCharges,
        Self::TenantUsage,
        Self::UsageHours,
        Self::UsageDays,
        Self::UsageDayUsers,
    ];

    /// The table's name in both backends' schemas.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Memberships => "memberships",
            Self::ApiKeys => "api_keys",
            Self::Invitations => "invitations",
            Self::AuditLog => "audit_log",
            Self::AuditPersonal => "audit_personal",
            Self::Collections => "collections",
            Self::Records => "records",
            Self::RecordUniqueValues => "record_unique_values",
            Self::IdempotencyKeys => "idempotency_keys",
            Self::RecordEvents => "record_events",
            Self::LedgerAccounts => "ledger_accounts",
            Self::LedgerTransfers => "ledger_transfers",
            Self::LedgerPostings => "ledger_postings",
            Self::LedgerHolds => "ledger_holds",
            Self::LedgerLimitProfiles => "ledger_limit_profiles",
            Self::LedgerCharges => "ledger_charges",
            Self::TenantUsage => "tenant_usage",
            Self::UsageHours => "usage_hours",
            Self::UsageDays => "usage_days",
            Self::UsageDayUsers => "usage_day_users",
        }
    }

    /// The names of [`TenantTable::ALL`], in its order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.into_iter().map(Self::name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_table_is_listed_once() {
        let mut names: Vec<&str> = TenantTable::names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TenantTable::ALL.len());
    }
}
