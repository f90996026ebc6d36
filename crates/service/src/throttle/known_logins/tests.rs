//! The memory of known (address, account) pairs, driven by a manual clock.

use std::sync::Arc;

use bulkhead_domain::ManualClock;
use time::macros::datetime;

use super::*;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)))
}

#[test]
fn a_pair_is_known_only_as_itself() {
    let known = KnownLogins::new(clock());
    known.remember("192.0.2.1", "ada@example.com");
    assert!(known.is_known("192.0.2.1", "ada@example.com"));
    assert!(!known.is_known("192.0.2.1", "bob@example.com"));
    assert!(!known.is_known("192.0.2.2", "ada@example.com"));
    assert!(
        !known.is_known("192.0.2.1a", "da@example.com"),
        "the parts do not run into each other"
    );
}

#[test]
fn a_pair_is_forgotten_after_thirty_days_unless_it_succeeds_again() {
    let clock = clock();
    let known = KnownLogins::new(clock.clone());
    known.remember("192.0.2.1", "ada@example.com");
    known.remember("192.0.2.1", "bob@example.com");
    clock.advance(Duration::days(29));
    known.remember("192.0.2.1", "bob@example.com");
    assert!(known.is_known("192.0.2.1", "ada@example.com"));
    clock.advance(Duration::days(1));
    assert!(!known.is_known("192.0.2.1", "ada@example.com"));
    assert!(
        known.is_known("192.0.2.1", "bob@example.com"),
        "a new success renews the pair"
    );
}

#[test]
fn the_memory_is_bounded_and_expired_pairs_go_first() {
    let clock = clock();
    let known = KnownLogins::with_capacity(clock.clone(), 100);
    for n in 0..100 {
        known.remember("192.0.2.1", &format!("old{n}@example.com"));
    }
    clock.advance(REMEMBER_FOR);
    known.remember("192.0.2.1", "new@example.com");
    assert_eq!(known.len(), 1, "the expired pairs made room");
    assert!(known.is_known("192.0.2.1", "new@example.com"));
}

#[test]
fn a_full_memory_drops_the_least_recently_used_pairs() {
    let clock = clock();
    let known = KnownLogins::with_capacity(clock.clone(), 100);
    for n in 0..1_000 {
        known.remember("192.0.2.1", &format!("user{n}@example.com"));
        clock.advance(Duration::seconds(1));
        assert!(known.len() <= 100, "{} pairs after {n}", known.len());
    }
    assert!(known.is_known("192.0.2.1", "user999@example.com"));
    assert!(known.is_known("192.0.2.1", "user950@example.com"));
    assert!(!known.is_known("192.0.2.1", "user0@example.com"));
    assert!(!known.is_known("192.0.2.1", "user850@example.com"));
}

#[test]
fn remembering_a_known_pair_again_takes_no_room() {
    let known = KnownLogins::with_capacity(clock(), 2);
    known.remember("192.0.2.1", "ada@example.com");
    known.remember("192.0.2.1", "bob@example.com");
    known.remember("192.0.2.1", "ada@example.com");
    assert!(known.is_known("192.0.2.1", "bob@example.com"));
    assert_eq!(known.len(), 2);
}
