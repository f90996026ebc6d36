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

/// A member's access to a tenant, for the caps' tests here and in
/// `streams`.
pub(super) fn access(tenant: TenantId, user: UserId) -> TenantAccess {
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

#[test]
fn a_batch_is_a_small_share_of_a_large_limit_and_one_request_of_a_small_one() {
    assert_eq!(leases::batch(Quota::per_minute(4)), 1);
    assert_eq!(leases::batch(Quota::per_minute(127)), 1);
    assert_eq!(leases::batch(Quota::per_minute(600)), 9);
    assert_eq!(
        leases::batch(Quota::per_minute(100_000_000)),
        leases::MAX_BATCH
    );
}

#[test]
fn a_lease_is_spent_then_expires_and_a_refused_request_gives_its_tokens_back() {
    let leases = leases::Leases::default();
    let (ada, acme) = (user(), tenant());
    let quota = Quota::per_minute(6_400);
    let limits = [(ada.clone(), quota), (acme.clone(), quota)];
    assert_eq!(
        leases.reserve(&limits, T0),
        [None, None],
        "nothing leased yet"
    );
    let grant = leases::Grant {
        tokens: 3,
        shared_remaining: 10,
        full_at: T0 + 1_000,
    };
    let served = leases.keep(&ada, quota, grant, T0);
    assert!(served.allowed);
    assert_eq!(
        served.remaining, 12,
        "the shared rest and the two held here"
    );
    assert_eq!(leases.tokens(&ada), 2);
    // Ada has tokens, the tenant has none: hers is taken, then given back
    // when the tenant refuses.
    let reserved = leases.reserve(&limits, T0);
    assert!(reserved[0].is_some() && reserved[1].is_none());
    assert_eq!(leases.tokens(&ada), 1);
    leases.give_back(&limits, &reserved, T0);
    assert_eq!(leases.tokens(&ada), 2);
    let later = T0 + leases::LEASE_TTL_MICROS;
    assert_eq!(
        leases.reserve(&limits[..1], later),
        [None],
        "an expired lease is not spent"
    );
    assert_eq!(leases.tokens(&ada), 0);
}

/// A link to the test Redis under a fresh prefix, or `None` (outside CI)
/// when none answers; under `CI=true` a missing Redis fails the test.
pub(super) async fn test_redis() -> Option<Arc<RedisLink>> {
    #[allow(clippy::disallowed_methods, reason = "tests read their own settings")]
    let url = std::env::var("BULKHEAD_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bulkhead-test:{}:", uuid::Uuid::now_v7().simple());
    let link =
        Arc::new(RedisLink::new(&url, &prefix, Arc::new(bulkhead_domain::SystemClock)).unwrap());
    let answered = link
        .run(|mut connection| async move {
            ::redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await;
    if answered.is_ok() {
        return Some(link);
    }
    #[allow(clippy::disallowed_methods, reason = "tests read their own settings")]
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("Redis at {url} does not answer; under CI the Redis tests must run");
    }
    eprintln!("SKIPPED: Redis at {url} does not answer; set BULKHEAD_TEST_REDIS_URL to run");
    None
}

#[tokio::test]
async fn two_processes_spending_leases_never_pass_the_shared_limit_together() {
    let Some(link) = test_redis().await else {
        return;
    };
    // Two processes on one Redis, each with its own leases.
    let one = SharedLimiter::new(Arc::clone(&link));
    let two = SharedLimiter::new(link);
    let ada = user();
    let quota = Quota::per_minute(6_400);
    let limits = [(ada.clone(), quota)];
    let started = std::time::Instant::now();
    let mut served = 0u64;
    for i in 0..7_000 {
        let process = if i % 3 == 0 { &one } else { &two };
        // This process's clock stands still, so no lease expires here:
        // every token Redis gave is either spent or still held.
        let decisions = process.take(&limits, || T0).await.unwrap();
        if decisions[0].allowed {
            served += 1;
        }
    }
    // Redis's clock ran: what came back while the test ran may be spent too.
    let refilled =
        u64::try_from(i64::try_from(started.elapsed().as_micros()).unwrap() / quota.interval())
            .unwrap();
    let held = u64::from(one.leased(&ada) + two.leased(&ada));
    assert!(
        served <= 6_400 + refilled + 1,
        "served {served}, refilled {refilled}"
    );
    assert!(
        served + held >= 6_400,
        "served {served} and held {held}: budget was lost"
    );
    assert!(held <= 2 * u64::from(leases::batch(quota)), "held {held}");
}

#[tokio::test]
async fn a_key_refused_in_redis_leaves_the_others_leases_untouched() {
    let Some(link) = test_redis().await else {
        return;
    };
    let limiter = SharedLimiter::new(link);
    let (ada, acme) = (user(), tenant());
    let principal = Quota::per_minute(6_400);
    let tenant_quota = Quota::per_minute(2);
    let limits = [(ada.clone(), principal), (acme, tenant_quota)];
    for _ in 0..2 {
        let decisions = limiter.take(&limits, || T0).await.unwrap();
        assert!(decisions.iter().all(|d| d.allowed), "{decisions:?}");
    }
    let leased = limiter.leased(&ada);
    assert_eq!(
        leased,
        leases::batch(principal) - 2,
        "two spent of one batch"
    );
    let refused = limiter.take(&limits, || T0).await.unwrap();
    assert!(refused[0].allowed && !refused[1].allowed, "{refused:?}");
    assert_eq!(limiter.leased(&ada), leased, "Ada's token was given back");
    let status = verdict(&limits, &refused).unwrap_err();
    assert_eq!(status.limit, 2);
    assert!(status.retry_after_secs >= 29, "{status:?}");
}

#[test]
fn three_keys_are_taken_together_too() {
    let limiter = LocalLimiter::default();
    let (ada, acme, address) = (user(), tenant(), LimitKey::AuthAddress("10.0.0.1".into()));
    let limits = [
        (ada.clone(), Quota::per_minute(10)),
        (acme.clone(), Quota::per_minute(10)),
        (address.clone(), Quota::per_minute(1)),
    ];
    assert!(limiter.take(&limits, T0).iter().all(|d| d.allowed));
    let refused = limiter.take(&limits, T0);
    assert!(refused[0].allowed && refused[1].allowed && !refused[2].allowed);
    let after = limiter.take(&limits[..2], T0);
    assert_eq!(
        (after[0].remaining, after[1].remaining),
        (8, 8),
        "the refused request took nothing"
    );
}
