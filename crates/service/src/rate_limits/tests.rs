//! The in-process limiter, the verdict over several keys and the realtime
//! caps, at chosen instants.

use bulkhead_domain::{Role, SessionId, TenantSlug};
use bulkhead_store::Tenant;
use time::macros::datetime;

use super::*;

const T0: i64 = 1_780_000_000_000_000;

fn user() -> LimitKey {
    LimitKey::User(UserId::new())
}

fn tenant() -> LimitKey {
    LimitKey::Tenant(TenantId::new())
}

#[test]
fn a_request_is_taken_from_every_key_or_from_none() {
    let limiter = LocalLimiter::default();
    let (alice, bob, acme) = (user(), user(), tenant());
    let principal = Quota::per_minute(10);
    let tenant_quota = Quota::per_minute(3);
    for _ in 0..3 {
        let decisions = limiter.take(
            &[(alice.clone(), principal), (acme.clone(), tenant_quota)],
            T0,
        );
        assert!(decisions.iter().all(|d| d.allowed));
    }
    // The tenant is spent: Bob is refused there, and his own budget is
    // untouched by the refusal.
    let refused = limiter.take(
        &[(bob.clone(), principal), (acme.clone(), tenant_quota)],
        T0,
    );
    assert!(refused[0].allowed && !refused[1].allowed);
    let alone = limiter.take(&[(bob.clone(), principal)], T0);
    assert_eq!(
        alone[0].remaining, 9,
        "the refused request cost Bob nothing"
    );
}

#[test]
fn one_tenant_at_its_limit_leaves_another_alone() {
    let limiter = LocalLimiter::default();
    let (acme, globex) = (tenant(), tenant());
    let quota = Quota::per_minute(2);
    for _ in 0..5 {
        limiter.take(&[(acme.clone(), quota)], T0);
    }
    let other = limiter.take(&[(globex, quota)], T0);
    assert!(other[0].allowed);
    assert_eq!(other[0].remaining, 1);
}

#[test]
fn keys_whose_time_has_passed_are_forgotten_once_a_shard_is_large() {
    let limiter = LocalLimiter::default();
    let quota = Quota::per_minute(1);
    for i in 0..200_000 {
        limiter.take(&[(LimitKey::AuthAddress(format!("10.{i}")), quota)], T0);
    }
    assert_eq!(limiter.len(), 200_000, "nothing is dropped while it counts");
    let later = T0 + 120 * 1_000_000;
    for i in 0..2_000 {
        limiter.take(&[(LimitKey::AuthAddress(format!("11.{i}")), quota)], later);
    }
    assert!(
        limiter.len() <= 2_000,
        "stale keys were dropped: {} left",
        limiter.len()
    );
}

#[test]
fn the_verdict_names_the_tightest_limit_and_the_longest_wait() {
    let limits = [
        (user(), Quota::per_minute(600)),
        (tenant(), Quota::per_minute(5)),
    ];
    let fresh = [
        gcra::decide(None, T0, limits[0].1),
        gcra::decide(None, T0, limits[1].1),
    ];
    assert_eq!(
        verdict(&limits, &fresh),
        Ok(Some(RateLimitStatus {
            limit: 5,
            remaining: 4,
            reset_secs: 12,
        }))
    );
    let tenant_spent = Some(T0 + 60 * 1_000_000);
    let refused = [
        gcra::decide(None, T0, limits[0].1),
        gcra::decide(tenant_spent, T0, limits[1].1),
    ];
    assert_eq!(
        verdict(&limits, &refused),
        Err(RateLimited {
            limit: 5,
            reset_secs: 60,
            retry_after_secs: 12,
        })
    );
    assert_eq!(verdict(&[], &[]), Ok(None), "no limit, no headers");
}

fn access(tenant: TenantId, user: UserId) -> TenantAccess {
    let at = datetime!(2026-06-01 12:00 UTC);
    let tenant = Tenant {
        id: tenant,
        slug: TenantSlug::parse("acme").unwrap(),
        name: "Acme".into(),
        plan: "free".into(),
        suspended_at: None,
        charge_markup: None,
        created_at: at,
        updated_at: at,
    };
    let principal = Principal::User {
        user,
        session: SessionId::new(),
    };
    TenantAccess::new(tenant, Role::Member, principal)
}

#[tokio::test]
async fn open_subscriptions_are_capped_per_principal_and_per_tenant_and_freed_on_drop() {
    let slots = StreamSlots::new(Some(2), None);
    let (acme, ada, bob) = (TenantId::new(), UserId::new(), UserId::new());
    let first = slots
        .acquire(&access(acme, ada), Some(3), false)
        .await
        .unwrap();
    let _second = slots
        .acquire(&access(acme, ada), Some(3), false)
        .await
        .unwrap();
    let refused = slots
        .acquire(&access(acme, ada), Some(3), false)
        .await
        .unwrap_err();
    assert_eq!(refused.limit, 2, "Ada's own cap");
    let _bobs = slots
        .acquire(&access(acme, bob), Some(3), false)
        .await
        .unwrap();
    let refused = slots
        .acquire(&access(acme, bob), Some(3), false)
        .await
        .unwrap_err();
    assert_eq!(refused.limit, 3, "the tenant's cap");
    assert_eq!(refused.retry_after_secs, streams::RETRY_AFTER_SECS);
    drop(first);
    assert_eq!(slots.n_open(&LimitKey::User(ada)), 1);
    assert_eq!(slots.n_open(&LimitKey::Tenant(acme)), 2);
    let _again = slots
        .acquire(&access(acme, bob), Some(3), false)
        .await
        .unwrap();
    // Forced (an exempt admin): counted, never refused.
    let _forced = slots
        .acquire(&access(acme, ada), Some(3), true)
        .await
        .unwrap();
    assert_eq!(slots.n_open(&LimitKey::Tenant(acme)), 4);
}

#[tokio::test]
async fn a_tenant_allowed_no_subscriptions_gets_none() {
    let slots = StreamSlots::new(None, None);
    let refused = slots
        .acquire(&access(TenantId::new(), UserId::new()), Some(0), false)
        .await
        .unwrap_err();
    assert_eq!(refused.limit, 0);
}
