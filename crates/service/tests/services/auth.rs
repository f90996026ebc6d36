//! Login, refresh and sessions under a manual clock.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use bulkhead_service::throttle::ADDRESS_MAX_DELAY;
use bulkhead_service::{Principal, ServiceError};
use bulkhead_store::Access;
use time::Duration;

use crate::support::{PASSWORD, World, ctx};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_and_wrong_password_fail_alike() {
    let world = World::new();
    world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    let unknown = world
        .services
        .identity
        .login("bob@example.com", PASSWORD, &ctx("192.0.2.2"))
        .await
        .unwrap_err();
    let wrong = world
        .services
        .identity
        .login("ada@example.com", "wrong password here", &ctx("192.0.2.3"))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, ServiceError::InvalidCredentials),
        "{unknown:?}"
    );
    assert!(
        matches!(wrong, ServiceError::InvalidCredentials),
        "{wrong:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_quick_failure_is_throttled_and_time_lifts_it() {
    let world = World::new();
    world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    for _ in 0..5 {
        let error = world
            .services
            .identity
            .login("ada@example.com", "wrong password here", &ctx("192.0.2.9"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ServiceError::InvalidCredentials),
            "{error:?}"
        );
    }
    // Even the right password waits now: the delay belongs to the account.
    let error = world
        .services
        .identity
        .login("ada@example.com", PASSWORD, &ctx("198.51.100.1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::Throttled {
                retry_after_secs: 1
            }
        ),
        "{error:?}"
    );
    world.clock.advance(Duration::seconds(1));
    world
        .services
        .identity
        .login("ada@example.com", PASSWORD, &ctx("198.51.100.1"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_with_weaker_parameters_is_upgraded_at_login() {
    let world = World::new();
    let tokens = world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
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
    tx.set_password_hash(tokens.user.id, &weak, world.clock_now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    world
        .services
        .identity
        .login("ada@example.com", PASSWORD, &ctx("192.0.2.1"))
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
    let first = world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    let second = world
        .services
        .identity
        .refresh(&first.refresh_token, &ctx("192.0.2.1"))
        .await
        .unwrap();

    // Within the grace window: refused, session intact.
    let error = world
        .services
        .identity
        .refresh(&first.refresh_token, &ctx("192.0.2.1"))
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::InvalidRefreshToken));
    world
        .services
        .identity
        .authenticate(&second.access_token)
        .await
        .unwrap();

    // After it: reuse, and the whole session ends, access token included.
    world.clock.advance(Duration::seconds(11));
    let error = world
        .services
        .identity
        .refresh(&first.refresh_token, &ctx("192.0.2.1"))
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::InvalidRefreshToken));
    assert!(
        world
            .services
            .identity
            .refresh(&second.refresh_token, &ctx("192.0.2.1"))
            .await
            .is_err()
    );
    let error = world
        .services
        .identity
        .authenticate(&second.access_token)
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Unauthenticated), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_thirty_idle_minutes_and_twelve_hours_in_all() {
    let world = World::new();
    let tokens = world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    world
        .clock
        .advance(Duration::minutes(30) + Duration::seconds(1));
    assert!(
        world
            .services
            .identity
            .refresh(&tokens.refresh_token, &ctx("192.0.2.1"))
            .await
            .is_err(),
        "idle timeout"
    );

    let mut tokens = world
        .services
        .identity
        .login("ada@example.com", PASSWORD, &ctx("192.0.2.1"))
        .await
        .unwrap();
    for _ in 0..(12 * 60 / 20) {
        world.clock.advance(Duration::minutes(20));
        match world
            .services
            .identity
            .refresh(&tokens.refresh_token, &ctx("192.0.2.1"))
            .await
        {
            Ok(next) => tokens = next,
            Err(_) => return, // the absolute limit ended it
        }
    }
    panic!("a session outlived twelve hours of steady refreshing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_stops_working_at_logout_before_it_expires() {
    let world = World::new();
    let tokens = world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    let principal = world
        .services
        .identity
        .authenticate(&tokens.access_token)
        .await
        .unwrap();
    assert!(matches!(principal, Principal::User { .. }));
    world
        .services
        .identity
        .logout(&principal, &ctx("192.0.2.1"))
        .await
        .unwrap();
    let error = world
        .services
        .identity
        .authenticate(&tokens.access_token)
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Unauthenticated), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_expire_after_fifteen_minutes_and_thirty_seconds() {
    let world = World::new();
    let tokens = world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    world
        .clock
        .advance(Duration::minutes(15) + Duration::seconds(30));
    world
        .services
        .identity
        .authenticate(&tokens.access_token)
        .await
        .unwrap();
    world.clock.advance(Duration::seconds(1));
    assert!(
        world
            .services
            .identity
            .authenticate(&tokens.access_token)
            .await
            .is_err()
    );
}

impl World {
    fn clock_now(&self) -> time::OffsetDateTime {
        bulkhead_domain::Clock::now(&*self.clock)
    }
}

fn throttled_secs(result: Result<bulkhead_service::auth::Tokens, ServiceError>) -> u64 {
    match result {
        Err(ServiceError::Throttled { retry_after_secs }) => retry_after_secs,
        other => panic!("expected a 429: {other:?}"),
    }
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
    let shared = ctx("203.0.113.7");
    // Ada signed up from the shared address; Bob never used it.
    world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &shared)
        .await
        .unwrap();
    world
        .services
        .identity
        .signup("bob@example.com", PASSWORD, None, &ctx("192.0.2.1"))
        .await
        .unwrap();
    let (mut n_checked, mut n_slowed) = (0, 0);
    for n in 0..150 {
        let result = world
            .services
            .identity
            .login(&format!("stuffed{n}@example.com"), "not anybody's", &shared)
            .await;
        match result {
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
    let error = world
        .services
        .identity
        .login("stuffed@example.com", "not anybody's", &shared)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ServiceError::InvalidCredentials),
        "{error:?}"
    );
    // Bob's right password is refused without being checked, exactly like
    // a wrong one and an unknown email (A4), and the refusals, however
    // many, neither lengthen the address's delay nor count against Bob.
    let wait = throttled_secs(
        world
            .services
            .identity
            .login("bob@example.com", PASSWORD, &shared)
            .await,
    );
    assert_eq!(wait, 4);
    for _ in 0..20 {
        for (email, password) in [
            ("bob@example.com", PASSWORD),
            ("bob@example.com", "wrong password here"),
            ("nobody@example.com", "wrong password here"),
        ] {
            assert_eq!(
                throttled_secs(
                    world
                        .services
                        .identity
                        .login(email, password, &shared)
                        .await
                ),
                wait,
                "{email}"
            );
        }
    }
    // Ada succeeded from there before: her right password logs in at once.
    world
        .services
        .identity
        .login("ada@example.com", PASSWORD, &shared)
        .await
        .unwrap();
    // Bob waits out the delay once, and then is known there too.
    world.clock.advance(ADDRESS_MAX_DELAY);
    world
        .services
        .identity
        .login("bob@example.com", PASSWORD, &shared)
        .await
        .unwrap();
    let _ = world
        .services
        .identity
        .login("stuffed@example.com", "not anybody's", &shared)
        .await
        .unwrap_err();
    assert!(matches!(
        world
            .services
            .identity
            .login("nobody@example.com", PASSWORD, &shared)
            .await,
        Err(ServiceError::Throttled { .. })
    ));
    world
        .services
        .identity
        .login("bob@example.com", PASSWORD, &shared)
        .await
        .unwrap();
    // Failed logins never slow sign-ups from the address.
    world
        .services
        .identity
        .signup("newcomer@example.com", PASSWORD, None, &shared)
        .await
        .unwrap();
}

/// A known pair's attempts are held by its account's strict limit (A3),
/// not let through without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_pair_still_waits_for_its_account() {
    let world = World::new();
    let shared = ctx("203.0.113.7");
    world
        .services
        .identity
        .signup("ada@example.com", PASSWORD, None, &shared)
        .await
        .unwrap();
    for _ in 0..5 {
        let error = world
            .services
            .identity
            .login("ada@example.com", "wrong password here", &shared)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ServiceError::InvalidCredentials),
            "{error:?}"
        );
    }
    assert_eq!(
        throttled_secs(
            world
                .services
                .identity
                .login("ada@example.com", PASSWORD, &shared)
                .await
        ),
        1
    );
}
