//! The login throttle's state in Redis, for a deployment of several
//! processes: one hash per key (`ws` window start and `l` last failure in
//! microseconds of Redis's clock, `iw` failures in the window, `c`
//! consecutive failures), changed only by scripts, so that concurrent
//! failures on several processes all count. The policy is the one of
//! [`super::LoginThrottle`] ([`super::wait_for`] computes the wait from
//! what is read here); what differs is memory: a key is forgotten
//! [`KEEP`] after its last failure, where a process forgets only when its
//! map grows large.

use std::sync::LazyLock;

use time::{Duration, OffsetDateTime};

use super::{Failures, ThrottleKey, WINDOW, wait_for};
use crate::rate_limits::redis::{RedisLink, Unavailable};

/// How long a key's failures are kept after its last one: the hourly
/// window and the longest delay past it.
const KEEP: Duration = Duration::minutes(75);

static READ: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(READ_SCRIPT));
static FAILURE: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(FAILURE_SCRIPT));
static SUCCESS: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SUCCESS_SCRIPT));

const READ_SCRIPT: &str = r"
local time = redis.call('TIME')
local result = {tonumber(time[1]) * 1000000 + tonumber(time[2])}
for _, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'ws', 'iw', 'c', 'l')
  for j = 1, 4 do
    result[#result + 1] = tonumber(f[j]) or -1
  end
end
return result
";

/// ARGV: the window and how long to keep a key (both in microseconds),
/// then per key `1` if its policy caps failures per window (its
/// consecutive count then survives a new window), else `0`.
const FAILURE_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local window = tonumber(ARGV[1])
local keep = math.floor(tonumber(ARGV[2]) / 1000)
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'ws', 'iw', 'c')
  local ws = tonumber(f[1]) or now
  local iw = tonumber(f[2]) or 0
  local c = tonumber(f[3]) or 0
  if now - ws >= window then
    ws = now
    iw = 0
    if ARGV[i + 2] == '0' then c = 0 end
  end
  redis.call('HSET', key, 'ws', string.format('%.0f', ws), 'iw', iw + 1, 'c', c + 1,
    'l', string.format('%.0f', now))
  redis.call('PEXPIRE', key, keep)
end
return 1
";

const SUCCESS_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'c', 0)
end
return 1
";

fn redis_key(link: &RedisLink, key: &ThrottleKey) -> String {
    let kind = match key {
        ThrottleKey::Account(_) => "account",
        ThrottleKey::LoginAddress(_) => "login-address",
        ThrottleKey::SignupAddress(_) => "signup-address",
    };
    link.key("throttle", &format!("{kind}:{}", key.name()))
}

/// The longest wait any key asks for, in Redis's time.
pub(super) async fn wait(link: &RedisLink, keys: &[&ThrottleKey]) -> Result<Duration, Unavailable> {
    let mut invocation = READ.prepare_invoke();
    for key in keys {
        invocation.key(redis_key(link, key));
    }
    let answer: Vec<i64> = link
        .run(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    let Some((&now, fields)) = answer.split_first() else {
        return Err(Unavailable);
    };
    if fields.len() != keys.len() * 4 {
        return Err(Unavailable);
    }
    let now = at(now)?;
    let mut longest = Duration::ZERO;
    for (key, f) in keys.iter().zip(fields.chunks_exact(4)) {
        let [window_start, in_window, consecutive, last] = [f[0], f[1], f[2], f[3]];
        if window_start < 0 {
            continue;
        }
        let entry = Failures {
            window_start: at(window_start)?,
            in_window: u32::try_from(in_window).unwrap_or(0),
            consecutive: u32::try_from(consecutive).unwrap_or(0),
            last: at(last.max(window_start))?,
        };
        longest = longest.max(wait_for(&entry, key.policy(), now));
    }
    Ok(longest)
}

pub(super) async fn record_failure(
    link: &RedisLink,
    keys: &[&ThrottleKey],
) -> Result<(), Unavailable> {
    let mut invocation = FAILURE.prepare_invoke();
    invocation
        .arg(WINDOW.whole_microseconds().to_string())
        .arg(KEEP.whole_microseconds().to_string());
    for key in keys {
        invocation.key(redis_key(link, key)).arg(
            if key.policy().max_failures_per_window.is_some() {
                "1"
            } else {
                "0"
            },
        );
    }
    let _: i64 = link
        .run(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    Ok(())
}

pub(super) async fn record_success(link: &RedisLink, key: &ThrottleKey) -> Result<(), Unavailable> {
    let mut invocation = SUCCESS.prepare_invoke();
    invocation.key(redis_key(link, key));
    let _: i64 = link
        .run(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    Ok(())
}

fn at(micros: i64) -> Result<OffsetDateTime, Unavailable> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).map_err(|_| Unavailable)
}
