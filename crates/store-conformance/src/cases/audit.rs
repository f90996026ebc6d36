//! The tenants' audit logs and the platform's: verifiable chains,
//! erasable personal data, filtered pages.

use std::sync::Arc;

use crate::TestStore;
use crate::fixtures::{self, at, t0};
use bulkhead_store::audit::{ChainBreak, verify};
use bulkhead_store::{Access, AuditQuery};

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

/// Writers racing in one tenant each get numbers of their own, with no gap
/// and no fork: a busy tenant's chain verifies whole. However entries come
/// to be numbered, this must hold.
pub async fn concurrent_appends_to_one_tenant_form_one_gap_free_chain(ts: &TestStore) {
    const WRITERS: usize = 8;
    const EACH: usize = 5;
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let tenant = fixtures::tenant(&*store, "acme", &owner).await;
    let numbers = fixtures::all_at_once(WRITERS, |writer| {
        let store = Arc::clone(&store);
        async move {
            let mut numbers = Vec::with_capacity(EACH);
            for i in 0..EACH {
                let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
                let entry = tx
                    .append_audit(fixtures::audit(&format!("writer.{writer}.{i}"), None))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                numbers.push(entry.seq);
            }
            numbers
        }
    })
    .await;
    let mut numbers: Vec<i64> = numbers.into_iter().flatten().collect();
    numbers.sort_unstable();
    let total = i64::try_from(WRITERS * EACH).unwrap();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());

    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let chain = tx.audit_chain(0, 1000).await.unwrap();
    assert_eq!(verify(None, &chain).unwrap().unwrap().0, total);
    let mut actions: Vec<&str> = chain.iter().map(|entry| entry.action.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    assert_eq!(
        actions.len(),
        WRITERS * EACH,
        "every append is in the chain once"
    );
}

/// Text from clients (a user agent, a request id, JSON details) is stored
/// and hashed exactly as given, whatever quotes, backslashes or SQL it
/// holds.
pub async fn audit_text_is_stored_exactly_whatever_it_holds(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let awkward = [
        "it's",
        r"back\slash \' and \x00",
        "'); DROP TABLE audit_log; --",
        "$$ $tag$ E'\\n' \"quoted\"",
        "émoji 🦀 and\nnewline\ttab",
    ];
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    for text in awkward {
        let mut draft = fixtures::audit(text, None);
        draft.resource_id = Some(text.into());
        draft.request_id = Some(text.into());
        draft.details = serde_json::json!({ text: [text, "'"] });
        draft.ip = Some(text.into());
        draft.user_agent = Some(text.into());
        tx.append_audit(draft).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    let chain = tx.audit_chain(0, 10).await.unwrap();
    assert!(verify(None, &chain).is_ok());
    assert_eq!(chain.len(), awkward.len());
    for (entry, text) in chain.iter().zip(awkward) {
        let personal = entry.personal.as_ref().unwrap();
        assert_eq!(
            (
                entry.action.as_str(),
                entry.resource_id.as_deref(),
                entry.request_id.as_deref(),
                personal.ip.as_deref(),
                personal.user_agent.as_deref(),
            ),
            (text, Some(text), Some(text), Some(text), Some(text))
        );
        assert_eq!(entry.details, serde_json::json!({ text: [text, "'"] }));
    }
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
