//! The `redis` store (cargo feature `redis`): redis-rs with one multiplexed
//! [`ConnectionManager`] per server URL, shared by every store, lock and rate limiter on it.
//!
//! Keys are `<prefix><key>`; locks live at `<prefix>lock:<key>` (`SET NX PX`, released by a
//! compare-and-delete Lua script); tag `t` keeps its entries in the sorted set
//! `<prefix>tag:t:entries`, scored by expiry so stale members can be pruned. TTLs are the
//! server's own (`PX`), so the app's clock does not move them.

use std::sync::LazyLock;
use std::time::Duration;

use foundry_core::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Script};

use crate::error::{CacheError, CacheResult};
use crate::store::{Store, ttl_millis};

/// A connection to one Redis server, cheap to clone; the manager reconnects on its own.
#[derive(Clone)]
pub struct RedisConnection {
    manager: ConnectionManager,
    host: String,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connect to `url`, waiting at most `timeout` for the server; `store` names the store in
    /// errors. A dead server is an error naming its host, never a hang.
    pub async fn connect(store: &str, url: &str, timeout: Duration) -> CacheResult<Self> {
        let client = redis::Client::open(url).map_err(|err| {
            CacheError::Config(format!(
                "cache store `{store}`: invalid redis url: {err} (expected redis://host:port[/db])"
            ))
        })?;
        let host = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(timeout);
        let connect = ConnectionManager::new_with_config(client, config);
        let unreachable = |reason: String| CacheError::Connect {
            store: store.to_owned(),
            driver: "redis",
            host: host.clone(),
            reason,
        };
        let manager = match tokio::time::timeout(timeout.saturating_mul(2), connect).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(err)) => return Err(unreachable(err.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {timeout:?} (is redis-server running there?)"
                )));
            }
        };
        Ok(Self { manager, host })
    }

    /// The shared connection manager, for raw commands.
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// `host:port` of the server.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Run a command; errors become [`CacheError`] naming `store` and `action`.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        store: &str,
        action: &str,
        cmd: &Cmd,
    ) -> CacheResult<T> {
        let mut con = self.manager.clone();
        cmd.query_async(&mut con)
            .await
            .map_err(|err| self.error(store, action, &err))
    }

    /// Run a script; errors become [`CacheError`] naming `store` and `action`.
    pub(crate) async fn invoke<T: redis::FromRedisValue>(
        &self,
        store: &str,
        action: &str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> CacheResult<T> {
        let mut con = self.manager.clone();
        invocation
            .invoke_async(&mut con)
            .await
            .map_err(|err| self.error(store, action, &err))
    }

    pub(crate) fn error(&self, store: &str, action: &str, err: &redis::RedisError) -> CacheError {
        if err.is_io_error()
            || err.is_connection_refusal()
            || err.is_timeout()
            || err.is_connection_dropped()
        {
            CacheError::Connect {
                store: store.to_owned(),
                driver: "redis",
                host: self.host.clone(),
                reason: err.to_string(),
            }
        } else {
            CacheError::Backend {
                store: store.to_owned(),
                driver: "redis",
                action: action.to_owned(),
                reason: err.to_string(),
            }
        }
    }
}

/// `DEL` the lock only if its value is the caller's owner token.
static RELEASE_LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
          end
          return 0",
    )
});

/// Delete every entry listed in the tag sets `KEYS`, then the sets.
static FLUSH_TAGS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"for _, set in ipairs(KEYS) do
            local members = redis.call('ZRANGE', set, 0, -1)
            for i = 1, #members, 500 do
              redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
            end
            redis.call('DEL', set)
          end
          return 0",
    )
});

/// Escape glob characters for `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Redis store.
#[derive(Debug, Clone)]
pub struct RedisStore {
    name: String,
    connection: RedisConnection,
    prefix: String,
}

impl RedisStore {
    /// A store named `name` on `connection`, with keys under `prefix`.
    pub fn new(name: &str, connection: RedisConnection, prefix: &str) -> Self {
        Self {
            name: name.to_owned(),
            connection,
            prefix: prefix.to_owned(),
        }
    }

    /// The shared connection (the queue and the rate limiter use it too).
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}lock:{key}", self.prefix)
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}tag:{tag}:entries", self.prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, action: &str, cmd: &Cmd) -> CacheResult<T> {
        self.connection.query(&self.name, action, cmd).await
    }

    fn set_cmd(key: String, value: String, ttl: Option<Duration>) -> Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_millis(ttl));
        }
        cmd
    }
}

impl Store for RedisStore {
    fn driver(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>> {
        Box::pin(async move {
            self.query(
                &format!("reading `{key}`"),
                redis::cmd("GET").arg(self.key(key)),
            )
            .await
        })
    }

    fn many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, CacheResult<Vec<Option<String>>>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let mut cmd = redis::cmd("MGET");
            for key in keys {
                cmd.arg(self.key(key));
            }
            self.query("reading many keys", &cmd).await
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            let cmd = Self::set_cmd(self.key(key), value, ttl);
            self.query::<()>(&format!("writing `{key}`"), &cmd).await
        })
    }

    fn put_many<'a>(
        &'a self,
        entries: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            if entries.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (key, value) in entries {
                pipe.add_command(Self::set_cmd(self.key(&key), value, ttl))
                    .ignore();
            }
            let mut con = self.connection.manager();
            pipe.query_async::<()>(&mut con)
                .await
                .map_err(|err| self.connection.error(&self.name, "writing many keys", &err))
        })
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let mut cmd = Self::set_cmd(self.key(key), value, ttl);
            cmd.arg("NX");
            let set: Option<String> = self.query(&format!("adding `{key}`"), &cmd).await?;
            Ok(set.is_some())
        })
    }

    fn increment<'a>(&'a self, key: &'a str, by: i64) -> BoxFuture<'a, CacheResult<i64>> {
        Box::pin(async move {
            let cmd = redis::cmd("INCRBY").arg(self.key(key)).arg(by).clone();
            match self.query(&format!("incrementing `{key}`"), &cmd).await {
                Err(CacheError::Backend { reason, .. }) if reason.contains("not an integer") => {
                    Err(CacheError::NotAnInteger {
                        key: key.to_owned(),
                    })
                }
                other => other,
            }
        })
    }

    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let removed: i64 = self
                .query(
                    &format!("forgetting `{key}`"),
                    redis::cmd("DEL").arg(self.key(key)),
                )
                .await?;
            Ok(removed > 0)
        })
    }

    fn flush(&self) -> BoxFuture<'_, CacheResult<()>> {
        Box::pin(async move {
            // SCAN, not FLUSHDB: other apps may share the server; only this prefix goes.
            let pattern = format!("{}*", glob_escape(&self.prefix));
            let locks = self.lock_key("");
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = self
                    .query(
                        "flushing",
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000),
                    )
                    .await?;
                let doomed: Vec<&String> = keys.iter().filter(|k| !k.starts_with(&locks)).collect();
                if !doomed.is_empty() {
                    self.query::<()>("flushing", redis::cmd("UNLINK").arg(doomed))
                        .await?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
    }

    fn lock_acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let mut cmd = Self::set_cmd(self.lock_key(key), owner.to_owned(), ttl);
            cmd.arg("NX");
            let set: Option<String> = self
                .query(&format!("acquiring the lock `{key}`"), &cmd)
                .await?;
            Ok(set.is_some())
        })
    }

    fn lock_release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let mut invocation = RELEASE_LOCK.key(self.lock_key(key));
            invocation.arg(owner);
            let released: i64 = self
                .connection
                .invoke(
                    &self.name,
                    &format!("releasing the lock `{key}`"),
                    &invocation,
                )
                .await?;
            Ok(released > 0)
        })
    }

    fn lock_force_release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            self.query::<()>(
                &format!("force-releasing the lock `{key}`"),
                redis::cmd("DEL").arg(self.lock_key(key)),
            )
            .await
        })
    }

    fn lock_owner<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>> {
        Box::pin(async move {
            self.query(
                &format!("reading the lock `{key}`"),
                redis::cmd("GET").arg(self.lock_key(key)),
            )
            .await
        })
    }

    fn supports_tags(&self) -> bool {
        true
    }

    fn tags_add<'a>(
        &'a self,
        tags: &'a [String],
        key: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let score = match ttl {
                Some(ttl) => now.saturating_add(ttl_millis(ttl)).to_string(),
                None => "+inf".to_owned(),
            };
            let mut pipe = redis::pipe();
            for tag in tags {
                let set = self.tag_key(tag);
                pipe.cmd("ZADD")
                    .arg(&set)
                    .arg(&score)
                    .arg(self.key(key))
                    .ignore();
                // Entries that expired on their own leave their tag sets here.
                pipe.cmd("ZREMRANGEBYSCORE")
                    .arg(&set)
                    .arg("-inf")
                    .arg(format!("({now}"))
                    .ignore();
            }
            let mut con = self.connection.manager();
            pipe.query_async::<()>(&mut con)
                .await
                .map_err(|err| self.connection.error(&self.name, "tagging", &err))
        })
    }

    fn tags_flush<'a>(&'a self, tags: &'a [String]) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            let mut invocation = FLUSH_TAGS.prepare_invoke();
            for tag in tags {
                invocation.key(self.tag_key(tag));
            }
            self.connection
                .invoke::<()>(&self.name, "flushing tags", &invocation)
                .await
        })
    }

    fn ping(&self) -> BoxFuture<'_, CacheResult<()>> {
        Box::pin(async move { self.query::<()>("pinging", &redis::cmd("PING")).await })
    }
}
