//! The realtime caps shared through Redis, with two [`StreamSlots`] on one
//! Redis standing for two processes of a deployment.
//!
//! These need a Redis at `BULKHEAD_TEST_REDIS_URL` (by default
//! `redis://127.0.0.1:6379`); without one they are skipped with a message,
//! except under `CI=true`, where they fail. Each test keeps its keys under
//! a prefix of its own.

use std::sync::Arc;

use bulkhead_domain::{SystemClock, TenantId, UserId};

use super::*;
use crate::rate_limits::tests::{access, test_redis};

/// How many slots Redis holds under `key`, expired ones included.
async fn n_held(link: &RedisLink, key: &LimitKey) -> u64 {
    let key = link.key("streams", &key.to_string());
    link.run(|mut connection| async move {
        ::redis::cmd("ZCARD")
            .arg(key)
            .query_async(&mut connection)
            .await
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn two_processes_share_a_principals_and_a_tenants_cap() {
    let Some(link) = test_redis().await else {
        return;
    };
    let one = StreamSlots::new(Some(2), Some(Arc::clone(&link)));
    let two = StreamSlots::new(Some(2), Some(Arc::clone(&link)));
    let (acme, ada, bob) = (TenantId::new(), UserId::new(), UserId::new());
    let first = one
        .acquire(&access(acme, ada), Some(3), false)
        .await
        .unwrap();
    let _second = two
        .acquire(&access(acme, ada), Some(3), false)
        .await
        .unwrap();
    for process in [&one, &two] {
        let refused = process
            .acquire(&access(acme, ada), Some(3), false)
            .await
            .unwrap_err();
        assert_eq!(refused.limit, 2, "Ada's cap, across both processes");
    }
    assert_eq!(
        one.n_open(&LimitKey::User(ada)),
        1,
        "a refusal counts nothing"
    );
    let _bobs = one
        .acquire(&access(acme, bob), Some(3), false)
        .await
        .unwrap();
    let refused = two
        .acquire(&access(acme, bob), Some(3), false)
        .await
        .unwrap_err();
    assert_eq!(refused.limit, 3, "the tenant's cap, across both processes");
    assert_eq!(refused.retry_after_secs, RETRY_AFTER_SECS);
    assert_eq!(n_held(&link, &LimitKey::Tenant(acme)).await, 3);

    // A closed stream's place goes back to every process.
    drop(first);
    one.shared.as_ref().unwrap().renew_now().await;
    assert_eq!(n_held(&link, &LimitKey::Tenant(acme)).await, 2);
    let _again = two
        .acquire(&access(acme, ada), Some(3), false)
        .await
        .unwrap();
    // An exempt admin's slot is counted, never refused.
    let _forced = two
        .acquire(&access(acme, ada), Some(3), true)
        .await
        .unwrap();
    assert_eq!(n_held(&link, &LimitKey::User(ada)).await, 3);
}

#[tokio::test]
async fn slots_whose_lease_has_ended_do_not_count() {
    let Some(link) = test_redis().await else {
        return;
    };
    let slots = StreamSlots::new(Some(1), Some(Arc::clone(&link)));
    let ada = UserId::new();
    // A crashed process's slot: its lease ended a second ago.
    let key = link.key("streams", &LimitKey::User(ada).to_string());
    link.run(|mut connection| async move {
        let time: (u64, u64) = ::redis::cmd("TIME").query_async(&mut connection).await?;
        ::redis::cmd("ZADD")
            .arg(&key)
            .arg(time.0 * 1000 - 1000)
            .arg("a-crashed-process:0")
            .query_async::<()>(&mut connection)
            .await
    })
    .await
    .unwrap();
    let _slot = slots
        .acquire(&access(TenantId::new(), ada), None, false)
        .await
        .unwrap();
    assert_eq!(
        n_held(&link, &LimitKey::User(ada)).await,
        1,
        "only the live slot"
    );
}

#[tokio::test]
async fn renewal_puts_back_the_slots_redis_lost() {
    let Some(link) = test_redis().await else {
        return;
    };
    let one = StreamSlots::new(Some(1), Some(Arc::clone(&link)));
    let two = StreamSlots::new(Some(1), Some(Arc::clone(&link)));
    let (acme, ada) = (TenantId::new(), UserId::new());
    let _held = one.acquire(&access(acme, ada), None, false).await.unwrap();
    // As if Redis had restarted empty, or the lease had ended in an outage.
    let key = link.key("streams", &LimitKey::User(ada).to_string());
    link.run(|mut connection| async move {
        ::redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut connection)
            .await
    })
    .await
    .unwrap();
    one.shared.as_ref().unwrap().renew_now().await;
    let refused = two
        .acquire(&access(acme, ada), None, false)
        .await
        .unwrap_err();
    assert_eq!(refused.limit, 1, "the renewed slot counts again");
}

#[tokio::test]
async fn a_process_that_stops_gives_back_its_slots_at_once() {
    let Some(link) = test_redis().await else {
        return;
    };
    let one = StreamSlots::new(Some(2), Some(Arc::clone(&link)));
    let two = StreamSlots::new(Some(2), Some(Arc::clone(&link)));
    let (acme, ada) = (TenantId::new(), UserId::new());
    let held = [
        one.acquire(&access(acme, ada), None, false).await.unwrap(),
        one.acquire(&access(acme, ada), None, false).await.unwrap(),
    ];
    assert!(two.acquire(&access(acme, ada), None, false).await.is_err());
    one.close().await;
    assert_eq!(n_held(&link, &LimitKey::User(ada)).await, 0);
    let _moved = two.acquire(&access(acme, ada), None, false).await.unwrap();
    drop(held);
}

#[tokio::test]
async fn without_redis_the_cap_holds_in_the_process() {
    // Nothing listens on port 1 of loopback: connections are refused.
    let link = RedisLink::new("redis://127.0.0.1:1", "unreachable:", Arc::new(SystemClock));
    let slots = StreamSlots::new(Some(2), Some(Arc::new(link.unwrap())));
    let (acme, ada) = (TenantId::new(), UserId::new());
    let _first = slots
        .acquire(&access(acme, ada), None, false)
        .await
        .unwrap();
    let _second = slots
        .acquire(&access(acme, ada), None, false)
        .await
        .unwrap();
    let refused = slots
        .acquire(&access(acme, ada), None, false)
        .await
        .unwrap_err();
    assert_eq!(refused.limit, 2);
}
