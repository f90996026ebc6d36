//! The tally's bounds and counts, driven by a manual clock.

use std::sync::Arc;

use bulkhead_domain::ManualClock;
use time::Duration;
use time::macros::datetime;

use super::*;

fn tally() -> (Arc<ManualClock>, DenialTally) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
    (clock.clone(), DenialTally::new(clock))
}

fn user(n: u128) -> Actor {
    Actor {
        kind: ActorKind::User,
        id: Some(uuid::Uuid::from_u128(n)),
    }
}

fn ctx(ip: &str) -> RequestContext {
    RequestContext {
        ip: Some(ip.into()),
        ..RequestContext::default()
    }
}

fn note(tally: &DenialTally, actor: Actor, target: &str, ctx: &RequestContext) {
    tally.note(Denial {
        actor,
        action: "tenant.access",
        reason: "not_a_member",
        target: Some(target),
        ctx,
    });
}

#[test]
fn a_flood_by_one_actor_is_one_summary_with_its_count() {
    let (clock, tally) = tally();
    let ctx = ctx("192.0.2.1");
    for n in 0..5_000 {
        note(&tally, user(1), &format!("tenant-{}", n % 3), &ctx);
        clock.advance(Duration::milliseconds(1));
    }
    let drafts = tally.drain();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let draft = &drafts[0];
    assert_eq!(draft.action, "tenant.access");
    assert_eq!(draft.actor_id, Some(uuid::Uuid::from_u128(1)));
    assert_eq!(draft.outcome, Outcome::Denied);
    assert_eq!(draft.details["n_attempts"], 5_000);
    assert_eq!(draft.details["reason"], "not_a_member");
    assert_eq!(
        draft.details["targets"],
        serde_json::json!(["tenant-0", "tenant-1", "tenant-2"])
    );
    assert_eq!(draft.details["first_at"], "2026-06-01T12:00:00Z");
    assert_eq!(draft.details["last_at"], "2026-06-01T12:00:04.999Z");
    assert_eq!(draft.ip.as_deref(), Some("192.0.2.1"));
}

#[test]
fn a_drain_starts_a_new_window() {
    let (_clock, tally) = tally();
    let ctx = ctx("192.0.2.1");
    note(&tally, user(1), "a", &ctx);
    assert_eq!(tally.drain().len(), 1);
    assert!(tally.drain().is_empty(), "nothing new, nothing written");
    note(&tally, user(1), "a", &ctx);
    let drafts = tally.drain();
    assert_eq!(drafts[0].details["n_attempts"], 1);
}

#[test]
fn actors_actions_and_anonymous_addresses_are_counted_apart() {
    let (_clock, tally) = tally();
    let (one, two) = (ctx("192.0.2.1"), ctx("192.0.2.2"));
    note(&tally, user(1), "a", &one);
    note(&tally, user(2), "a", &one);
    note(&tally, Actor::ANONYMOUS, "a", &one);
    note(&tally, Actor::ANONYMOUS, "a", &two);
    tally.note(Denial {
        actor: user(1),
        action: "admin.tenants.list",
        reason: "not_platform_admin",
        target: None,
        ctx: &one,
    });
    assert_eq!(tally.drain().len(), 5);
}

#[test]
fn the_target_sample_is_bounded_and_the_rest_counted() {
    let (_clock, tally) = tally();
    let ctx = ctx("192.0.2.1");
    for n in 0..1_000 {
        note(&tally, user(1), &format!("slug-{n}"), &ctx);
    }
    note(&tally, user(1), &"x".repeat(10_000), &ctx);
    let drafts = tally.drain();
    let targets = drafts[0].details["targets"].as_array().unwrap().clone();
    assert_eq!(targets.len(), MAX_TARGETS);
    assert_eq!(drafts[0].details["n_targets_unsampled"], 991);
}

#[test]
fn a_long_target_is_cut() {
    let (_clock, tally) = tally();
    note(&tally, user(1), &"é".repeat(1_000), &ctx("192.0.2.1"));
    let drafts = tally.drain();
    let target = drafts[0].details["targets"][0].as_str().unwrap().to_owned();
    assert_eq!(target.chars().count(), MAX_TARGET_LEN);
}

#[test]
fn memory_is_bounded_by_an_overflow_summary() {
    let (_clock, tally) = tally();
    let ctx = ctx("192.0.2.1");
    let n_actors = MAX_GROUPS as u128 + 500;
    for n in 0..n_actors {
        note(&tally, user(n), "victim", &ctx);
    }
    assert_eq!(tally.n_groups(), MAX_GROUPS + 1);
    // An actor already counted keeps its own summary.
    note(&tally, user(0), "victim", &ctx);
    let drafts = tally.drain();
    assert_eq!(drafts.len(), MAX_GROUPS + 1);
    let overflow = drafts.last().unwrap();
    assert_eq!(overflow.action, "security.denials");
    assert_eq!(overflow.details["reason"], "overflow");
    assert_eq!(overflow.details["n_attempts"], 500);
    assert_eq!(
        overflow.ip, None,
        "the overflow names no one actor's address"
    );
    let first = drafts
        .iter()
        .find(|d| d.actor_id == Some(uuid::Uuid::from_u128(0)))
        .unwrap();
    assert_eq!(first.details["n_attempts"], 2);
    assert_eq!(tally.n_groups(), 0);
}
