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

const KEY: &[&str] = &["account:ada@example.com"];

#[test]
fn the_first_failures_are_free_then_the_delay_doubles_up_to_a_cap() {
    let (clock, throttle) = throttle();
    for _ in 0..FREE_FAILURES - 1 {
        throttle.record_failure(KEY);
        assert_eq!(throttle.check(KEY), Ok(()));
    }
    throttle.record_failure(KEY);
    assert_eq!(throttle.check(KEY), Err(1));
    clock.advance(Duration::seconds(1));
    assert_eq!(throttle.check(KEY), Ok(()));
    throttle.record_failure(KEY);
    assert_eq!(throttle.check(KEY), Err(2));
    for _ in 0..20 {
        throttle.record_failure(KEY);
    }
    assert_eq!(
        throttle.check(KEY),
        Err(900),
        "the delay never exceeds fifteen minutes"
    );
}

#[test]
fn a_success_restarts_the_delay() {
    let (_clock, throttle) = throttle();
    for _ in 0..FREE_FAILURES + 2 {
        throttle.record_failure(KEY);
    }
    assert!(throttle.check(KEY).is_err());
    throttle.record_success(KEY[0]);
    assert_eq!(throttle.check(KEY), Ok(()));
}

#[test]
fn the_hundred_and_first_attempt_in_an_hour_is_refused_until_the_hour_passes() {
    let (clock, throttle) = throttle();
    for _ in 0..MAX_FAILURES_PER_WINDOW {
        throttle.record_failure(KEY);
        // Someone keeps succeeding in between (or the delay is waited out):
        // only the hourly cap is left to stop them.
        throttle.record_success(KEY[0]);
        clock.advance(Duration::seconds(30));
    }
    let wait = throttle.check(KEY).unwrap_err();
    assert_eq!(wait, 10 * 60, "refused for the rest of the hour");
    clock.advance(Duration::minutes(10));
    assert_eq!(
        throttle.check(KEY),
        Ok(()),
        "usable again once the window has passed"
    );
}

#[test]
fn keys_are_independent_and_any_waiting_key_blocks() {
    let (_clock, throttle) = throttle();
    for _ in 0..FREE_FAILURES {
        throttle.record_failure(&["ip:192.0.2.1"]);
    }
    assert_eq!(throttle.check(KEY), Ok(()));
    assert!(
        throttle
            .check(&["account:ada@example.com", "ip:192.0.2.1"])
            .is_err()
    );
}
