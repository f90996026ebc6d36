//! Conformance cases for plans and quotas: plans are stored and assigned,
//! every write keeps its tenant's usage exact, and a commit that takes a
//! quota past its plan's limit is refused whole, also at the edge under
//! concurrency.

use std::sync::Arc;

use bulkhead_domain::plan::{PlanLimits, PlanName, PlanTerms, Quota};
use bulkhead_domain::{RecordId, Role, UserId};
use bulkhead_store::plans::{Plan, TenantUsage, document_size};
use bulkhead_store::{
    Access, ConflictKind, RecordChange, RecordQuery, Store, StoreError, Tenant, TenantTx, Write,
};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::TestStore;
use crate::fixtures::{self, at, t0};

const NOTES: &str = "notes";

fn notes_schema() -> Value {
    fixtures::schema_json(NOTES, &[("title", "text", false, false)])
}

async fn add_plan(store: &dyn Store, name: &str, limits: PlanLimits) -> PlanName {
    let name = PlanName::parse(name).unwrap();
    let mut tx = store.platform(Access::Write).await.unwrap();
    tx.insert_plan(&Plan {
        name: name.clone(),
        terms: PlanTerms {
            limits,
            ledger_markup: None,
        },
        created_at: t0(),
        updated_at: t0(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    name
}

async fn put_on_plan(store: &dyn Store, tenant: &Tenant, plan: &PlanName) {
    let mut tx = store.platform(Access::Write).await.unwrap();
    assert!(tx.set_tenant_plan(tenant.id, plan, at(1)).await.unwrap());
    tx.commit().await.unwrap();
}

async fn usage(store: &dyn Store, tenant: &Tenant) -> TenantUsage {
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    tx.usage().await.unwrap()
}

/// A tenant with the notes collection, on an unlimited plan.
async fn tenant_with_notes(store: &dyn Store, slug: &str) -> Tenant {
    let owner = fixtures::user(store, &format!("owner@{slug}.example")).await;
    let tenant = fixtures::tenant(store, slug, &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection(NOTES, notes_schema(), t0()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tenant
}

fn all_records() -> RecordQuery {
    RecordQuery {
        limit: 1000,
        ..Default::default()
    }
}

async fn insert_note(tx: &mut dyn TenantTx, data: Value) -> RecordId {
    let id = RecordId::new();
    tx.insert_record(fixtures::record(NOTES, id, None, data, &[], t0()))
        .await
        .unwrap();
    id
}

pub async fn plans_are_stored_changed_and_assigned(ts: &TestStore) {
    let store = &*ts.store;
    let mut tx = store.platform(Access::Read).await.unwrap();
    let names: Vec<String> = tx
        .plans()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    drop(tx);
    for default in ["enterprise", "free", "professional", "starter"] {
        assert!(names.iter().any(|n| n == default), "{names:?}");
    }
    let free = PlanName::free();
    let mut tx = store.platform(Access::Read).await.unwrap();
    let read = tx.plan(&free).await.unwrap().unwrap();
    drop(tx);
    assert_eq!(
        (read.terms.limits.members, read.terms.limits.records),
        (Some(3), Some(1_000))
    );

    let limits = PlanLimits {
        records: Some(10),
        requests_per_minute: Some(600),
        ..PlanLimits::UNLIMITED
    };
    let gold = add_plan(store, "gold", limits).await;
    let mut tx = store.platform(Access::Write).await.unwrap();
    let again = Plan {
        name: gold.clone(),
        terms: PlanTerms {
            limits,
            ledger_markup: None,
        },
        created_at: t0(),
        updated_at: t0(),
    };
    let error = tx.insert_plan(&again).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::Plan)),
        "{error:?}"
    );
    drop(tx);

    let markup = bulkhead_domain::ledger::Markup::parse("5").unwrap();
    let changed = PlanTerms {
        limits: PlanLimits {
            records: None,
            realtime_connections: Some(2),
            ..limits
        },
        ledger_markup: Some(markup),
    };
    let mut tx = store.platform(Access::Write).await.unwrap();
    assert!(tx.update_plan(&gold, &changed, at(2)).await.unwrap());
    let nobody = PlanName::parse("nobody").unwrap();
    assert!(!tx.update_plan(&nobody, &changed, at(2)).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Read).await.unwrap();
    let read = tx.plan(&gold).await.unwrap().unwrap();
    drop(tx);
    assert_eq!((read.terms, read.updated_at), (changed, at(2)));

    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    put_on_plan(store, &tenant, &gold).await;
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert_eq!(tx.tenant().await.unwrap().unwrap().plan, "gold");
    drop(tx);
    let mut tx = store.platform(Access::Write).await.unwrap();
    let error = tx
        .set_tenant_plan(tenant.id, &nobody, at(3))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::MissingReference), "{error:?}");
    drop(tx);
    let mut tx = store.platform(Access::Write).await.unwrap();
    assert!(
        !tx.set_tenant_plan(bulkhead_domain::TenantId::new(), &gold, at(3))
            .await
            .unwrap()
    );
}

pub async fn usage_counts_every_write_and_takes_back_what_is_deleted(ts: &TestStore) {
    let store = &*ts.store;
    let tenant = tenant_with_notes(store, "acme").await;
    let owner_only = usage(store, &tenant).await;
    assert_eq!(
        owner_only,
        TenantUsage {
            members: 1,
            collections: 1,
            ..TenantUsage::default()
        }
    );

    let short = json!({"title": "a"});
    let long = json!({"title": "a much longer title than the first one"});
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let first = insert_note(&mut *tx, short.clone()).await;
    let second = insert_note(&mut *tx, short.clone()).await;
    // Uncommitted writes are not counted yet.
    assert_eq!(tx.usage().await.unwrap(), owner_only);
    tx.commit().await.unwrap();
    let two = usage(store, &tenant).await;
    assert_eq!(
        (two.records, two.storage_bytes),
        (2, 2 * document_size(&short) as u64)
    );

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let changed = tx
        .update_record(RecordChange {
            collection: NOTES.into(),
            id: first,
            data: long.clone(),
            unique_values: Vec::new(),
            expected_version: Some(1),
            at: at(1),
        })
        .await
        .unwrap();
    assert!(matches!(changed, Write::Done(_)));
    tx.commit().await.unwrap();
    let grown = usage(store, &tenant).await;
    assert_eq!(
        grown.storage_bytes,
        (document_size(&short) + document_size(&long)) as u64
    );

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.delete_record(NOTES, second, None).await.unwrap();
    tx.commit().await.unwrap();
    let one = usage(store, &tenant).await;
    assert_eq!(
        (one.records, one.storage_bytes),
        (1, document_size(&long) as u64)
    );

    let member = fixtures::user(store, "member@example.com").await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(member.id, Role::Member))
        .await
        .unwrap();
    let key = tx
        .insert_api_key(fixtures::api_key("ci", None))
        .await
        .unwrap();
    tx.insert_api_key(fixtures::api_key("deploy", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let more = usage(store, &tenant).await;
    assert_eq!((more.members, more.api_keys), (2, 2));

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    assert!(tx.revoke_api_key(key.id, at(2)).await.unwrap());
    assert!(!tx.revoke_api_key(key.id, at(3)).await.unwrap());
    assert!(tx.delete_membership(member.id).await.unwrap());
    tx.commit().await.unwrap();
    let fewer = usage(store, &tenant).await;
    assert_eq!((fewer.members, fewer.api_keys), (1, 1));

    // A deleted collection takes its records with it.
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    insert_note(&mut *tx, short.clone()).await;
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    assert!(tx.delete_collection(NOTES).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        usage(store, &tenant).await,
        TenantUsage {
            members: 1,
            api_keys: 1,
            ..TenantUsage::default()
        }
    );

    // A dropped transaction changes nothing.
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection(NOTES, notes_schema(), t0()))
        .await
        .unwrap();
    drop(tx);
    assert_eq!(usage(store, &tenant).await.collections, 0);
}

pub async fn a_quota_refuses_the_whole_commit_that_grows_it_past_the_limit(ts: &TestStore) {
    let store = &*ts.store;
    let tenant = tenant_with_notes(store, "acme").await;
    let tight = add_plan(
        store,
        "tight",
        PlanLimits {
            members: Some(2),
            records: Some(2),
            storage_bytes: Some(200),
            collections: Some(1),
            api_keys: Some(1),
            ..PlanLimits::UNLIMITED
        },
    )
    .await;
    put_on_plan(store, &tenant, &tight).await;

    let note = json!({"title": "a"});
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    insert_note(&mut *tx, note.clone()).await;
    insert_note(&mut *tx, note.clone()).await;
    tx.commit().await.unwrap();

    let refused = |error: StoreError| match error {
        StoreError::QuotaExceeded(quota) => quota,
        other => panic!("expected a quota refusal, got {other:?}"),
    };
    // The third record, with an audit entry beside it: neither is kept.
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    insert_note(&mut *tx, note.clone()).await;
    tx.append_audit(fixtures::audit("record.create", None))
        .await
        .unwrap();
    assert_eq!(refused(tx.commit().await.unwrap_err()), Quota::Records);
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(
        tx.audit_chain(0, 10).await.unwrap().is_empty(),
        "the refused commit kept nothing"
    );
    assert_eq!(tx.usage().await.unwrap().records, 2);
    drop(tx);

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_collection(fixtures::collection("more", notes_schema(), t0()))
        .await
        .unwrap();
    assert_eq!(refused(tx.commit().await.unwrap_err()), Quota::Collections);

    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_api_key(fixtures::api_key("one", None))
        .await
        .unwrap();
    tx.insert_api_key(fixtures::api_key("two", None))
        .await
        .unwrap();
    assert_eq!(refused(tx.commit().await.unwrap_err()), Quota::ApiKeys);

    // A record grown past the storage limit.
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    let mut all = tx.list_records(NOTES, &all_records()).await.unwrap();
    let first = all.remove(0);
    let big = json!({"title": "x".repeat(300)});
    tx.update_record(RecordChange {
        collection: NOTES.into(),
        id: first.id,
        data: big,
        unique_values: Vec::new(),
        expected_version: None,
        at: at(1),
    })
    .await
    .unwrap();
    assert_eq!(refused(tx.commit().await.unwrap_err()), Quota::StorageBytes);

    // Members: one more fits, and an open invitation counts as one.
    let member = fixtures::user(store, "member@example.com").await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_invitation(fixtures::invitation("invitee@example.com", 60))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_invitation(fixtures::invitation("second@example.com", 60))
        .await
        .unwrap();
    assert_eq!(refused(tx.commit().await.unwrap_err()), Quota::Members);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(member.id, Role::Member))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let third = fixtures::user(store, "third@example.com").await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(third.id, Role::Member))
        .await
        .unwrap();
    assert_eq!(refused(tx.commit().await.unwrap_err()), Quota::Members);

    // Over a lowered limit, what shrinks still commits.
    let lower = add_plan(
        store,
        "lower",
        PlanLimits {
            records: Some(0),
            members: Some(0),
            ..PlanLimits::UNLIMITED
        },
    )
    .await;
    put_on_plan(store, &tenant, &lower).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.delete_record(NOTES, first.id, None).await.unwrap();
    assert!(tx.delete_membership(member.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(usage(store, &tenant).await.records, 1);
}

pub async fn creates_at_a_quotas_edge_under_concurrency_admit_exactly_what_remains(ts: &TestStore) {
    const WRITERS: usize = 16;
    let store = Arc::clone(&ts.store);
    let tenant = tenant_with_notes(&*store, "acme").await;
    let five = add_plan(
        &*store,
        "five",
        PlanLimits {
            records: Some(5),
            ..PlanLimits::UNLIMITED
        },
    )
    .await;
    put_on_plan(&*store, &tenant, &five).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    insert_note(&mut *tx, json!({"title": "first"})).await;
    insert_note(&mut *tx, json!({"title": "second"})).await;
    tx.commit().await.unwrap();

    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut writers = Vec::new();
    for n in 0..WRITERS {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        writers.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
            insert_note(&mut *tx, json!({"title": format!("racer {n}")})).await;
            tx.commit().await
        }));
    }
    let mut created = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::QuotaExceeded(Quota::Records)) => {}
            Err(other) => panic!("a create failed otherwise: {other:?}"),
        }
    }
    assert_eq!(created, 3, "exactly the three records left under the quota");
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let stored = tx.list_records(NOTES, &all_records()).await.unwrap();
    assert_eq!(stored.len(), 5);
    assert_eq!(tx.usage().await.unwrap().records, 5);
}

/// One write of each quota's kind, as 16 writers race at the edge;
/// `member` is the user a membership is for (made before the race).
async fn grow(tx: &mut dyn TenantTx, quota: Quota, member: UserId, n: usize) {
    match quota {
        Quota::Members => {
            tx.insert_membership(fixtures::membership(member, Role::Member))
                .await
                .unwrap();
        }
        Quota::Records => {
            insert_note(tx, json!({"title": format!("racer {n}")})).await;
        }
        Quota::StorageBytes => {
            insert_note(tx, sized(n)).await;
        }
        Quota::Collections => {
            tx.insert_collection(fixtures::collection(
                &format!("racer{n}"),
                notes_schema(),
                t0(),
            ))
            .await
            .unwrap();
        }
        Quota::ApiKeys => {
            tx.insert_api_key(fixtures::api_key(&format!("racer-{n}"), None))
                .await
                .unwrap();
        }
    }
}

/// A document whose size is the same for every `n` under 10,000.
fn sized(n: usize) -> Value {
    json!({"t": format!("r{n:04}")})
}

/// Every quota at its edge: with room for exactly 3 more, 16 writers at
/// once (each in its own transaction, started behind one barrier) commit
/// exactly 3 times, and the usage ends at the limit.
pub async fn every_quota_admits_exactly_what_remains_under_concurrency(ts: &TestStore) {
    const WRITERS: usize = 16;
    const ROOM: u64 = 3;
    let store = Arc::clone(&ts.store);
    for quota in Quota::ALL {
        let name = format!("edge-{}", quota.name().replace('_', "-"));
        let tenant = tenant_with_notes(&*store, &name).await;
        let held = usage(&*store, &tenant).await.of(quota);
        let step = match quota {
            Quota::StorageBytes => u64::try_from(document_size(&sized(0))).unwrap(),
            _ => 1,
        };
        let limit = held + step * ROOM;
        let mut limits = PlanLimits::UNLIMITED;
        match quota {
            Quota::Members => limits.members = Some(limit),
            Quota::Records => limits.records = Some(limit),
            Quota::StorageBytes => limits.storage_bytes = Some(limit),
            Quota::Collections => limits.collections = Some(limit),
            Quota::ApiKeys => limits.api_keys = Some(limit),
        }
        let plan = add_plan(&*store, &name, limits).await;
        put_on_plan(&*store, &tenant, &plan).await;
        let mut members = Vec::new();
        for n in 0..WRITERS {
            members.push(
                fixtures::user(&*store, &format!("racer{n}@{name}.example"))
                    .await
                    .id,
            );
        }

        let barrier = Arc::new(Barrier::new(WRITERS));
        let mut writers = Vec::new();
        for (n, member) in members.into_iter().enumerate() {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            writers.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
                grow(&mut *tx, quota, member, n).await;
                tx.commit().await
            }));
        }
        let mut committed = 0;
        for writer in writers {
            match writer.await.unwrap() {
                Ok(()) => committed += 1,
                Err(StoreError::QuotaExceeded(refused)) => assert_eq!(refused, quota),
                Err(other) => panic!("{quota:?}: a write failed otherwise: {other:?}"),
            }
        }
        assert_eq!(committed, ROOM, "{quota:?}: exactly the room left");
        assert_eq!(usage(&*store, &tenant).await.of(quota), limit, "{quota:?}");
    }
}
