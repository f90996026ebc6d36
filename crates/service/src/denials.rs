//! Denied attempts by outsiders, counted in memory and written to the
//! platform's audit log as one summary per actor, action and reason per
//! window.
//!
//! Why not one entry per attempt: the attempts counted here (a signed-in
//! non-member or an anonymous caller knocking on a tenant, an API key of
//! another tenant, an invitation token for someone else, a non-admin on
//! an admin route, a throttled login) cost the caller one cheap request.
//! Anyone can sign up, so one durable row per attempt would let anyone
//! write thousands of rows a second into any tenant's log, and the write
//! would make an existing tenant's 404 slower than a missing one's, which
//! tells outsiders which slugs exist. Here an attempt
//! costs a map update; a flood costs one row per (actor, action, reason)
//! per window, and the number of groups held is capped ([`MAX_GROUPS`]),
//! past which attempts are only counted in one overflow summary.
//!
//! The caller drains the tally ([`DenialTally::drain`]) on a timer and at
//! shutdown; attempts noted since the last drain are lost if the process
//! dies, which is the price of not writing them one by one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bulkhead_domain::audit::{ActorKind, Outcome};
use bulkhead_domain::{AuditEntryId, Clock};
use bulkhead_store::AuditDraft;
use time::OffsetDateTime;

use crate::context::{Actor, RequestContext};

/// Most distinct (actor, action, reason) groups held between two drains.
pub const MAX_GROUPS: usize = 10_000;
/// Most distinct targets kept as a sample in one summary.
pub const MAX_TARGETS: usize = 10;
/// Longest target kept in a sample, in bytes (a slug is at most 63).
const MAX_TARGET_LEN: usize = 64;

/// One denied attempt.
#[derive(Debug, Clone)]
pub struct Denial<'a> {
    pub actor: Actor,
    /// The audit action attempted, e.g. `tenant.access`.
    pub action: &'static str,
    pub reason: &'static str,
    /// What the attempt was aimed at (a tenant id, a slug that names no
    /// tenant, an invitation id); kept only as a bounded sample.
    pub target: Option<&'a str>,
    pub ctx: &'a RequestContext,
}

/// Whose attempts are counted together. An anonymous caller has no id, so
/// its client address stands in for one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    actor_kind: ActorKind,
    actor_id: Option<uuid::Uuid>,
    anonymous_ip: Option<String>,
    action: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone)]
struct Group {
    n_attempts: u64,
    first_at: OffsetDateTime,
    last_at: OffsetDateTime,
    targets: Vec<String>,
    /// Targets seen but not kept because the sample was full (counted
    /// with repeats: telling repeats apart would need them all).
    n_targets_unsampled: u64,
    /// The first attempt's request, so an operator can find it in the logs.
    request_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl Group {
    fn new(denial: &Denial<'_>, now: OffsetDateTime) -> Self {
        Self {
            n_attempts: 0,
            first_at: now,
            last_at: now,
            targets: Vec::new(),
            n_targets_unsampled: 0,
            request_id: denial.ctx.request_id.clone(),
            ip: denial.ctx.ip.clone(),
            user_agent: denial.ctx.user_agent.clone(),
        }
    }

    fn add(&mut self, target: Option<&str>, now: OffsetDateTime) {
        self.n_attempts += 1;
        self.last_at = now;
        let Some(target) = target else {
            return;
        };
        if self.targets.iter().any(|t| t == target) {
            return;
        }
        if self.targets.len() < MAX_TARGETS {
            self.targets.push(truncated(target).to_owned());
        } else {
            self.n_targets_unsampled += 1;
        }
    }
}

fn truncated(text: &str) -> &str {
    match text.char_indices().nth(MAX_TARGET_LEN) {
        Some((end, _)) => text.get(..end).unwrap_or(text),
        None => text,
    }
}

#[derive(Debug, Default)]
struct Groups {
    groups: HashMap<GroupKey, Group>,
    /// Attempts of groups that found [`MAX_GROUPS`] reached.
    overflow: Option<Group>,
}

/// The tally of one server process.
#[derive(Debug)]
pub struct DenialTally {
    clock: Arc<dyn Clock>,
    groups: Mutex<Groups>,
}

impl DenialTally {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            groups: Mutex::new(Groups::default()),
        }
    }

    /// Counts one attempt: no IO, a map update under a lock.
    pub fn note(&self, denial: Denial<'_>) {
        let now = self.clock.now();
        let key = GroupKey {
            actor_kind: denial.actor.kind,
            actor_id: denial.actor.id,
            anonymous_ip: match denial.actor.id {
                None => denial.ctx.ip.clone(),
                Some(_) => None,
            },
            action: denial.action,
            reason: denial.reason,
        };
        let mut tally = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let tally = &mut *tally;
        let group = if tally.groups.len() < MAX_GROUPS || tally.groups.contains_key(&key) {
            tally
                .groups
                .entry(key)
                .or_insert_with(|| Group::new(&denial, now))
        } else {
            tally
                .overflow
                .get_or_insert_with(|| Group::new(&denial, now))
        };
        group.add(denial.target, now);
    }

    /// How many groups are held (for tests and metrics).
    pub fn n_groups(&self) -> usize {
        let tally = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        tally.groups.len() + usize::from(tally.overflow.is_some())
    }

    /// Empties the tally into one platform audit entry per group, and one
    /// for the overflow if there was any.
    pub fn drain(&self) -> Vec<AuditDraft> {
        let now = self.clock.now();
        let Groups { groups, overflow } = {
            let mut tally = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *tally)
        };
        let mut groups: Vec<(GroupKey, Group)> = groups.into_iter().collect();
        groups.sort_by_key(|(_, group)| group.first_at);
        let mut drafts: Vec<AuditDraft> = groups
            .into_iter()
            .map(|(key, group)| summary(Some(&key), group, now))
            .collect();
        drafts.extend(overflow.map(|group| summary(None, group, now)));
        drafts
    }
}

/// The audit entry that stands for a group's attempts.
fn summary(key: Option<&GroupKey>, group: Group, now: OffsetDateTime) -> AuditDraft {
    let rfc3339 = |at: OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let (actor_kind, actor_id, action, reason) = match key {
        Some(key) => (key.actor_kind, key.actor_id, key.action, key.reason),
        // Many actors: the entry is the platform's own note, and the first
        // request's address and id would single out one of them.
        None => (ActorKind::System, None, "security.denials", "overflow"),
    };
    let group = match key {
        Some(_) => group,
        None => Group {
            request_id: None,
            ip: None,
            user_agent: None,
            ..group
        },
    };
    AuditDraft {
        id: AuditEntryId::new(),
        at: now,
        actor_kind,
        actor_id,
        action: action.to_owned(),
        resource_type: "denials".to_owned(),
        resource_id: None,
        outcome: Outcome::Denied,
        request_id: group.request_id,
        details: serde_json::json!({
            "reason": reason,
            "summary": true,
            "n_attempts": group.n_attempts,
            "first_at": rfc3339(group.first_at),
            "last_at": rfc3339(group.last_at),
            "targets": group.targets,
            "n_targets_unsampled": group.n_targets_unsampled,
        }),
        ip: group.ip,
        user_agent: group.user_agent,
    }
}

#[cfg(test)]
mod tests;
