//! What one tenant owns, as its own handle sees it: compared before and
//! after each operation of the isolation table.

use bulkhead_domain::{RecordId, TenantId, UserId};

use crate::fixtures::{self, at, hash_of};
use bulkhead_store::ledger::{
    Charge, LedgerAccount, LedgerAccountQuery, LimitProfileRow, Posting, PostingQuery,
};
use bulkhead_store::metering::{UsageDay, UsageHour, day_of};
use bulkhead_store::plans::TenantUsage;
use bulkhead_store::{
    Access, ApiKey, AuditEntry, Collection, IdempotencyClaim, Invitation, Membership, Page, Record,
    RecordEvent, RecordQuery, Store, Tenant,
};

/// The collection both tenants have, and the one only B has.
pub(super) const SHARED_COLLECTION: &str = "notes";
pub(super) const B_ONLY_COLLECTION: &str = "secrets";

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

pub(super) fn notes_schema() -> serde_json::Value {
    fixtures::schema_json(
        SHARED_COLLECTION,
        &[("slug", "text", true, true), ("body", "text", false, false)],
    )
}

pub(super) fn secrets_schema() -> serde_json::Value {
    fixtures::schema_json(B_ONLY_COLLECTION, &[("code", "text", true, true)])
}

/// Every record of every collection, newest first within each.
pub(super) fn all_records() -> RecordQuery {
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
    /// Every account, its `held` showing the open holds on it.
    pub ledger_accounts: Vec<LedgerAccount>,
    /// Every posting of every account, account by account, newest first.
    pub ledger_postings: Vec<Posting>,
    pub limit_profiles: Vec<LimitProfileRow>,
    /// Every charge of every account, account by account, newest first.
    pub ledger_charges: Vec<Charge>,
    pub usage: TenantUsage,
    /// Every metered hour and day within [`METERED_SPAN_DAYS`] of the
    /// suite's now, and the users remembered for its day.
    pub usage_hours: Vec<UsageHour>,
    pub usage_days: Vec<UsageDay>,
    pub metered_users: Vec<UserId>,
}

/// How far around the suite's now a snapshot reads metered use.
pub const METERED_SPAN_DAYS: i64 = 10;

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
            && self.ledger_accounts.is_empty()
            && self.ledger_postings.is_empty()
            && self.limit_profiles.is_empty()
            && self.ledger_charges.is_empty()
            && self.usage == TenantUsage::default()
            && self.usage_hours.is_empty()
            && self.usage_days.is_empty()
            && self.metered_users.is_empty()
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
        ledger_accounts: Vec::new(),
        ledger_postings: Vec::new(),
        limit_profiles: tx.limit_profiles().await.unwrap(),
        ledger_charges: Vec::new(),
        usage: tx.usage().await.unwrap(),
        usage_hours: Vec::new(),
        usage_days: Vec::new(),
        metered_users: Vec::new(),
    };
    let span = time::Duration::days(METERED_SPAN_DAYS);
    let (from, to) = (at(0) - span, at(0) + span);
    snapshot.usage_hours = tx.usage_hours(from, to).await.unwrap();
    snapshot.usage_days = tx.usage_days(day_of(from), day_of(to)).await.unwrap();
    snapshot.metered_users = tx.metered_users(day_of(at(0))).await.unwrap();
    snapshot.ledger_accounts = tx
        .ledger_accounts(&LedgerAccountQuery {
            owner: None,
            after: None,
            limit: 1000,
            now: fixtures::t0(),
        })
        .await
        .unwrap();
    for account in &snapshot.ledger_accounts {
        let query = PostingQuery {
            account: account.id,
            before_seq: None,
            limit: 1000,
        };
        snapshot
            .ledger_postings
            .extend(tx.ledger_postings(&query).await.unwrap());
        snapshot
            .ledger_charges
            .extend(tx.ledger_charges(account.id, 1000).await.unwrap());
    }
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
