//! Rate limits through the services, on the manual clock: time moves, no
//! one sleeps.

use std::num::NonZeroU32;

use bulkhead_service::rate_limits::{RateLimitStatus, RateLimited, TenantLimits};
use bulkhead_service::{RateLimitSettings, ServiceError};
use time::Duration;

use crate::support::{World, ctx};

fn limits(per_principal: u32, per_tenant: Option<u32>) -> RateLimitSettings {
    RateLimitSettings {
        per_principal: NonZeroU32::new(per_principal),
        tenant_defaults: TenantLimits {
            requests_per_minute: per_tenant,
            realtime_connections: None,
        },
        ..RateLimitSettings::default()
    }
}

fn refused(result: Result<Option<RateLimitStatus>, ServiceError>) -> RateLimited {
    match result {
        Err(ServiceError::RateLimited(refused)) => refused,
        other => panic!("expected a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn a_principal_gets_its_quota_then_one_more_per_interval_of_the_clock() {
    let world = World::with_limits(limits(3, None));
    let tokens = world.signup("ada@example.com", "192.0.2.1").await;
    let ada = world.authenticate(&tokens).await.unwrap();
    let limits = &world.services.rate_limits;
    for remaining in (0..3).rev() {
        let status = limits.check_principal(&ada, &ctx("192.0.2.1")).await;
        assert_eq!(
            status.unwrap(),
            Some(RateLimitStatus {
                limit: 3,
                remaining,
                reset_secs: 20 * (3 - u64::from(remaining)),
            })
        );
    }
    let wait = refused(limits.check_principal(&ada, &ctx("192.0.2.1")).await);
    assert_eq!(wait.retry_after_secs, 20);
    world.clock.advance(Duration::seconds(19));
    refused(limits.check_principal(&ada, &ctx("192.0.2.1")).await);
    world.clock.advance(Duration::seconds(1));
    let status = limits.check_principal(&ada, &ctx("192.0.2.1")).await;
    assert_eq!(status.unwrap().map(|s| s.remaining), Some(0));
}

#[tokio::test]
async fn a_tenants_limit_is_shared_by_its_principals_and_refusals_cost_them_nothing() {
    let world = World::with_limits(limits(10, Some(2)));
    let owner = world.signup("ada@example.com", "192.0.2.1").await;
    let ada = world.authenticate(&owner).await.unwrap();
    let tenancy = &world.services.tenancy;
    tenancy
        .create_tenant(&ada, "acme", "Acme", &ctx("192.0.2.1"))
        .await
        .unwrap();
    let access = tenancy
        .tenant_access(&ada, "acme", &ctx("192.0.2.1"))
        .await
        .unwrap();
    let limits = &world.services.rate_limits;
    for _ in 0..2 {
        limits
            .check_tenant(&access, false, &ctx("192.0.2.1"))
            .await
            .unwrap();
    }
    let wait = refused(limits.check_tenant(&access, false, &ctx("192.0.2.1")).await);
    assert_eq!((wait.limit, wait.retry_after_secs), (2, 30));
    // Ada's own budget paid for the two served requests only.
    let status = limits.check_principal(&ada, &ctx("192.0.2.1")).await;
    assert_eq!(status.unwrap().map(|s| s.remaining), Some(7));
}
