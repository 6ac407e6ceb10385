//! `driver = "redis"` (cargo feature `redis`): Laravel's layout on redis-rs.
//!
//! Each queue `q` has a ready list `{prefix}queues:q`, a `:delayed` sorted set scored by the
//! time a job becomes available, a `:reserved` sorted set scored by the time its reservation
//! expires, and a `:notify` list that wakes idle workers. Push, pop, finish, release and cancel
//! are Lua scripts (`redis::Script`, run by EVALSHA), so each is atomic. Pop first moves due
//! delayed jobs and expired reservations back to the ready list: that is how a job whose
//! worker died runs again after `retry_after`. Before that it finishes the jobs the worker
//! acknowledges with this pop, so one script per round trip does both.
//!
//! A list entry is `attempts|uuid|payload`: the scripts count attempts and find the job's
//! status key without decoding the JSON. Times come from the app's clock (passed to every
//! script), so tests can travel. Commands share one multiplexed `ConnectionManager`; idle
//! workers block in `BLPOP` on a dedicated connection so they never hold up the shared one.

use std::time::Duration;

use foundry_core::{BoxFuture, Clock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Script};

use super::STATUS_TTL_SECS;
use crate::config::RedisConfig;
use crate::contract::{BatchRecord, FailedJob, JobStatus, JobStore, NewJob, QueueDriver, Reserved};
use crate::error::{QueueError, QueueResult};

const PUSH: &str = r"
local now = tonumber(ARGV[1])
local ready = 0
for i = 4, #ARGV, 3 do
  redis.call('set', ARGV[2] .. ARGV[i + 1], 'queued', 'EX', ARGV[3])
  local at = tonumber(ARGV[i])
  if at > now then
    redis.call('zadd', KEYS[2], at, ARGV[i + 2])
  else
    redis.call('rpush', KEYS[1], ARGV[i + 2])
    ready = ready + 1
  end
end
if ready > 0 then
  redis.call('rpush', KEYS[3], 1)
  redis.call('ltrim', KEYS[3], 0, 0)
end
return ready
";

const POP: &str = r"
local function migrate(from, to, now)
  local due = redis.call('zrangebyscore', from, '-inf', now)
  if #due > 0 then
    redis.call('zremrangebyrank', from, 0, #due - 1)
    for i = 1, #due, 100 do
      redis.call('rpush', to, unpack(due, i, math.min(i + 99, #due)))
    end
  end
end
for i = 7, 6 + tonumber(ARGV[6]) * 2, 2 do
  local job = ARGV[i + 1]
  local a = string.find(job, '|', 1, true)
  local b = string.find(job, '|', a + 1, true)
  redis.call('zrem', ARGV[i], job)
  redis.call('set', ARGV[4] .. string.sub(job, a + 1, b - 1), 'succeeded', 'EX', ARGV[5])
end
migrate(KEYS[2], KEYS[1], ARGV[1])
migrate(KEYS[3], KEYS[1], ARGV[1])
local out = {}
local max = tonumber(ARGV[3])
while #out < max do
  local job = redis.call('lpop', KEYS[1])
  if not job then break end
  local a = string.find(job, '|', 1, true)
  local b = string.find(job, '|', a + 1, true)
  local status = ARGV[4] .. string.sub(job, a + 1, b - 1)
  if redis.call('get', status) ~= 'cancelled' then
    local reserved = (tonumber(string.sub(job, 1, a - 1)) + 1) .. string.sub(job, a)
    redis.call('zadd', KEYS[3], ARGV[2], reserved)
    redis.call('set', status, 'running', 'EX', ARGV[5])
    out[#out + 1] = reserved
  end
end
return out
";

const FINISH: &str = r"
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
";

const FINISH_MANY: &str = r"
for i = 1, #KEYS, 2 do
  redis.call('zrem', KEYS[i], ARGV[i])
  redis.call('set', KEYS[i + 1], ARGV[i + 1], 'EX', ARGV[#ARGV])
end
return #KEYS / 2
";

const RELEASE: &str = r"
if redis.call('zrem', KEYS[1], ARGV[1]) == 1 then
  redis.call('zadd', KEYS[2], ARGV[2], ARGV[1])
  redis.call('set', KEYS[3], 'queued', 'EX', ARGV[3])
  return 1
end
return 0
";

const CANCEL: &str = r"
if redis.call('get', KEYS[1]) == 'queued' then
  redis.call('set', KEYS[1], 'cancelled', 'EX', ARGV[1])
  return 1
end
return 0
";

const RECORD_BATCH_JOB: &str = r"
if redis.call('exists', KEYS[1]) == 0 then return {} end
if ARGV[1] == '' then
  redis.call('hincrby', KEYS[1], 'pending', -1)
else
  redis.call('hincrby', KEYS[1], 'failed', 1)
  redis.call('rpush', KEYS[2], ARGV[1])
end
local pending = tonumber(redis.call('hget', KEYS[1], 'pending'))
local failed = tonumber(redis.call('hget', KEYS[1], 'failed'))
if pending == failed then redis.call('hsetnx', KEYS[1], 'finished_at', ARGV[2]) end
return {pending, failed}
";

struct Scripts {
    push: Script,
    pop: Script,
    finish: Script,
    finish_many: Script,
    release: Script,
    cancel: Script,
    record_batch_job: Script,
}

/// The Redis driver.
pub struct RedisDriver {
    conn: ConnectionManager,
    client: redis::Client,
    blocking: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    host: String,
    prefix: String,
    clock: Clock,
    retry_after_ms: i64,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDriver")
            .field("host", &self.host)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisDriver {
    /// Connect to `config.url`; an unreachable server fails here, naming the host.
    pub async fn connect(config: &RedisConfig, clock: Clock) -> QueueResult<Self> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| QueueError::Redis {
            host: config.url.clone(),
            reason: format!("invalid Redis URL: {e}"),
        })?;
        let host = client.get_connection_info().addr().to_string();
        let timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(Duration::from_secs(30)))
            .set_number_of_retries(2);
        let conn = match tokio::time::timeout(
            timeout + Duration::from_secs(1),
            client.get_connection_manager_with_config(manager_config),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(unreachable(&host, &e.to_string())),
            Err(_) => {
                return Err(unreachable(
                    &host,
                    &format!("timed out after {}s", timeout.as_secs()),
                ));
            }
        };
        Ok(Self {
            conn,
            client,
            blocking: tokio::sync::Mutex::new(None),
            host,
            prefix: config.prefix.clone(),
            clock,
            retry_after_ms: super::millis(config.retry_after_secs),
            scripts: Scripts {
                push: Script::new(PUSH),
                pop: Script::new(POP),
                finish: Script::new(FINISH),
                finish_many: Script::new(FINISH_MANY),
                release: Script::new(RELEASE),
                cancel: Script::new(CANCEL),
                record_batch_job: Script::new(RECORD_BATCH_JOB),
            },
        })
    }

    fn err(&self, e: &redis::RedisError) -> QueueError {
        QueueError::Redis {
            host: self.host.clone(),
            reason: e.to_string(),
        }
    }

    fn queue_key(&self, queue: &str) -> String {
        format!("{}queues:{queue}", self.prefix)
    }

    fn status_prefix(&self) -> String {
        format!("{}status:", self.prefix)
    }

    fn batch_key(&self, id: &str) -> String {
        format!("{}batch:{id}", self.prefix)
    }

    /// The reserved-set member of a reservation: the entry POP returned, kept as the handle.
    fn member(job: &Reserved) -> std::borrow::Cow<'_, str> {
        if job.handle.is_empty() {
            format!("{}|{}|{}", job.attempts, job.uuid, job.payload).into()
        } else {
            job.handle.as_str().into()
        }
    }
}

fn unreachable(host: &str, reason: &str) -> QueueError {
    QueueError::Redis {
        host: host.to_owned(),
        reason: format!(
            "cannot connect: {reason}; is redis-server running and reachable? Check `url` under \
             [queue.connections.*]"
        ),
    }
}

fn parse_reserved(entry: String, queue: &str) -> Option<Reserved> {
    let mut parts = entry.splitn(3, '|');
    let attempts = parts.next()?.parse().ok()?;
    let uuid = parts.next()?.to_owned();
    let payload = parts.next()?.to_owned();
    Some(Reserved {
        handle: entry,
        uuid,
        queue: queue.to_owned(),
        payload,
        attempts,
    })
}

impl QueueDriver for RedisDriver {
    fn push(&self, jobs: Vec<NewJob>) -> BoxFuture<'_, QueueResult<()>> {
        Box::pin(async move {
            let now = self.clock.unix_millis();
            let mut by_queue: Vec<(String, Vec<NewJob>)> = Vec::new();
            for job in jobs {
                match by_queue.iter_mut().find(|(q, _)| *q == job.queue) {
                    Some((_, list)) => list.push(job),
                    None => by_queue.push((job.queue.clone(), vec![job])),
                }
            }
            let mut conn = self.conn.clone();
            for (queue, jobs) in by_queue {
                let key = self.queue_key(&queue);
                for chunk in jobs.chunks(500) {
                    let mut invocation = self.scripts.push.key(&key);
                    invocation
                        .key(format!("{key}:delayed"))
                        .key(format!("{key}:notify"))
                        .arg(now)
                        .arg(self.status_prefix())
                        .arg(STATUS_TTL_SECS);
                    for job in chunk {
                        invocation
                            .arg(job.available_at_ms)
                            .arg(&job.uuid)
                            .arg(format!("0|{}|{}", job.uuid, job.payload));
                    }
                    invocation
                        .invoke_async::<i64>(&mut conn)
                        .await
                        .map_err(|e| self.err(&e))?;
                }
            }
            Ok(())
        })
    }

    fn pop<'a>(
        &'a self,
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>> {
        self.finish_and_pop(&[], queues, max)
    }

    fn finish<'a>(
        &'a self,
        job: &'a Reserved,
        status: JobStatus,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            self.scripts
                .finish
                .key(format!("{}:reserved", self.queue_key(&job.queue)))
                .key(format!("{}{}", self.status_prefix(), job.uuid))
                .arg(Self::member(job).as_ref())
                .arg(status.as_str())
                .arg(STATUS_TTL_SECS)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }

    fn finish_many<'a>(
        &'a self,
        jobs: &'a [Reserved],
        status: JobStatus,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            if jobs.is_empty() {
                return Ok(());
            }
            let mut conn = self.conn.clone();
            let mut invocation = self.scripts.finish_many.prepare_invoke();
            for job in jobs {
                invocation
                    .key(format!("{}:reserved", self.queue_key(&job.queue)))
                    .key(format!("{}{}", self.status_prefix(), job.uuid))
                    .arg(Self::member(job).as_ref())
                    .arg(status.as_str());
            }
            invocation
                .arg(STATUS_TTL_SECS)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }

    fn finish_and_pop<'a>(
        &'a self,
        done: &'a [Reserved],
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>> {
        Box::pin(async move {
            let now = self.clock.unix_millis();
            let mut conn = self.conn.clone();
            let mut out = Vec::new();
            // The first script finishes `done` before it looks for expired reservations.
            let mut done = done;
            for queue in queues {
                if out.len() >= max && done.is_empty() {
                    break;
                }
                let key = self.queue_key(queue);
                let mut invocation = self.scripts.pop.key(&key);
                invocation
                    .key(format!("{key}:delayed"))
                    .key(format!("{key}:reserved"))
                    .arg(now)
                    .arg(now.saturating_add(self.retry_after_ms))
                    .arg(max - out.len())
                    .arg(self.status_prefix())
                    .arg(STATUS_TTL_SECS)
                    .arg(done.len());
                let mut reserved_keys: Vec<(&str, String)> = Vec::new();
                for job in done {
                    let at = match reserved_keys.iter().position(|(q, _)| *q == job.queue) {
                        Some(at) => at,
                        None => {
                            let key = format!("{}:reserved", self.queue_key(&job.queue));
                            reserved_keys.push((&job.queue, key));
                            reserved_keys.len() - 1
                        }
                    };
                    invocation
                        .arg(&reserved_keys[at].1)
                        .arg(Self::member(job).as_ref());
                }
                done = &[];
                let entries: Vec<String> = invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| self.err(&e))?;
                out.extend(entries.into_iter().filter_map(|e| parse_reserved(e, queue)));
            }
            Ok(out)
        })
    }

    fn release<'a>(
        &'a self,
        job: &'a Reserved,
        available_at_ms: i64,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let key = self.queue_key(&job.queue);
            self.scripts
                .release
                .key(format!("{key}:reserved"))
                .key(format!("{key}:delayed"))
                .key(format!("{}{}", self.status_prefix(), job.uuid))
                .arg(Self::member(job).as_ref())
                .arg(available_at_ms)
                .arg(STATUS_TTL_SECS)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }

    fn size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>> {
        Box::pin(async move {
            let key = self.queue_key(queue);
            let mut conn = self.conn.clone();
            let (ready, delayed, reserved): (u64, u64, u64) = redis::pipe()
                .llen(&key)
                .zcard(format!("{key}:delayed"))
                .zcard(format!("{key}:reserved"))
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(ready + delayed + reserved)
        })
    }

    fn clear<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>> {
        Box::pin(async move {
            let key = self.queue_key(queue);
            let mut conn = self.conn.clone();
            let (ready, delayed, reserved, _): (u64, u64, u64, u64) = redis::pipe()
                .atomic()
                .llen(&key)
                .zcard(format!("{key}:delayed"))
                .zcard(format!("{key}:reserved"))
                .del(&[
                    key.clone(),
                    format!("{key}:delayed"),
                    format!("{key}:reserved"),
                ])
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(ready + delayed + reserved)
        })
    }

    fn wait<'a>(&'a self, queues: &'a [String], max: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut guard = self.blocking.lock().await;
            if guard.is_none() {
                let config = AsyncConnectionConfig::new().set_response_timeout(None);
                match self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(conn) => *guard = Some(conn),
                    Err(e) => {
                        tracing::warn!(host = %self.host, error = %e, "cannot open the blocking Redis connection; polling");
                        drop(guard);
                        tokio::time::sleep(max.min(Duration::from_secs(1))).await;
                        return;
                    }
                }
            }
            let Some(conn) = guard.as_mut() else { return };
            let keys: Vec<String> = queues
                .iter()
                .map(|q| format!("{}:notify", self.queue_key(q)))
                .collect();
            // BLPOP takes seconds; 0 would block forever.
            let secs = max.as_secs_f64().max(0.01);
            let blocked: redis::RedisResult<Option<(String, String)>> = redis::cmd("BLPOP")
                .arg(&keys)
                .arg(secs)
                .query_async(conn)
                .await;
            if let Err(e) = blocked {
                tracing::warn!(host = %self.host, error = %e, "blocking pop failed; reconnecting");
                *guard = None;
                drop(guard);
                tokio::time::sleep(max.min(Duration::from_secs(1))).await;
            }
        })
    }
}

impl JobStore for RedisDriver {
    fn status<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<Option<JobStatus>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let status: Option<String> = redis::cmd("GET")
                .arg(format!("{}{uuid}", self.status_prefix()))
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(status.as_deref().and_then(JobStatus::parse))
        })
    }

    fn cancel<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let cancelled: i64 = self
                .scripts
                .cancel
                .key(format!("{}{uuid}", self.status_prefix()))
                .arg(STATUS_TTL_SECS)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(cancelled == 1)
        })
    }

    fn acquire_unique<'a>(&'a self, key: &'a str, ttl_ms: u64) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let set: Option<String> = redis::cmd("SET")
                .arg(format!("{}unique:{key}", self.prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms.max(1))
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(set.is_some())
        })
    }

    fn release_unique<'a>(&'a self, key: &'a str) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::cmd("DEL")
                .arg(format!("{}unique:{key}", self.prefix))
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }

    fn insert_failed(&self, job: FailedJob) -> BoxFuture<'_, QueueResult<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let json = serde_json::to_string(&job).unwrap_or_default();
            redis::pipe()
                .atomic()
                .hset(format!("{}failed", self.prefix), &job.uuid, json)
                .rpush(format!("{}failed:ids", self.prefix), &job.uuid)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }

    fn failed_jobs(&self) -> BoxFuture<'_, QueueResult<Vec<FailedJob>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut ids: Vec<String> = redis::cmd("LRANGE")
                .arg(format!("{}failed:ids", self.prefix))
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            ids.reverse();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let jobs: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(format!("{}failed", self.prefix))
                .arg(&ids)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(jobs
                .into_iter()
                .flatten()
                .filter_map(|json| serde_json::from_str(&json).ok())
                .collect())
        })
    }

    fn forget_failed<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let (removed, _): (i64, i64) = redis::pipe()
                .atomic()
                .hdel(format!("{}failed", self.prefix), uuid)
                .lrem(format!("{}failed:ids", self.prefix), 0, uuid)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(removed > 0)
        })
    }

    fn flush_failed(&self) -> BoxFuture<'_, QueueResult<u64>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let (count, _): (u64, i64) = redis::pipe()
                .atomic()
                .hlen(format!("{}failed", self.prefix))
                .del(&[
                    format!("{}failed", self.prefix),
                    format!("{}failed:ids", self.prefix),
                ])
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(count)
        })
    }

    fn create_batch<'a>(&'a self, batch: &'a BatchRecord) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let json = serde_json::to_string(batch).unwrap_or_default();
            redis::pipe()
                .atomic()
                .hset_multiple(
                    self.batch_key(&batch.id),
                    &[
                        ("record", json),
                        ("pending", batch.pending_jobs.to_string()),
                        ("failed", batch.failed_jobs.to_string()),
                    ],
                )
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }

    fn find_batch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let key = self.batch_key(id);
            let (fields, failed_ids): (std::collections::HashMap<String, String>, Vec<String>) =
                redis::pipe()
                    .hgetall(&key)
                    .lrange(format!("{key}:failed"), 0, -1)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.err(&e))?;
            let Some(mut batch) = fields
                .get("record")
                .and_then(|json| serde_json::from_str::<BatchRecord>(json).ok())
            else {
                return Ok(None);
            };
            let number = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
            batch.pending_jobs =
                number("pending").map_or(batch.pending_jobs, |n| u64::try_from(n).unwrap_or(0));
            batch.failed_jobs =
                number("failed").map_or(batch.failed_jobs, |n| u64::try_from(n).unwrap_or(0));
            batch.cancelled_at_ms = number("cancelled_at");
            batch.finished_at_ms = number("finished_at");
            batch.failed_job_ids = failed_ids;
            Ok(Some(batch))
        })
    }

    fn record_batch_job<'a>(
        &'a self,
        id: &'a str,
        failed_job: Option<&'a str>,
        now_ms: i64,
    ) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let key = self.batch_key(id);
            let counts: Vec<i64> = self
                .scripts
                .record_batch_job
                .key(&key)
                .key(format!("{key}:failed"))
                .arg(failed_job.unwrap_or(""))
                .arg(now_ms)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            let [pending, failed] = counts[..] else {
                return Ok(None);
            };
            // The counts as of this update decide the callbacks, whatever happened since.
            Ok(self.find_batch(id).await?.map(|mut batch| {
                batch.pending_jobs = u64::try_from(pending).unwrap_or(0);
                batch.failed_jobs = u64::try_from(failed).unwrap_or(0);
                batch
            }))
        })
    }

    fn cancel_batch<'a>(&'a self, id: &'a str, now_ms: i64) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::cmd("HSETNX")
                .arg(self.batch_key(id))
                .arg("cancelled_at")
                .arg(now_ms)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.err(&e))?;
            Ok(())
        })
    }
}
