//! The throttle's policy, driven by a manual clock.

use std::sync::Arc;

use bulkhead_domain::ManualClock;
use time::macros::datetime;

use super::*;

fn throttle() -> (Arc<ManualClock>, LoginThrottle) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
    let throttle = LoginThrottle::new(clock.clone());
    (clock, throttle)
}

fn account() -> ThrottleKey {
    ThrottleKey::Account("ada@example.com".into())
}

fn address() -> ThrottleKey {
    ThrottleKey::LoginAddress("192.0.2.1".into())
}

#[test]
fn the_first_failures_are_free_then_the_delay_doubles_up_to_a_cap() {
    let (clock, throttle) = throttle();
    let key = account();
    let key: &[&ThrottleKey] = &[&key];
    for _ in 0..FREE_FAILURES - 1 {
        throttle.record_failure(key);
        assert_eq!(throttle.check(key), Ok(()));
    }
    throttle.record_failure(key);
    assert_eq!(throttle.check(key), Err(1));
    clock.advance(Duration::seconds(1));
    assert_eq!(throttle.check(key), Ok(()));
    throttle.record_failure(key);
    assert_eq!(throttle.check(key), Err(2));
    for _ in 0..20 {
        throttle.record_failure(key);
    }
    assert_eq!(
        throttle.check(key),
        Err(900),
        "the delay never exceeds fifteen minutes"
    );
}

#[test]
fn a_success_restarts_the_delay() {
    let (_clock, throttle) = throttle();
    let key = account();
    let key: &[&ThrottleKey] = &[&key];
    for _ in 0..FREE_FAILURES + 2 {
        throttle.record_failure(key);
    }
    assert!(throttle.check(key).is_err());
    throttle.record_success(key[0]);
    assert_eq!(throttle.check(key), Ok(()));
}

#[test]
fn the_hundred_and_first_attempt_in_an_hour_is_refused_until_the_hour_passes() {
    let (clock, throttle) = throttle();
    let key = account();
    let key: &[&ThrottleKey] = &[&key];
    for _ in 0..MAX_FAILURES_PER_WINDOW {
        throttle.record_failure(key);
        // Someone keeps succeeding in between (or the delay is waited out):
        // only the hourly cap is left to stop them.
        throttle.record_success(key[0]);
        clock.advance(Duration::seconds(30));
    }
    let wait = throttle.check(key).unwrap_err();
    assert_eq!(wait, 10 * 60, "refused for the rest of the hour");
    clock.advance(Duration::minutes(10));
    assert_eq!(
        throttle.check(key),
        Ok(()),
        "usable again once the window has passed"
    );
}

#[test]
fn keys_are_independent_and_any_waiting_key_blocks() {
    let (_clock, throttle) = throttle();
    let (account, address) = (account(), address());
    for _ in 0..FREE_FAILURES {
        throttle.record_failure(&[&address]);
    }
    assert_eq!(throttle.check(&[&account]), Ok(()));
    assert!(throttle.check(&[&account, &address]).is_err());
}

/// A hundred failures from one address must not shut it out for the rest
/// of the hour, for everyone behind it.
#[test]
fn an_address_is_slowed_by_a_few_seconds_at_most_however_many_failures() {
    let (clock, throttle) = throttle();
    let address = address();
    let mut longest = 0;
    for n in 1..=150 {
        throttle.record_failure(&[&address]);
        if let Err(wait) = throttle.check(&[&address]) {
            longest = longest.max(wait);
        }
        assert!(
            throttle.check(&[&address]).err().unwrap_or(0) <= 4,
            "failure {n} made the address wait {:?}",
            throttle.check(&[&address])
        );
        clock.advance(Duration::seconds(1));
    }
    assert_eq!(longest, 4, "the delay grows to its cap and no further");
    clock.advance(ADDRESS_MAX_DELAY);
    assert_eq!(throttle.check(&[&address]), Ok(()));
}

#[test]
fn a_quiet_address_starts_over_after_the_window() {
    let (clock, throttle) = throttle();
    let address = address();
    for _ in 0..20 {
        throttle.record_failure(&[&address]);
    }
    clock.advance(WINDOW);
    throttle.record_failure(&[&address]);
    assert_eq!(
        throttle.check(&[&address]),
        Ok(()),
        "one failure after a quiet hour is free again"
    );
}

#[test]
fn a_success_does_not_clear_an_address() {
    let (_clock, throttle) = throttle();
    let address = address();
    for _ in 0..FREE_FAILURES {
        throttle.record_failure(&[&address]);
    }
    throttle.record_success(&address);
    assert!(
        throttle.check(&[&address]).is_err(),
        "owning one account must not reset the address between guesses at others"
    );
}

#[test]
fn sign_ups_and_logins_from_one_address_have_separate_budgets() {
    let (_clock, throttle) = throttle();
    let login = ThrottleKey::LoginAddress("192.0.2.1".into());
    let signup = ThrottleKey::SignupAddress("192.0.2.1".into());
    for _ in 0..MAX_FAILURES_PER_WINDOW {
        throttle.record_failure(&[&login]);
    }
    assert_eq!(throttle.check(&[&signup]), Ok(()));
}

#[test]
fn a_hundred_failures_still_close_an_account_for_the_hour() {
    let (clock, throttle) = throttle();
    let (account, address) = (account(), address());
    for _ in 0..MAX_FAILURES_PER_WINDOW {
        throttle.record_failure(&[&account, &address]);
        clock.advance(Duration::seconds(5));
    }
    assert!(throttle.check(&[&address]).err().unwrap_or(0) <= 4);
    assert!(
        throttle.check(&[&account]).err().unwrap_or(0) > 30 * 60,
        "the account is refused for the rest of the hour"
    );
}
