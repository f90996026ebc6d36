//! The GCRA at chosen instants: no clock, no sleeping.

use super::*;

const T0: i64 = 1_780_000_000 * MICROS_PER_SECOND;

/// Runs `n` requests at `now` on one key, returning its TAT and each
/// decision.
fn burst(tat: Option<i64>, now: i64, quota: Quota, n: u32) -> (Option<i64>, Vec<Decision>) {
    let mut tat = tat;
    let mut decisions = Vec::new();
    for _ in 0..n {
        let decision = decide(tat, now, quota);
        if decision.allowed {
            tat = Some(decision.new_tat);
        }
        decisions.push(decision);
    }
    (tat, decisions)
}

#[test]
fn a_fresh_key_sends_exactly_its_count_at_once_then_is_refused() {
    let quota = Quota::per_minute(5);
    let (_, decisions) = burst(None, T0, quota, 7);
    let allowed: Vec<bool> = decisions.iter().map(|d| d.allowed).collect();
    assert_eq!(allowed, [true, true, true, true, true, false, false]);
    let remaining: Vec<u32> = decisions.iter().map(|d| d.remaining).collect();
    assert_eq!(remaining, [4, 3, 2, 1, 0, 0, 0]);
    // One request's worth comes back after one interval (12 s); the whole
    // quota after a minute.
    assert_eq!(decisions[5].retry_after, 12 * MICROS_PER_SECOND);
    assert_eq!(decisions[5].reset, 60 * MICROS_PER_SECOND);
    assert_eq!(decisions[4].reset, 60 * MICROS_PER_SECOND);
    assert_eq!(decisions[0].reset, 12 * MICROS_PER_SECOND);
}

#[test]
fn time_gives_back_one_request_per_interval_and_never_more_than_the_count() {
    let quota = Quota::per_minute(5);
    let (tat, _) = burst(None, T0, quota, 5);
    let just_before = T0 + 12 * MICROS_PER_SECOND - 1;
    assert!(!decide(tat, just_before, quota).allowed);
    let (tat, decisions) = burst(tat, T0 + 12 * MICROS_PER_SECOND, quota, 2);
    assert!(decisions[0].allowed);
    assert!(!decisions[1].allowed, "only one came back");
    // Long idle: the full quota, not more.
    let later = T0 + 3600 * MICROS_PER_SECOND;
    let (_, decisions) = burst(tat, later, quota, 6);
    assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 5);
    assert_eq!(decisions[0].remaining, 4);
}

#[test]
fn a_refused_request_changes_nothing() {
    let quota = Quota::per_minute(2);
    let (tat, _) = burst(None, T0, quota, 2);
    let refused = decide(tat, T0, quota);
    assert!(!refused.allowed);
    assert_eq!(Some(refused.new_tat), tat);
}

#[test]
fn a_zero_quota_refuses_everything_for_a_period() {
    let quota = Quota::per_minute(0);
    let decision = decide(None, T0, quota);
    assert!(!decision.allowed);
    assert_eq!(decision.retry_after, 60 * MICROS_PER_SECOND);
    assert_eq!(decision.remaining, 0);
}

#[test]
fn a_huge_count_is_still_a_limit() {
    let quota = Quota::per_minute(u32::MAX);
    assert_eq!(quota.interval(), 1);
    let decision = decide(None, T0, quota);
    assert!(decision.allowed);
}

#[test]
fn seconds_round_up() {
    assert_eq!(seconds_up(0), 0);
    assert_eq!(seconds_up(1), 1);
    assert_eq!(seconds_up(MICROS_PER_SECOND), 1);
    assert_eq!(seconds_up(MICROS_PER_SECOND + 1), 2);
    assert_eq!(seconds_up(-5), 0);
}
