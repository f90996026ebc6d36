//! The shared backend: limits kept in Redis, so that every server process
//! of a deployment counts against the same budget.
//!
//! One Lua script decides a request against all of its keys and stores
//! their new TATs only if every key allows it ([`GCRA_SCRIPT`]); Redis runs
//! a script alone, so two processes never both take the last request. The
//! script reads the time from Redis (`TIME`), never from the caller, so
//! processes whose clocks disagree still share one timeline.
//!
//! **When Redis cannot be reached** (refused, timed out, any error), the
//! request is decided by the in-process limiter instead, and a warning is
//! logged (at most once per [`WARN_EVERY`]): limits stay enforced per
//! process rather than failing closed (a 5xx for every request while Redis
//! is down) or open (no limit at all). Every call waits at most
//! [`CALL_TIMEOUT`], and after a failure Redis is left alone for
//! [`REST_AFTER_FAILURE`], so an outage costs a request at most one short
//! wait, not one per request. The connection is made lazily and remade
//! after a failure (the `redis` crate's connection manager), so a server
//! starts even while Redis is down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use bulkhead_domain::Clock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::LimitKey;
use super::gcra::Quota;

/// The longest a request waits on one Redis call.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is not asked after a call failed.
pub const REST_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// At most one warning about Redis this often.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// Takes a batch of tokens from several keys, atomically: from all of
/// them or from none.
///
/// KEYS: the keys. ARGV: for each key, its interval and window in
/// microseconds (see `gcra`) and how many tokens are wanted. Each key
/// grants what it has room for now, up to what is wanted; if any key has
/// no room, none grants anything. Returns the server's time in
/// microseconds, then for each key its stored TAT before (-1 for none) and
/// the tokens it granted. Stores `max(tat, now) + granted * interval` for
/// every key, with an expiry when it has passed.
const GCRA_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local stored = {}
local granted = {}
local allowed = true
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2])
  local window = tonumber(ARGV[3 * i - 1])
  local want = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', key))
  stored[i] = tat or -1
  local from = math.max(tat or now, now)
  local room = 0
  if window > 0 then
    room = math.floor((now + window - from) / interval)
  end
  if room < 1 then
    allowed = false
    granted[i] = 0
  else
    granted[i] = math.min(room, want)
  end
end
if allowed then
  for i, key in ipairs(KEYS) do
    local interval = tonumber(ARGV[3 * i - 2])
    local from = now
    if stored[i] > now then from = stored[i] end
    local tat = from + granted[i] * interval
    local ttl = math.floor((tat - now) / 1000) + 1
    redis.call('SET', key, string.format('%.0f', tat), 'PX', ttl)
  end
else
  for i = 1, #KEYS do
    granted[i] = 0
  end
end
local result = {now}
for i = 1, #KEYS do
  result[2 * i] = stored[i]
  result[2 * i + 1] = granted[i]
end
return result
";

/// Why a Redis URL was not taken.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

/// Redis could not answer in time; the caller decides without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// A connection to Redis, shared by the rate limits and the login
/// throttle, with the key prefix of this deployment.
pub struct RedisLink {
    connection: ConnectionManager,
    prefix: String,
    clock: Arc<dyn Clock>,
    gcra: redis::Script,
    /// Microseconds of the clock before which Redis is not asked.
    resting_until: AtomicI64,
    last_warning: AtomicI64,
    /// Whether the last call failed, to say when Redis is back.
    failing: AtomicBool,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// A link to the Redis at `url` (`redis://host:port/db`), its keys
    /// starting with `prefix`. Connects on first use, so it needs a Tokio
    /// runtime but not a reachable Redis.
    pub fn new(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self, RedisUrlError> {
        let client = redis::Client::open(url).map_err(|e| RedisUrlError(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(CALL_TIMEOUT);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisUrlError(e.to_string()))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            clock,
            gcra: redis::Script::new(GCRA_SCRIPT),
            resting_until: AtomicI64::new(i64::MIN),
            last_warning: AtomicI64::new(i64::MIN),
            failing: AtomicBool::new(false),
        })
    }

    /// The Redis key for one of ours: `<prefix><area>:<name>`.
    pub(crate) fn key(&self, area: &str, name: &str) -> String {
        format!("{}{area}:{name}", self.prefix)
    }

    fn now_micros(&self) -> i64 {
        micros(self.clock.now())
    }

    /// Runs `call` on a connection, within [`CALL_TIMEOUT`], unless Redis
    /// is resting after a failure.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.now_micros() < self.resting_until.load(Ordering::Relaxed) {
            return Err(Unavailable);
        }
        let outcome = tokio::time::timeout(CALL_TIMEOUT, call(self.connection.clone())).await;
        let error = match outcome {
            Ok(Ok(value)) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again: limits are shared again");
                }
                return Ok(value);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", CALL_TIMEOUT.as_millis()),
        };
        let now = self.now_micros();
        self.failing.store(true, Ordering::Relaxed);
        self.resting_until
            .store(now + duration_micros(REST_AFTER_FAILURE), Ordering::Relaxed);
        let last = self.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= duration_micros(WARN_EVERY)
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                %error,
                "Redis is unreachable: rate limits and login throttling fall back to this process alone"
            );
        }
        Err(Unavailable)
    }

    /// Takes up to `want` tokens from each of `limits` in Redis, from all
    /// or none: the server's time, and each key's TAT before and what it
    /// granted (all zero when a key had no room).
    pub(crate) async fn take(
        &self,
        limits: &[(&LimitKey, Quota, u32)],
    ) -> Result<(i64, Vec<Taken>), Unavailable> {
        let mut invocation = self.gcra.prepare_invoke();
        for (key, quota, want) in limits {
            invocation
                .key(self.key("rl", &key.to_string()))
                .arg(quota.interval())
                .arg(quota.window())
                .arg(*want);
        }
        let answer: Vec<i64> = self
            .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await?;
        let Some((&now, keys)) = answer.split_first() else {
            return Err(Unavailable);
        };
        if keys.len() != 2 * limits.len() {
            return Err(Unavailable);
        }
        let taken = keys
            .chunks_exact(2)
            .map(|pair| Taken {
                tat_before: (pair[0] >= 0).then_some(pair[0]),
                granted: u32::try_from(pair[1]).unwrap_or(0),
            })
            .collect();
        Ok((now, taken))
    }
}

/// What Redis did with one key of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The key's TAT before, `None` for a key absent or expired.
    pub tat_before: Option<i64>,
    /// Tokens taken; zero when the batch was refused.
    pub granted: u32,
}

impl RedisLink {
    /// Whether `name` is marked for the first time in `window_ms`: marks
    /// it if not (`SET NX PX`), so one caller of all the processes gets
    /// `true` per window.
    pub(crate) async fn first_in_window(
        &self,
        name: &str,
        window_ms: i64,
    ) -> Result<bool, Unavailable> {
        let key = self.key("once", name);
        let set: Option<String> = self
            .run(|mut connection| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(window_ms)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }
}

/// A time as microseconds since the Unix epoch.
pub(crate) fn micros(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn duration_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}
