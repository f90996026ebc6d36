//! Metering through the services, on the manual clock: counts reported
//! before and after a flush alike, days without use, a failed flush that
//! keeps its counts, and a tenant deleted before its flush.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bulkhead_domain::collection::SchemaDraft;
use bulkhead_domain::{TenantId, UserId};
use bulkhead_service::metering::FlushReport;
use bulkhead_service::plans::TenantUsageReport;
use bulkhead_service::{ServiceError, TenantAccess};
use bulkhead_store::metering::{UsageDay, day_of};
use bulkhead_store::{
    Access, Backend, NewTenant, NoticeListener, PlatformTx, PoolStats, Store, StoreError, TenantTx,
    UserMembership,
};
use serde_json::json;
use time::Duration;

use crate::support::{World, ctx};

const IP: &str = "192.0.2.1";

/// A store whose tenant write transactions fail while `failing` is set.
#[derive(Debug)]
struct FlakyStore {
    inner: Arc<dyn Store>,
    failing: Arc<AtomicBool>,
}

#[async_trait]
impl Store for FlakyStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn tenant(
        &self,
        tenant: TenantId,
        access: Access,
    ) -> Result<Box<dyn TenantTx>, StoreError> {
        if access == Access::Write && self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected".into()));
        }
        self.inner.tenant(tenant, access).await
    }

    async fn create_tenant(&self, tenant: NewTenant) -> Result<Box<dyn TenantTx>, StoreError> {
        self.inner.create_tenant(tenant).await
    }

    async fn platform(&self, access: Access) -> Result<Box<dyn PlatformTx>, StoreError> {
        self.inner.platform(access).await
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<UserMembership>, StoreError> {
        self.inner.memberships_of_user(user).await
    }

    fn on_notice(&self, listener: NoticeListener) {
        self.inner.on_notice(listener);
    }

    async fn readiness(&self) -> Result<(), StoreError> {
        self.inner.readiness().await
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        self.inner.pool_stats()
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}

/// A tenant `slug` owned by `email`, with a notes collection: the owner's
/// access.
async fn tenant_with_notes(world: &World, slug: &str, email: &str) -> TenantAccess {
    let services = &world.services;
    let owner = world.signup(email, IP).await;
    let owner = world.authenticate(&owner).await.unwrap();
    services
        .tenancy
        .create_tenant(&owner, slug, "Acme", &ctx(IP))
        .await
        .unwrap();
    let access = services
        .tenancy
        .tenant_access(&owner, slug, &ctx(IP))
        .await
        .unwrap();
    let draft: SchemaDraft = serde_json::from_value(json!({
        "name": "notes",
        "fields": [{"name": "title", "type": "text", "required": true, "unique": false}],
    }))
    .unwrap();
    services
        .data
        .create_collection(&access, draft, &ctx(IP))
        .await
        .unwrap();
    access
}

async fn create_note(world: &World, access: &TenantAccess, title: &str) {
    world
        .services
        .data
        .create_record(access, "notes", &json!({ "title": title }), None, &ctx(IP))
        .await
        .unwrap();
}

async fn report(world: &World, access: &TenantAccess, days: u32) -> TenantUsageReport {
    world
        .services
        .plans
        .usage(access, days, &ctx(IP))
        .await
        .unwrap()
}

async fn stored_days(world: &World, access: &TenantAccess) -> Vec<UsageDay> {
    let today = day_of(world.now());
    let mut tx = world
        .store
        .tenant(access.tenant_id(), Access::Read)
        .await
        .unwrap();
    tx.usage_days(today - Duration::days(30), today)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_counts_the_same_before_and_after_a_flush() {
    let world = World::new();
    let metering = &world.services.metering;
    let acme = tenant_with_notes(&world, "acme", "ada@example.com").await;
    for _ in 0..5 {
        metering.note_request(&acme);
    }
    create_note(&world, &acme, "one").await;
    create_note(&world, &acme, "two").await;

    let before = report(&world, &acme, 2).await;
    let today = day_of(world.now());
    assert_eq!(before.daily.len(), 2);
    assert_eq!(
        before.daily[0],
        UsageDay::quiet(today - Duration::days(1), 0)
    );
    let expected = UsageDay {
        day: today,
        requests: 5,
        records_created: 2,
        storage_bytes: before.usage.storage_bytes,
        active_users: 1,
    };
    assert_eq!(before.daily[1], expected);
    assert!(before.usage.storage_bytes > 0);
    assert_eq!(before.requests_this_minute, 5);
    assert!(
        stored_days(&world, &acme).await.is_empty(),
        "nothing is written per request"
    );

    let flushed = metering.flush().await.unwrap();
    assert_eq!(
        flushed,
        FlushReport {
            written: 1,
            ..FlushReport::default()
        }
    );
    assert_eq!(stored_days(&world, &acme).await, vec![expected]);
    let after = report(&world, &acme, 2).await;
    assert_eq!(
        after.daily, before.daily,
        "flushed counts are not counted twice"
    );
    // The same user again after the flush is still one active user.
    metering.note_request(&acme);
    let again = report(&world, &acme, 1).await;
    assert_eq!(
        (again.daily[0].requests, again.daily[0].active_users),
        (6, 1)
    );
    assert_eq!(metering.flush().await.unwrap().written, 1);
    assert_eq!(stored_days(&world, &acme).await[0].active_users, 1);
    assert_eq!(metering.flush().await.unwrap(), FlushReport::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_without_use_carry_the_stored_bytes_of_the_last_day_with_use() {
    let world = World::new();
    let metering = &world.services.metering;
    let acme = tenant_with_notes(&world, "acme", "ada@example.com").await;
    let first_day = day_of(world.now());
    create_note(&world, &acme, "one").await;
    metering.note_request(&acme);
    metering.flush().await.unwrap();
    let stored_then = stored_days(&world, &acme).await[0].storage_bytes;
    assert!(stored_then > 0);

    // Two quiet days; then a third with a write.
    world.clock.advance(Duration::days(3));
    create_note(&world, &acme, "a second, longer title").await;
    let report = report(&world, &acme, 5).await;
    let today = day_of(world.now());
    assert_eq!(today - first_day, Duration::days(3));
    let storage: Vec<u64> = report.daily.iter().map(|d| d.storage_bytes).collect();
    let now = report.usage.storage_bytes;
    assert!(now > stored_then);
    assert_eq!(storage, vec![0, stored_then, stored_then, stored_then, now]);
    let days: Vec<_> = report.daily.iter().map(|d| d.day).collect();
    assert_eq!(days.first(), Some(&(first_day - Duration::days(1))));
    assert_eq!(days.last(), Some(&today));
    let requests: Vec<u64> = report.daily.iter().map(|d| d.requests).collect();
    assert_eq!(requests, vec![0, 1, 0, 0, 0]);
    assert_eq!(report.daily[4].records_created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_keeps_its_counts_for_the_next() {
    let failing = Arc::new(AtomicBool::new(false));
    let world = World::with_store(|inner| {
        Arc::new(FlakyStore {
            inner,
            failing: Arc::clone(&failing),
        })
    });
    let metering = &world.services.metering;
    let acme = tenant_with_notes(&world, "acme", "ada@example.com").await;
    create_note(&world, &acme, "one").await;
    for _ in 0..3 {
        metering.note_request(&acme);
    }
    failing.store(true, Ordering::SeqCst);
    let failed = metering.flush().await;
    assert!(
        matches!(failed, Err(ServiceError::Store(StoreError::Unavailable(_)))),
        "{failed:?}"
    );
    // Counted while the store was down.
    metering.note_request(&acme);
    failing.store(false, Ordering::SeqCst);
    assert_eq!(metering.flush().await.unwrap().written, 1);
    let stored = stored_days(&world, &acme).await;
    assert_eq!(
        (
            stored[0].requests,
            stored[0].records_created,
            stored[0].active_users
        ),
        (4, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_deleted_before_its_flush_takes_its_counts_along() {
    let world = World::new();
    let metering = &world.services.metering;
    let acme = tenant_with_notes(&world, "acme", "ada@example.com").await;
    let globex = tenant_with_notes(&world, "globex", "bob@example.com").await;
    metering.note_request(&acme);
    metering.note_request(&globex);
    world
        .services
        .tenancy
        .delete_tenant(&acme, &ctx(IP))
        .await
        .unwrap();
    let flushed = metering.flush().await.unwrap();
    assert_eq!(
        flushed,
        FlushReport {
            written: 1,
            kept: 0,
            dropped: 1
        }
    );
    assert_eq!(stored_days(&world, &globex).await[0].requests, 1);
    assert_eq!(metering.flush().await.unwrap(), FlushReport::default());
}
