//! The realtime caps shared through Redis, so that a principal (or a
//! tenant) holds at most its cap of open streams across every process of
//! a deployment, not one cap's worth on each.
//!
//! Each capped key (`<prefix>streams:<LimitKey>`) is a sorted set of the
//! slots held under it: a member per slot (this process's id and a
//! counter, so members never collide across processes), scored by when
//! its lease ends, in Redis's own time (`TIME`), never a caller's clock.
//! [`ACQUIRE_SCRIPT`] drops the expired members of both keys, checks each
//! capped key's count, and adds the slot to both or to neither; Redis runs
//! a script alone, so two processes never both take the last place.
//!
//! **Leases**, so that a process that dies without giving its slots back
//! (a crash, a kill, a lost network) holds them for at most [`LEASE`].
//! One task per process, the [`Keeper`], renews every live slot of the
//! process every [`RENEW_EVERY`], in a few script calls for all of them
//! (not one call per stream), and gives slots back as their streams end.
//! Renewing and giving back in one task keeps them in order: a renewal
//! can never put back a slot that was just given back. A renewal adds a
//! slot that Redis lost or never had (taken while Redis was away, or
//! expired during an outage longer than a lease), so the shared count is
//! right again one renewal after Redis answers. The task starts with the
//! first stream, and ends when told at shutdown ([`SharedSlots::close`],
//! which gives back every slot of the process at once, so clients moving
//! to another process are not refused for a lease) or when every handle
//! on it is gone.
//!
//! What it costs: one script call per stream opened (two for an exempt
//! platform admin over a cap), one per batch of streams ended, and one per
//! [`RENEW_EVERY`] and [`BATCH`] live slots.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{RateLimited, refusal};
use crate::rate_limits::LimitKey;
use crate::rate_limits::redis::{RedisLink, Unavailable};

/// How long a slot is held in Redis without a renewal: what a crashed
/// process's streams cost the deployment at most.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a process renews its live slots: three tries per lease, so a
/// slot outlives two failed renewals.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How many renewals a slot given back while Redis was away is given back
/// again: after that its lease has ended anyway.
const TRIES_PER_LEASE: u32 = 3;
/// Slot changes per script call at most (about), so that one call never
/// holds Redis, which runs nothing else meanwhile, for long.
const BATCH: usize = 500;
/// How long shutdown waits for the last slots to be given back.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Takes a slot under both keys, or under neither.
///
/// KEYS: the principal's key, the tenant's. ARGV: the slot's member, the
/// lease in milliseconds, `1` to take it whatever the counts (an exempt
/// platform admin), then each key's cap (-1 for none). Returns 0 when
/// taken, else the position of the first key at its cap.
const ACQUIRE_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local cap = tonumber(ARGV[3 + i])
  if ARGV[3] ~= '1' and cap >= 0 and redis.call('ZCARD', key) >= cap then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[1])
  redis.call('PEXPIRE', key, lease)
end
return 0
";

/// Renews some slots and gives others back, under any number of keys.
///
/// KEYS: the keys. ARGV: the lease in milliseconds, then for each key the
/// number of slots to renew and the number to give back, followed by those
/// members in that order. A renewed slot that is absent is added. Every
/// member of a key ends at most a lease from now, so the key's own expiry
/// is set to a lease.
const SYNC_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local at = 2
for _, key in ipairs(KEYS) do
  local n_renewed = tonumber(ARGV[at])
  local n_released = tonumber(ARGV[at + 1])
  at = at + 2
  for _ = 1, n_renewed do
    redis.call('ZADD', key, now + lease, ARGV[at])
    at = at + 1
  end
  for _ = 1, n_released do
    redis.call('ZREM', key, ARGV[at])
    at = at + 1
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if n_renewed > 0 then
    redis.call('PEXPIRE', key, lease)
  end
end
return 0
";

/// One slot as Redis knows it: its member and the keys it is held under.
#[derive(Debug)]
struct Entry {
    member: String,
    keys: [String; 2],
}

/// What the streams of this process tell their [`Keeper`].
#[derive(Debug)]
enum Message {
    /// A slot was taken (or taken here alone, Redis being away): renew it.
    Held(Arc<Entry>),
    /// A slot's stream ended (or its acquisition was abandoned midway).
    Released(Arc<Entry>),
    /// Shutdown: give every slot back and stop.
    Stop,
    /// Renew now, then answer: lets tests see what a tick would do.
    #[cfg(test)]
    Renew(tokio::sync::oneshot::Sender<()>),
}

#[derive(Debug)]
enum Keeping {
    NotYet,
    Running {
        messages: mpsc::UnboundedSender<Message>,
        task: JoinHandle<()>,
    },
    Closed,
}

/// The caps of this process's streams as shared through Redis.
#[derive(Debug)]
pub(super) struct SharedSlots {
    link: Arc<RedisLink>,
    acquire: redis::Script,
    /// This process among those sharing the Redis.
    process: String,
    next_slot: AtomicU64,
    keeping: Mutex<Keeping>,
}

impl SharedSlots {
    pub(super) fn new(link: Arc<RedisLink>) -> Self {
        Self {
            link,
            acquire: redis::Script::new(ACQUIRE_SCRIPT),
            process: uuid::Uuid::now_v7().simple().to_string(),
            next_slot: AtomicU64::new(0),
            keeping: Mutex::new(Keeping::NotYet),
        }
    }

    /// Takes a slot under both keys in Redis unless a capped key is at its
    /// cap (`force` takes it anyway). Redis being away, the slot is taken
    /// (this process has counted it already) and renewal adds it to Redis
    /// once it answers.
    pub(super) async fn acquire(
        &self,
        caps: &[(LimitKey, Option<u32>); 2],
        force: bool,
    ) -> Result<Lease, RateLimited> {
        let Some(messages) = self.messages() else {
            // Shutting down: nothing will renew or give back the slot.
            return Ok(Lease::unkept());
        };
        let entry = Arc::new(Entry {
            member: format!(
                "{}:{}",
                self.process,
                self.next_slot.fetch_add(1, Ordering::Relaxed)
            ),
            keys: caps
                .each_ref()
                .map(|(key, _)| self.link.key("streams", &key.to_string())),
        });
        // Made before the call: if this future is dropped while the script
        // runs, the slot it may have taken is given back.
        let mut lease = Lease {
            entry: Arc::clone(&entry),
            messages: Some(messages.clone()),
        };
        let mut invocation = self.acquire.prepare_invoke();
        invocation
            .key(&entry.keys[0])
            .key(&entry.keys[1])
            .arg(&entry.member)
            .arg(millis(LEASE))
            .arg(u8::from(force));
        for (_, cap) in caps {
            invocation.arg(cap.map_or(-1, i64::from));
        }
        let answer: Result<usize, Unavailable> = self
            .link
            .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await;
        let refused_cap = answer
            .ok()
            .and_then(|at| at.checked_sub(1))
            .and_then(|at| caps.get(at))
            .and_then(|(_, cap)| *cap);
        if let Some(cap) = refused_cap {
            // Never added: nothing to give back.
            lease.messages = None;
            return Err(refusal(cap));
        }
        let _ = messages.send(Message::Held(entry));
        Ok(lease)
    }

    /// The way to this process's keeper, started on first use; `None` once
    /// closed.
    fn messages(&self) -> Option<mpsc::UnboundedSender<Message>> {
        let mut keeping = self.keeping.lock().unwrap_or_else(|p| p.into_inner());
        match &*keeping {
            Keeping::Running { messages, .. } => Some(messages.clone()),
            Keeping::Closed => None,
            Keeping::NotYet => {
                let (messages, received) = mpsc::unbounded_channel();
                let keeper = Keeper {
                    link: Arc::clone(&self.link),
                    sync: redis::Script::new(SYNC_SCRIPT),
                    live: HashMap::new(),
                    unreleased: Vec::new(),
                };
                let task = tokio::spawn(keeper.run(received));
                *keeping = Keeping::Running {
                    messages: messages.clone(),
                    task,
                };
                Some(messages)
            }
        }
    }

    /// At shutdown: gives back every slot of this process (waiting at most
    /// [`CLOSE_WAIT`]) and stops renewing. Slots taken afterwards are
    /// counted in this process alone.
    pub(super) async fn close(&self) {
        let keeping = std::mem::replace(
            &mut *self.keeping.lock().unwrap_or_else(|p| p.into_inner()),
            Keeping::Closed,
        );
        if let Keeping::Running { messages, task } = keeping {
            let _ = messages.send(Message::Stop);
            let abort = task.abort_handle();
            if tokio::time::timeout(CLOSE_WAIT, task).await.is_err() {
                abort.abort();
                tracing::warn!(
                    "could not give back this process's realtime slots in Redis: their leases will end them"
                );
            }
        }
    }

    /// Has the keeper renew at once and waits until it has.
    #[cfg(test)]
    pub(super) async fn renew_now(&self) {
        let (done, renewed) = tokio::sync::oneshot::channel();
        if let Some(messages) = self.messages()
            && messages.send(Message::Renew(done)).is_ok()
        {
            let _ = renewed.await;
        }
    }
}

/// A slot's place in Redis, given back to the keeper when dropped.
#[derive(Debug)]
pub(super) struct Lease {
    entry: Arc<Entry>,
    messages: Option<mpsc::UnboundedSender<Message>>,
}

impl Lease {
    fn unkept() -> Self {
        Self {
            entry: Arc::new(Entry {
                member: String::new(),
                keys: [String::new(), String::new()],
            }),
            messages: None,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A send never blocks and needs no runtime; without a keeper left
        // the lease ends the slot.
        if let Some(messages) = &self.messages {
            let _ = messages.send(Message::Released(Arc::clone(&self.entry)));
        }
    }
}

/// A slot given back while Redis could not be told.
struct Unreleased {
    entry: Arc<Entry>,
    tries_left: u32,
}

/// The one task of a process that renews its live slots and gives back
/// those whose streams ended.
struct Keeper {
    link: Arc<RedisLink>,
    sync: redis::Script,
    /// The live slots, by member.
    live: HashMap<String, Arc<Entry>>,
    unreleased: Vec<Unreleased>,
}

impl Keeper {
    async fn run(mut self, mut messages: mpsc::UnboundedReceiver<Message>) {
        let mut renewals = tokio::time::interval(RENEW_EVERY);
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once, with nothing to renew.
        renewals.tick().await;
        loop {
            tokio::select! {
                received = messages.recv() => {
                    // Every handle is gone: no stream is left.
                    let Some(mut message) = received else {
                        return self.stop().await;
                    };
                    // Streams that end together are given back together.
                    loop {
                        match message {
                            Message::Held(entry) => {
                                self.live.insert(entry.member.clone(), entry);
                            }
                            Message::Released(entry) => {
                                self.live.remove(&entry.member);
                                self.unreleased.push(Unreleased {
                                    entry,
                                    tries_left: TRIES_PER_LEASE,
                                });
                            }
                            Message::Stop => return self.stop().await,
                            #[cfg(test)]
                            Message::Renew(done) => {
                                self.renew().await;
                                let _ = done.send(());
                            }
                        }
                        match messages.try_recv() {
                            Ok(next) => message = next,
                            Err(_) => break,
                        }
                    }
                    self.release().await;
                }
                _ = renewals.tick() => self.renew().await,
            }
        }
    }

    /// Gives back the slots whose streams ended; kept for the next renewal
    /// if Redis does not answer.
    async fn release(&mut self) {
        if self.unreleased.is_empty() {
            return;
        }
        let released: Vec<&Entry> = self.unreleased.iter().map(|u| &*u.entry).collect();
        if self.sync(&[], &released).await.is_ok() {
            self.unreleased.clear();
        }
    }

    async fn renew(&mut self) {
        let live: Vec<&Entry> = self.live.values().map(|entry| &**entry).collect();
        let released: Vec<&Entry> = self.unreleased.iter().map(|u| &*u.entry).collect();
        if self.sync(&live, &released).await.is_ok() {
            self.unreleased.clear();
        } else {
            for unreleased in &mut self.unreleased {
                unreleased.tries_left = unreleased.tries_left.saturating_sub(1);
            }
            self.unreleased.retain(|u| u.tries_left > 0);
        }
    }

    /// Gives back every slot, live or not: the process is stopping.
    async fn stop(self) {
        let released: Vec<&Entry> = self
            .live
            .values()
            .map(|entry| &**entry)
            .chain(self.unreleased.iter().map(|u| &*u.entry))
            .collect();
        if self.sync(&[], &released).await.is_err() {
            tracing::warn!(
                "could not give back this process's realtime slots in Redis: their leases will end them"
            );
        }
    }

    /// Renews `renewed` and gives back `released` in as few calls as
    /// [`BATCH`] allows. Err if any call failed.
    async fn sync(&self, renewed: &[&Entry], released: &[&Entry]) -> Result<(), Unavailable> {
        // Per key: the members to renew, and those to give back.
        let mut by_key: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
        for entry in renewed {
            for key in &entry.keys {
                by_key.entry(key).or_default().0.push(&entry.member);
            }
        }
        for entry in released {
            for key in &entry.keys {
                by_key.entry(key).or_default().1.push(&entry.member);
            }
        }
        let mut outcome = Ok(());
        let mut keys = by_key.into_iter().peekable();
        while keys.peek().is_some() {
            let mut invocation = self.sync.prepare_invoke();
            invocation.arg(millis(LEASE));
            let mut n_changes = 0;
            while n_changes < BATCH
                && let Some((key, (renew, release))) = keys.next()
            {
                invocation
                    .key(key)
                    .arg(renew.len())
                    .arg(release.len())
                    .arg(&renew)
                    .arg(&release);
                n_changes += renew.len() + release.len();
            }
            let answer: Result<i64, Unavailable> = self
                .link
                .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
                .await;
            if let Err(unavailable) = answer {
                outcome = Err(unavailable);
            }
        }
        outcome
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
