//! Builders for conformance test data.

use std::future::Future;
use std::sync::Arc;

use bulkhead_domain::audit::{ActorKind, Outcome};
use bulkhead_domain::collection::Visibility;
use bulkhead_domain::{
    ApiKeyId, AuditEntryId, Email, Id, InvitationId, RecordId, Role, TenantId, TenantSlug, UserId,
};
use rand::Rng;
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use bulkhead_store::{
    Access, AuditDraft, CollectionChange, EventKind, NewApiKey, NewCollection, NewInvitation,
    NewMembership, NewRecord, NewRecordEvent, NewTenant, NewUser, Store, Tenant, UniqueValue, User,
};

/// The suite's "now". Fixed, so expiry is decided by the data, not the wall clock.
pub fn t0() -> OffsetDateTime {
    datetime!(2026-06-01 12:00:00.123456 UTC)
}

pub fn at(minutes: i64) -> OffsetDateTime {
    t0() + Duration::minutes(minutes)
}

pub fn hash_of(text: &str) -> [u8; 32] {
    use std::hash::{DefaultHasher, Hash, Hasher};
    // Test data only needs distinct 32-byte values per text.
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut hasher = DefaultHasher::new();
        (text, i).hash(&mut hasher);
        chunk.copy_from_slice(&hasher.finish().to_be_bytes());
    }
    out
}

pub async fn user(store: &dyn Store, email: &str) -> User {
    user_with_id(store, email, UserId::new()).await
}

/// A user with a chosen id, for cases whose results depend on id order.
pub async fn user_with_id(store: &dyn Store, email: &str, id: UserId) -> User {
    let mut tx = store.platform(Access::Write).await.unwrap();
    let user = tx
        .insert_user(NewUser {
            id,
            email: Email::parse(email).unwrap(),
            display_name: Some(format!("User {email}")),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            is_platform_admin: false,
            at: t0(),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    user
}

/// A new user with nothing but an email (no display name, a placeholder
/// hash), for cases about emails.
pub fn bare_user(email: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        email: Email::parse(email).unwrap(),
        display_name: None,
        password_hash: "x".into(),
        is_platform_admin: false,
        at: t0(),
    }
}

pub fn new_tenant(slug: &str) -> NewTenant {
    NewTenant {
        id: TenantId::new(),
        slug: TenantSlug::parse(slug).unwrap(),
        name: format!("Tenant {slug}"),
        // Unlimited, so that cases count what they mean to; the quota
        // cases put their tenants on plans of their own.
        plan: "enterprise".into(),
        at: t0(),
    }
}

/// Creates a tenant whose owner is `owner`.
pub async fn tenant(store: &dyn Store, slug: &str, owner: &User) -> Tenant {
    let mut tx = store.create_tenant(new_tenant(slug)).await.unwrap();
    tx.insert_membership(membership(owner.id, Role::Owner))
        .await
        .unwrap();
    let tenant = tx.tenant().await.unwrap().unwrap();
    tx.commit().await.unwrap();
    tenant
}

pub fn membership(user: UserId, role: Role) -> NewMembership {
    NewMembership {
        user_id: user,
        role,
        at: t0(),
    }
}

pub fn api_key(name: &str, created_by: Option<UserId>) -> NewApiKey {
    NewApiKey {
        id: ApiKeyId::new(),
        name: name.into(),
        prefix: format!("bk_{}", &name[..name.len().min(4)]),
        key_hash: hash_of(name),
        role: Role::Member,
        created_by,
        expires_at: None,
        at: t0(),
    }
}

pub fn invitation(email: &str, expires_in_minutes: i64) -> NewInvitation {
    NewInvitation {
        id: InvitationId::new(),
        email: Email::parse(email).unwrap(),
        role: Role::Member,
        token_hash: hash_of(email),
        invited_by: None,
        expires_at: at(expires_in_minutes),
        at: t0(),
    }
}

pub fn audit(action: &str, actor: Option<UserId>) -> AuditDraft {
    AuditDraft {
        id: AuditEntryId::new(),
        at: t0(),
        actor_kind: if actor.is_some() {
            ActorKind::User
        } else {
            ActorKind::System
        },
        actor_id: actor.map(|id| *id.as_uuid()),
        action: action.into(),
        resource_type: "tenant".into(),
        resource_id: Some("r-1".into()),
        outcome: Outcome::Success,
        request_id: Some("req-1".into()),
        details: serde_json::json!({"b": 1, "a": [true, null, "x"]}),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("conformance/1.0".into()),
    }
}

/// An id drawn from a seeded generator, so a case orders the same way on
/// every run.
pub fn seeded_id<K>(rng: &mut impl Rng) -> Id<K> {
    Id::from_uuid(uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid())
}

pub fn collection(name: &str, schema: Value, at: OffsetDateTime) -> NewCollection {
    NewCollection {
        name: name.into(),
        visibility: visibility_of(&schema),
        schema,
        at,
    }
}

/// A replacement of `name`'s schema, conditional on `expected_version`.
pub fn collection_change(
    name: &str,
    schema: &Value,
    expected_version: i64,
    at: OffsetDateTime,
) -> CollectionChange {
    CollectionChange {
        name: name.into(),
        schema: schema.clone(),
        visibility: visibility_of(schema),
        expected_version,
        at,
    }
}

/// The visibility a schema names, which the service passes beside it.
fn visibility_of(schema: &Value) -> Visibility {
    match schema["visibility"].as_str() {
        Some("owner") => Visibility::Owner,
        _ => Visibility::Tenant,
    }
}

/// A collection schema in its stored JSON form; each field is
/// `(name, type, required, unique)`.
pub fn schema_json(name: &str, fields: &[(&str, &str, bool, bool)]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(name, kind, required, unique)| {
            serde_json::json!({"name": name, "type": kind, "required": required, "unique": unique})
        })
        .collect();
    serde_json::json!({"name": name, "fields": fields, "visibility": "tenant", "indexes": []})
}

/// A new record; `unique` lists `(field, value)` pairs.
pub fn record(
    collection: &str,
    id: RecordId,
    owner_id: Option<UserId>,
    data: Value,
    unique: &[(&str, &str)],
    at: OffsetDateTime,
) -> NewRecord {
    NewRecord {
        id,
        collection: collection.into(),
        owner_id,
        data,
        unique_values: unique_values(unique),
        at,
    }
}

pub fn unique_values(pairs: &[(&str, &str)]) -> Vec<UniqueValue> {
    pairs
        .iter()
        .map(|(field, value)| UniqueValue {
            field: (*field).into(),
            value: (*value).into(),
        })
        .collect()
}

/// The audit entry a record change is appended with, as the service writes
/// it (`record.<kind>` on the record).
pub fn change_audit(event: &NewRecordEvent) -> AuditDraft {
    AuditDraft {
        resource_type: "record".into(),
        resource_id: Some(event.record_id.to_string()),
        ..audit(&format!("record.{}", event.kind.as_str()), None)
    }
}

pub fn record_event(
    collection: &str,
    record_id: RecordId,
    kind: EventKind,
    owner_id: Option<UserId>,
    payload: Value,
    at: OffsetDateTime,
) -> NewRecordEvent {
    NewRecordEvent {
        collection: collection.into(),
        record_id,
        kind,
        owner_id,
        payload,
        at,
    }
}

/// Races `n_tasks` tasks as [`all_at_once`] does, of which exactly one
/// must win (return `true`).
pub async fn exactly_one_wins<F, Fut>(n_tasks: usize, task: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let won = all_at_once(n_tasks, task).await;
    assert_eq!(won.iter().filter(|won| **won).count(), 1, "{won:?}");
}

/// Runs `n_tasks` tasks (`task(i)` makes the `i`th) released together by a
/// barrier, so that they race; returns their results in task order.
pub async fn all_at_once<T, F, Fut>(n_tasks: usize, mut task: F) -> Vec<T>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut handles = Vec::with_capacity(n_tasks);
    for i in 0..n_tasks {
        let (barrier, work) = (Arc::clone(&barrier), task(i));
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            work.await
        }));
    }
    let mut results = Vec::with_capacity(n_tasks);
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

/// A ledger account in `currency` at scale 2, owned by `owner`; `house`
/// accounts may go negative (they issue what the others hold).
pub fn ledger_account(
    name: &str,
    currency: &str,
    owner: Option<UserId>,
    house: bool,
) -> bulkhead_store::ledger::NewLedgerAccount {
    bulkhead_store::ledger::NewLedgerAccount {
        id: bulkhead_domain::LedgerAccountId::new(),
        name: name.into(),
        currency: currency.into(),
        scale: 2,
        owner_id: owner,
        allow_negative: house,
        unlimited: false,
        limit_profile: None,
        house: false,
        at: t0(),
    }
}

/// A plain transfer of `amount` minor units.
pub fn transfer(
    from: bulkhead_domain::LedgerAccountId,
    to: bulkhead_domain::LedgerAccountId,
    amount: i64,
) -> bulkhead_store::ledger::NewTransfer {
    bulkhead_store::ledger::NewTransfer {
        id: bulkhead_domain::TransferId::new(),
        kind: bulkhead_store::ledger::TransferKind::Transfer,
        from,
        to,
        amount,
        memo: Some(format!("{amount} from {from} to {to}")),
        at: t0(),
        caps: bulkhead_store::ledger::Caps::NONE,
    }
}

/// A hold of `amount` on `account`, placed at `t0()` and expiring
/// `minutes` later.
pub fn hold(
    account: bulkhead_domain::LedgerAccountId,
    amount: i64,
    minutes: i64,
) -> bulkhead_store::ledger::NewHold {
    bulkhead_store::ledger::NewHold {
        id: bulkhead_domain::HoldId::new(),
        account,
        amount,
        memo: Some(format!("hold of {amount}")),
        expires_at: at(minutes),
        at: t0(),
        single_cap: None,
    }
}

/// A limit profile with only a single-transfer cap.
pub fn limit_profile(name: &str, single: Option<&str>) -> bulkhead_store::ledger::LimitProfileRow {
    bulkhead_store::ledger::LimitProfileRow {
        name: name.into(),
        single: single.map(str::to_owned),
        daily: None,
        monthly: None,
        updated_at: t0(),
    }
}

/// A charge of `cost` at markup 1 (`amount == cost`) from `account` to
/// `house`, without caps.
pub fn charge(
    account: bulkhead_domain::LedgerAccountId,
    house: bulkhead_domain::LedgerAccountId,
    cost: i64,
) -> bulkhead_store::ledger::NewCharge {
    bulkhead_store::ledger::NewCharge {
        id: bulkhead_domain::ChargeId::new(),
        account,
        cost,
        markup_millionths: 1_000_000,
        amount: cost,
        memo: Some(format!("charge of {cost}")),
        at: t0(),
        transfer: bulkhead_domain::TransferId::new(),
        house,
        caps: bulkhead_store::ledger::Caps::NONE,
    }
}

/// One flush's metered use: `requests` and `records_created` in the hour
/// of `at`, and `users` on its day; users of days before the day before
/// `at`'s are forgotten (as the service's flush asks).
pub fn metered_use(
    at: OffsetDateTime,
    requests: u64,
    records_created: u64,
    users: &[UserId],
) -> bulkhead_store::metering::MeteredUse {
    use bulkhead_store::metering::{MeteredHour, MeteredUse, MeteredUsers, day_of, hour_of};
    MeteredUse {
        hours: vec![MeteredHour {
            hour: hour_of(at),
            requests,
            records_created,
        }],
        users: vec![MeteredUsers {
            day: day_of(at),
            users: users.to_vec(),
        }],
        forget_users_before: day_of(at) - Duration::days(1),
    }
}
