//! Outsiders' denied attempts (issue 17, defect 6), read back from the
//! store: none in the tenant's log, a bounded summary in the platform's.

use bulkhead_service::{Principal, ServiceError};
use bulkhead_store::Access;

use crate::support::{World, ctx};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_members_flood_is_one_platform_entry_with_its_count() {
    let world = World::new();
    let services = &world.services;
    let owner = world.signup("owner@example.com", "192.0.2.1").await;
    let owner = world.authenticate(&owner).await.unwrap();
    let (tenant, _) = services
        .tenancy
        .create_tenant(&owner, "secret-corp", "Secret Corp", &ctx("192.0.2.1"))
        .await
        .unwrap();
    let stranger = world.signup("stranger@example.com", "192.0.2.2").await;
    let stranger_id = *stranger.user.id.as_uuid();
    let stranger: Principal = world.authenticate(&stranger).await.unwrap();
    services.flush_denials().await.unwrap();
    let tenant_log_before = tenant_log_length(&world, tenant.id).await;
    let platform_before = platform_log(&world).await.len();

    for _ in 0..1_000 {
        for reference in ["secret-corp", "no-such-corp"] {
            let error = services
                .tenancy
                .tenant_access(&stranger, reference, &ctx("192.0.2.2"))
                .await
                .unwrap_err();
            assert!(matches!(error, ServiceError::TenantNotFound), "{error:?}");
        }
        services
            .tenancy
            .record_unauthenticated("secret-corp", &ctx("192.0.2.3"))
            .await;
    }
    assert_eq!(
        tenant_log_length(&world, tenant.id).await,
        tenant_log_before,
        "outsiders wrote into the tenant's log"
    );
    assert_eq!(services.flush_denials().await.unwrap(), 2);
    let platform = platform_log(&world).await;
    let added = &platform[platform_before..];
    assert_eq!(added.len(), 2, "{added:?}");
    let mine = added
        .iter()
        .find(|e| e.actor_id == Some(stranger_id))
        .unwrap();
    assert_eq!(mine.action, "tenant.access");
    assert_eq!(mine.details["n_attempts"], 2_000);
    assert_eq!(
        mine.details["targets"],
        serde_json::json!([tenant.id.to_string(), "no-such-corp"])
    );
    let anonymous = added.iter().find(|e| e.actor_id.is_none()).unwrap();
    assert_eq!(anonymous.details["n_attempts"], 1_000);
    assert_eq!(anonymous.details["reason"], "unauthenticated");
    assert_eq!(services.flush_denials().await.unwrap(), 0, "drained");
}

async fn tenant_log_length(world: &World, tenant: bulkhead_domain::TenantId) -> usize {
    let mut tx = world.store.tenant(tenant, Access::Read).await.unwrap();
    tx.audit_chain(0, 10_000).await.unwrap().len()
}

async fn platform_log(world: &World) -> Vec<bulkhead_store::AuditEntry> {
    let mut tx = world.store.platform(Access::Read).await.unwrap();
    tx.platform_audit_chain(0, 10_000).await.unwrap()
}
