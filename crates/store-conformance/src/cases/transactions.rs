//! Transactions as a whole: rollback, aborts, read-only access, tenant
//! administration and deletion, isolation, and invalidations on commit.

use std::sync::Arc;

use bulkhead_domain::{Role, TenantSlug};

use crate::TestStore;
use crate::fixtures::{self, at};
use bulkhead_store::{Access, ConflictKind, Page, StoreError, TenantTable};

pub async fn dropping_a_transaction_rolls_it_back(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    {
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        tx.insert_api_key(fixtures::api_key("lost", None))
            .await
            .unwrap();
        tx.append_audit(fixtures::audit("lost", None))
            .await
            .unwrap();
    }
    {
        let tx = store
            .create_tenant(fixtures::new_tenant("ghost"))
            .await
            .unwrap();
        drop(tx);
    }
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(tx.list_api_keys(Page::first(10)).await.unwrap().is_empty());
    assert!(tx.audit_chain(0, 10).await.unwrap().is_empty());
    let mut platform = store.platform(Access::Read).await.unwrap();
    let ghost = TenantSlug::parse("ghost").unwrap();
    assert!(platform.tenant_by_slug(&ghost).await.unwrap().is_none());
}

pub async fn a_failed_statement_aborts_the_whole_transaction(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.insert_api_key(fixtures::api_key("before", None))
        .await
        .unwrap();
    let error = tx
        .insert_membership(fixtures::membership(owner.id, Role::Viewer))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict(ConflictKind::Membership)),
        "{error:?}"
    );
    // PostgreSQL aborts the transaction here; the contract says so for
    // every backend, so a service cannot commit half of its work.
    let error = tx.commit().await.unwrap_err();
    assert!(matches!(error, StoreError::TransactionAborted), "{error:?}");
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(tx.list_api_keys(Page::first(10)).await.unwrap().is_empty());
}

pub async fn read_transactions_cannot_write(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    assert!(
        tx.insert_api_key(fixtures::api_key("nope", None))
            .await
            .is_err()
    );
    drop(tx);
    let mut tx = store.platform(Access::Read).await.unwrap();
    assert!(tx.set_password_hash(owner.id, "x", at(1)).await.is_err());
}

pub async fn tenant_admins_list_and_search_tenants_and_suspend_them(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let mut ids = Vec::new();
    for slug in ["acme", "globex", "initech", "acme-eu"] {
        ids.push(fixtures::tenant(store, slug, &owner).await.id);
    }
    let mut tx = store.platform(Access::Write).await.unwrap();
    let all = tx.list_tenants(None, Page::first(100)).await.unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), ids);
    let page = tx
        .list_tenants(
            None,
            Page {
                after: Some(ids[1]),
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page[0].id, ids[2]);
    let found = tx
        .list_tenants(Some("ACME"), Page::first(100))
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(
        tx.list_tenants(Some("%"), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.set_tenant_suspended(ids[0], Some(at(1)), at(1))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.tenant_by_id(ids[0]).await.unwrap().unwrap().suspended_at,
        Some(at(1))
    );
    assert!(tx.set_tenant_suspended(ids[0], None, at(2)).await.unwrap());
    assert_eq!(
        tx.tenant_by_id(ids[0]).await.unwrap().unwrap().suspended_at,
        None
    );
}

pub async fn deleting_a_tenant_removes_all_its_data_and_nothing_else(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let doomed = fixtures::tenant(store, "doomed", &owner).await;
    let kept = fixtures::tenant(store, "kept", &owner).await;
    for tenant in [&doomed, &kept] {
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        tx.insert_api_key(fixtures::api_key("key", None))
            .await
            .unwrap();
        tx.insert_invitation(fixtures::invitation("x@example.com", 60))
            .await
            .unwrap();
        tx.append_audit(fixtures::audit("something", None))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let kept_before = crate::isolation::snapshot(store, kept.id).await;
    let mut tx = store.tenant(doomed.id, Access::Write).await.unwrap();
    assert!(tx.delete_tenant().await.unwrap());
    tx.commit().await.unwrap();

    let after = crate::isolation::snapshot(store, doomed.id).await;
    assert!(after.is_empty(), "left behind: {after:?}");
    assert_eq!(
        crate::isolation::snapshot(store, kept.id).await,
        kept_before
    );
    let memberships = store.memberships_of_user(owner.id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].tenant.id, kept.id);
}

pub async fn a_tenant_handle_never_reaches_another_tenants_rows(ts: &TestStore) {
    crate::isolation::run(&*ts.store).await;
}

pub async fn the_isolation_table_covers_every_tenant_table(ts: &TestStore) {
    let mut from_catalog = ts.tenant_tables.clone();
    from_catalog.sort();
    let mut registry: Vec<String> = TenantTable::names().map(str::to_owned).collect();
    registry.sort();
    assert_eq!(
        from_catalog, registry,
        "every table with a tenant_id column must be in the registry of tenant tables"
    );
    // DeleteTenant names every table; the other operations must reach each
    // one between them.
    let mut covered: Vec<String> = crate::isolation::OPS
        .into_iter()
        .filter(|op| *op != crate::isolation::Op::DeleteTenant)
        .flat_map(|op| op.tables().iter().map(|table| table.name().to_owned()))
        .collect();
    covered.sort();
    covered.dedup();
    assert_eq!(
        covered, registry,
        "every tenant table must be covered by the isolation table"
    );
}

pub async fn invalidations_reach_listeners_when_their_transaction_commits(ts: &TestStore) {
    use std::sync::Mutex;

    use bulkhead_store::{Invalidation, Notice};

    let store = &*ts.store;
    let seen: Arc<Mutex<Vec<Invalidation>>> = Arc::default();
    let sink = Arc::clone(&seen);
    store.on_notice(Arc::new(move |notice| {
        if let Notice::Invalidated(invalidation) = notice {
            sink.lock().unwrap().push(invalidation);
        }
    }));
    let owner = fixtures::user(store, "owner@example.com").await;
    let tenant = fixtures::tenant(store, "acme", &owner).await;

    let committed = Invalidation::Membership(tenant.id, owner.id);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.invalidate(committed);
    assert!(
        !seen.lock().unwrap().contains(&committed),
        "delivered before commit"
    );
    tx.commit().await.unwrap();
    assert!(
        seen.lock().unwrap().contains(&committed),
        "not delivered by the time commit returned"
    );

    let rolled_back = Invalidation::Tenant(tenant.id);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.invalidate(rolled_back);
    drop(tx);
    let session = Invalidation::User(owner.id);
    let mut tx = store.platform(Access::Write).await.unwrap();
    tx.invalidate(session);
    tx.commit().await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.contains(&session));
    assert!(
        !seen.contains(&rolled_back),
        "a rolled-back transaction's invalidation was delivered"
    );
}
