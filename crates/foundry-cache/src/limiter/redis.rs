//! Counting on Redis: one Lua script per algorithm, run atomically by the server and timed
//! by its clock (`TIME`), so any number of app processes sharing the server count as one.
//! The arithmetic mirrors `algorithm.rs` line for line.
//!
//! Every script takes `KEYS[1]` (the state) and `ARGV` = max, period (ms), cost, and returns
//! `{allowed, remaining, retry_ms, reset_ms}`.

use std::sync::LazyLock;

use foundry_core::BoxFuture;
use redis::Script;

use super::algorithm::Spec;
use super::{Algorithm, Decision, LimiterBackend};
use crate::error::CacheResult;
use crate::redis::RedisConnection;

const PRELUDE: &str = r"
local key = KEYS[1]
local max, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

static FIXED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local count = tonumber(redis.call('GET', key) or '0')
local ttl = redis.call('PTTL', key)
if ttl < 0 then count = 0; ttl = period end
local denied = cost > 0 and count + cost > max
if cost > 0 and not denied then
  if count == 0 then redis.call('SET', key, cost, 'PX', period) else redis.call('INCRBY', key, cost) end
  count = count + cost
end
local remaining = math.max(max - count, 0)
local allowed = (not denied) and (cost > 0 or remaining > 0)
local retry = 0
if denied then retry = ttl end
return {allowed and 1 or 0, remaining, retry, ttl}
",
    )
});

static SLIDING: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local window = now - (now % period)
local st = redis.call('HMGET', key, 'w', 'p', 'c')
local w, prev, curr = tonumber(st[1]), tonumber(st[2]) or 0, tonumber(st[3]) or 0
if w == window then
elseif w == window - period then prev = curr; curr = 0
else prev = 0; curr = 0 end
local left = period - (now - window)
local weight = left / period
local estimate = prev * weight + curr
local denied = cost > 0 and estimate + cost > max
local retry = 0
if not denied then curr = curr + cost
elseif cost > max then retry = 2 * period
elseif curr + cost <= max then
  retry = math.max(math.ceil(left - (max - cost - curr) * period / math.max(prev, 1)), 1)
else
  retry = left + math.ceil(period - (max - cost) * period / math.max(curr, 1))
end
estimate = prev * weight + curr
local remaining = math.max(math.floor(max - estimate), 0)
local reset = 0
if curr > 0 then reset = left + period elseif prev > 0 then reset = left end
if cost > 0 then
  redis.call('HSET', key, 'w', window, 'p', prev, 'c', curr)
  redis.call('PEXPIREAT', key, window + 2 * period)
end
local allowed = (not denied) and (cost > 0 or remaining > 0)
return {allowed and 1 or 0, remaining, retry, reset}
",
    )
});

static BUCKET: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local rate = max / period
local st = redis.call('HMGET', key, 't', 'at')
local tokens, at = tonumber(st[1]), tonumber(st[2])
if tokens == nil or at == nil then tokens = max; at = now end
tokens = math.min(max, tokens + math.max(now - at, 0) * rate)
local denied = cost > 0 and tokens < cost
if not denied then tokens = tokens - cost end
local remaining = math.max(math.floor(tokens), 0)
local retry = 0
if denied and rate > 0 then retry = math.ceil((cost - tokens) / rate) end
local reset = 0
if rate > 0 then reset = math.max(math.ceil((max - tokens) / rate), 0) end
if cost > 0 then
  redis.call('HSET', key, 't', string.format('%.6f', tokens), 'at', now)
  redis.call('PEXPIRE', key, math.max(reset, 1))
end
local allowed = (not denied) and (cost > 0 or remaining > 0)
return {allowed and 1 or 0, remaining, retry, reset}
",
    )
});

static GCRA: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local interval = period / math.max(max, 1)
local tat = tonumber(redis.call('GET', key))
if tat == nil or tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - period
local denied = cost > 0 and (allow_at > now or max == 0)
if not denied then tat = new_tat end
local remaining = math.max(math.floor((period - (tat - now)) / interval), 0)
local retry = 0
if denied then retry = math.max(math.ceil(allow_at - now), 0) end
local reset = math.max(math.ceil(tat - now), 0)
if cost > 0 then
  redis.call('SET', key, string.format('%.6f', tat), 'PX', math.max(reset, 1))
end
local allowed = (not denied) and (cost > 0 or remaining > 0)
return {allowed and 1 or 0, remaining, retry, reset}
",
    )
});

/// The Redis limiter backend.
pub(super) struct RedisLimiter {
    connection: RedisConnection,
    prefix: String,
}

impl RedisLimiter {
    pub(super) fn new(connection: RedisConnection, prefix: &str) -> Self {
        Self {
            connection,
            prefix: prefix.to_owned(),
        }
    }

    fn state_key(&self, key: &str, algorithm: Algorithm) -> String {
        format!("{}limiter:{key}:{}", self.prefix, algorithm.name())
    }
}

impl LimiterBackend for RedisLimiter {
    fn step<'a>(
        &'a self,
        key: &'a str,
        spec: Spec,
        cost: u64,
    ) -> BoxFuture<'a, CacheResult<Decision>> {
        Box::pin(async move {
            let script: &Script = match spec.algorithm {
                Algorithm::FixedWindow => &FIXED,
                Algorithm::SlidingWindow => &SLIDING,
                Algorithm::TokenBucket => &BUCKET,
                Algorithm::Gcra => &GCRA,
            };
            let mut invocation = script.key(self.state_key(key, spec.algorithm));
            invocation.arg(spec.max).arg(spec.period_ms).arg(cost);
            let (allowed, remaining, retry, reset): (i64, i64, i64, i64) = self
                .connection
                .invoke("limiter", &format!("rate limiting `{key}`"), &invocation)
                .await?;
            Ok(Decision::new(
                spec.max,
                allowed == 1,
                u64::try_from(remaining).unwrap_or(0),
                retry,
                reset,
            ))
        })
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("DEL");
            for algorithm in Algorithm::ALL {
                cmd.arg(self.state_key(key, algorithm));
            }
            self.connection
                .query::<()>("limiter", &format!("clearing `{key}`"), &cmd)
                .await
        })
    }
}
