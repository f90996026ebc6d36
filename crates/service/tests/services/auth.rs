//! Login, refresh and sessions under a manual clock.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use bulkhead_service::throttle::ADDRESS_MAX_DELAY;
use bulkhead_service::{Principal, ServiceError};
use bulkhead_store::Access;
use time::Duration;

use crate::support::{PASSWORD, World, assert_invalid_credentials, ctx, throttled_secs};

const WRONG: &str = "wrong password here";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_and_wrong_password_fail_alike() {
    let world = World::new();
    world.signup("ada@example.com", "192.0.2.1").await;
    let unknown = world.login("bob@example.com", PASSWORD, "192.0.2.2").await;
    let wrong = world.login("ada@example.com", WRONG, "192.0.2.3").await;
    assert_invalid_credentials(unknown);
    assert_invalid_credentials(wrong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_quick_failure_is_throttled_and_time_lifts_it() {
    let world = World::new();
    world.signup("ada@example.com", "192.0.2.1").await;
    for _ in 0..5 {
        assert_invalid_credentials(world.login("ada@example.com", WRONG, "192.0.2.9").await);
    }
    // Even the right password waits now: the delay belongs to the account.
    let result = world
        .login("ada@example.com", PASSWORD, "198.51.100.1")
        .await;
    assert_eq!(throttled_secs(result), 1);
    world.clock.advance(Duration::seconds(1));
    world
        .login("ada@example.com", PASSWORD, "198.51.100.1")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_with_weaker_parameters_is_upgraded_at_login() {
    let world = World::new();
    let tokens = world.signup("ada@example.com", "192.0.2.1").await;
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8192, 1, 1, None).unwrap(),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &SaltString::generate(&mut rand::rngs::OsRng),
    )
    .unwrap()
    .to_string();
    let mut tx = world.store.platform(Access::Write).await.unwrap();
    tx.set_password_hash(tokens.user.id, &weak, world.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    world
        .login("ada@example.com", PASSWORD, "192.0.2.1")
        .await
        .unwrap();
    let mut tx = world.store.platform(Access::Read).await.unwrap();
    let stored = tx
        .user(tokens.user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_refused_and_after_the_grace_window_revokes_the_session() {
    let world = World::new();
    let first = world.signup("ada@example.com", "192.0.2.1").await;
    let second = world.refresh(&first, "192.0.2.1").await.unwrap();

    // Within the grace window: refused, session intact.
    let error = world.refresh(&first, "192.0.2.1").await.unwrap_err();
    assert!(matches!(error, ServiceError::InvalidRefreshToken));
    world.authenticate(&second).await.unwrap();

    // After it: reuse, and the whole session ends, access token included.
    world.clock.advance(Duration::seconds(11));
    let error = world.refresh(&first, "192.0.2.1").await.unwrap_err();
    assert!(matches!(error, ServiceError::InvalidRefreshToken));
    assert!(world.refresh(&second, "192.0.2.1").await.is_err());
    let error = world.authenticate(&second).await.unwrap_err();
    assert!(matches!(error, ServiceError::Unauthenticated), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_thirty_idle_minutes_and_twelve_hours_in_all() {
    let world = World::new();
    let tokens = world.signup("ada@example.com", "192.0.2.1").await;
    world
        .clock
        .advance(Duration::minutes(30) + Duration::seconds(1));
    assert!(
        world.refresh(&tokens, "192.0.2.1").await.is_err(),
        "idle timeout"
    );

    let mut tokens = world
        .login("ada@example.com", PASSWORD, "192.0.2.1")
        .await
        .unwrap();
    for _ in 0..(12 * 60 / 20) {
        world.clock.advance(Duration::minutes(20));
        match world.refresh(&tokens, "192.0.2.1").await {
            Ok(next) => tokens = next,
            Err(_) => return, // the absolute limit ended it
        }
    }
    panic!("a session outlived twelve hours of steady refreshing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_stops_working_at_logout_before_it_expires() {
    let world = World::new();
    let tokens = world.signup("ada@example.com", "192.0.2.1").await;
    let principal = world.authenticate(&tokens).await.unwrap();
    assert!(matches!(principal, Principal::User { .. }));
    world
        .services
        .identity
        .logout(&principal, &ctx("192.0.2.1"))
        .await
        .unwrap();
    let error = world.authenticate(&tokens).await.unwrap_err();
    assert!(matches!(error, ServiceError::Unauthenticated), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_expire_after_fifteen_minutes_and_thirty_seconds() {
    let world = World::new();
    let tokens = world.signup("ada@example.com", "192.0.2.1").await;
    world
        .clock
        .advance(Duration::minutes(15) + Duration::seconds(30));
    world.authenticate(&tokens).await.unwrap();
    world.clock.advance(Duration::seconds(1));
    assert!(world.authenticate(&tokens).await.is_err());
}

/// Issue 17, defect 5: a hundred and fifty failures against other accounts
/// from one address, one every two seconds, once closed it to everyone for
/// the rest of the hour; and then, when the address only slowed wrong
/// passwords after checking them, a client that ignored Retry-After still
/// had every guess checked. Now a slowed address is refused before any
/// password work (about one checked guess per 4 s), except for accounts
/// that succeeded from it before, and a refusal is not a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowed_address_checks_no_password_except_for_accounts_known_there() {
    let world = World::new();
    const SHARED: &str = "203.0.113.7";
    // Ada signed up from the shared address; Bob never used it.
    world.signup("ada@example.com", SHARED).await;
    world.signup("bob@example.com", "192.0.2.1").await;
    let (mut n_checked, mut n_slowed) = (0, 0);
    for n in 0..150 {
        let email = format!("stuffed{n}@example.com");
        match world.login(&email, "not anybody's", SHARED).await {
            Err(ServiceError::InvalidCredentials) => n_checked += 1,
            Err(ServiceError::Throttled { retry_after_secs }) => {
                n_slowed += 1;
                assert!(retry_after_secs <= 4, "attempt {n}: {retry_after_secs} s")
            }
            other => panic!("attempt {n}: {other:?}"),
        }
        world.clock.advance(Duration::seconds(2));
    }
    // Five free failures, then the delay grows 1, 2, 4 s and stays at 4 s:
    // one checked guess per two 2-second steps.
    assert!(
        n_checked <= 5 + 2 + 150 / 2,
        "{n_checked} of 150 guesses from a slowed address were checked"
    );
    assert!(
        n_slowed >= 70,
        "the address was slowed only {n_slowed} times"
    );

    // Once the delay is waited out a guess is checked, and the address
    // waits again.
    world.clock.advance(ADDRESS_MAX_DELAY);
    assert_invalid_credentials(
        world
            .login("stuffed@example.com", "not anybody's", SHARED)
            .await,
    );
    // Bob's right password is refused without being checked, exactly like
    // a wrong one and an unknown email (A4), and the refusals, however
    // many, neither lengthen the address's delay nor count against Bob.
    let wait = throttled_secs(world.login("bob@example.com", PASSWORD, SHARED).await);
    assert_eq!(wait, 4);
    for _ in 0..20 {
        for (email, password) in [
            ("bob@example.com", PASSWORD),
            ("bob@example.com", WRONG),
            ("nobody@example.com", WRONG),
        ] {
            assert_eq!(
                throttled_secs(world.login(email, password, SHARED).await),
                wait,
                "{email}"
            );
        }
    }
    // Ada succeeded from there before: her right password logs in at once.
    world
        .login("ada@example.com", PASSWORD, SHARED)
        .await
        .unwrap();
    // Bob waits out the delay once, and then is known there too.
    world.clock.advance(ADDRESS_MAX_DELAY);
    world
        .login("bob@example.com", PASSWORD, SHARED)
        .await
        .unwrap();
    let _ = world
        .login("stuffed@example.com", "not anybody's", SHARED)
        .await
        .unwrap_err();
    assert!(matches!(
        world.login("nobody@example.com", PASSWORD, SHARED).await,
        Err(ServiceError::Throttled { .. })
    ));
    world
        .login("bob@example.com", PASSWORD, SHARED)
        .await
        .unwrap();
    // Failed logins never slow sign-ups from the address.
    world.signup("newcomer@example.com", SHARED).await;
}

/// A known pair's attempts are held by its account's strict limit (A3),
/// not let through without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_pair_still_waits_for_its_account() {
    let world = World::new();
    const SHARED: &str = "203.0.113.7";
    world.signup("ada@example.com", SHARED).await;
    for _ in 0..5 {
        assert_invalid_credentials(world.login("ada@example.com", WRONG, SHARED).await);
    }
    assert_eq!(
        throttled_secs(world.login("ada@example.com", PASSWORD, SHARED).await),
        1
    );
}
