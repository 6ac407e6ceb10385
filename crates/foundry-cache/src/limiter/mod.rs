//! Rate limiting: Laravel's `RateLimiter` API, four algorithms, named limiters and the
//! [`throttle`](crate::throttle) middleware.
//!
//! A [`RateLimiter`] counts in one backend chosen by `[cache] limiter` (default: the default
//! store): a memory store counts in this process; a Redis store runs one atomic Lua script
//! per algorithm, so every process sharing the server sees one count; any other store (the
//! database) serialises each step under a cache lock.
//!
//! ```
//! use std::time::Duration;
//! use foundry_cache::limiter::{Limit, RateLimiter};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let limiter = RateLimiter::memory(foundry_core::Clock::system());
//! for _ in 0..3 {
//!     limiter.hit("login:ada", Duration::from_secs(60)).await.unwrap();
//! }
//! assert!(limiter.too_many_attempts("login:ada", 3).await.unwrap());
//! assert_eq!(limiter.remaining("login:ada", 5).await.unwrap(), 2);
//!
//! // Any algorithm, one call per request:
//! let decision = limiter.acquire("api:ada", &Limit::per_minute(60).gcra()).await.unwrap();
//! assert!(decision.allowed && decision.remaining == 59);
//! # });
//! ```

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use foundry_core::{BoxFuture, Clock};

use crate::error::{CacheError, CacheResult};

pub(crate) mod algorithm;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod store;

use memory::MemoryLimiter;

use algorithm::Spec;

/// How a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// Laravel's: a counter that starts at the first hit and resets after the period.
    #[default]
    FixedWindow,
    /// The current window's count plus the previous window's, weighted by how much of it still
    /// overlaps the last period: no burst of 2× at window edges.
    SlidingWindow,
    /// A bucket of `max` tokens refilled evenly over the period; bursts up to `max`.
    TokenBucket,
    /// Generic cell rate: one theoretical arrival time per key; smooth, exact, one number
    /// of state.
    Gcra,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::FixedWindow,
        Algorithm::SlidingWindow,
        Algorithm::TokenBucket,
        Algorithm::Gcra,
    ];

    /// A short name used in keys and scripts.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::FixedWindow => "fixed",
            Algorithm::SlidingWindow => "sliding",
            Algorithm::TokenBucket => "bucket",
            Algorithm::Gcra => "gcra",
        }
    }
}

/// What a limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// The limit (`X-RateLimit-Limit`).
    pub limit: u64,
    /// How many more requests are allowed now (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// When denied: how long until a request would be allowed (`Retry-After`).
    pub retry_after: Duration,
    /// How long until the key is back to a full allowance.
    pub reset_after: Duration,
}

impl Decision {
    pub(crate) fn new(
        limit: u64,
        allowed: bool,
        remaining: u64,
        retry_ms: i64,
        reset_ms: i64,
    ) -> Self {
        let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        Self {
            allowed,
            limit,
            remaining,
            retry_after: ms(retry_ms),
            reset_after: ms(reset_ms),
        }
    }

    /// `retry_after` in whole seconds, rounded up (what `Retry-After` carries).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000) as u64
    }
}

/// A limit: `max` requests per `period`, counted with an algorithm, per key (`by`).
///
/// ```
/// use foundry_cache::limiter::{Algorithm, Limit};
/// let limit = Limit::per_minute(60).by("user:7").sliding_window();
/// assert_eq!((limit.max, limit.key.as_str(), limit.algorithm), (60, "user:7", Algorithm::SlidingWindow));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per period.
    pub max: u64,
    /// The period.
    pub period: Duration,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// What the limit is counted per (user id, IP, …); empty means one count for everyone.
    pub key: String,
    /// No limit at all ([`Limit::none`]).
    pub unlimited: bool,
}

impl Limit {
    /// `max` per `period` (fixed window).
    pub fn new(max: u64, period: Duration) -> Self {
        Self {
            max,
            period,
            algorithm: Algorithm::FixedWindow,
            key: String::new(),
            unlimited: false,
        }
    }

    /// `max` per second.
    pub fn per_second(max: u64) -> Self {
        Self::new(max, Duration::from_secs(1))
    }

    /// `max` per minute.
    pub fn per_minute(max: u64) -> Self {
        Self::new(max, Duration::from_secs(60))
    }

    /// `max` per `minutes` minutes.
    pub fn per_minutes(minutes: u64, max: u64) -> Self {
        Self::new(max, Duration::from_secs(60 * minutes))
    }

    /// `max` per hour.
    pub fn per_hour(max: u64) -> Self {
        Self::new(max, Duration::from_secs(3600))
    }

    /// `max` per day.
    pub fn per_day(max: u64) -> Self {
        Self::new(max, Duration::from_secs(86_400))
    }

    /// No limit: every request passes and no headers are added.
    pub fn none() -> Self {
        Self {
            unlimited: true,
            ..Self::new(u64::MAX, Duration::from_secs(60))
        }
    }

    /// Count per `key` (a user id, an IP, …).
    pub fn by(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Use `algorithm`.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Use a sliding window.
    pub fn sliding_window(self) -> Self {
        self.algorithm(Algorithm::SlidingWindow)
    }

    /// Use a token bucket.
    pub fn token_bucket(self) -> Self {
        self.algorithm(Algorithm::TokenBucket)
    }

    /// Use GCRA.
    pub fn gcra(self) -> Self {
        self.algorithm(Algorithm::Gcra)
    }

    pub(crate) fn spec(&self) -> CacheResult<Spec> {
        let period_ms = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX);
        if period_ms < 1 {
            return Err(CacheError::InvalidLimit(format!(
                "{} per {:?}: the period must be at least 1 ms",
                self.max, self.period
            )));
        }
        if self.max > MAX_COUNT {
            return Err(CacheError::InvalidLimit(format!(
                "{} per {:?}: at most {MAX_COUNT} requests per period can be counted exactly",
                self.max, self.period
            )));
        }
        Ok(Spec {
            algorithm: self.algorithm,
            max: self.max,
            period_ms,
        })
    }
}

/// The largest count limiters handle: exact in the doubles Lua computes with.
const MAX_COUNT: u64 = 1 << 50;

/// A backend that steps limits atomically per key.
pub(crate) trait LimiterBackend: Send + Sync + 'static {
    /// Step `key` under `spec`, consuming `cost` (0 only inspects).
    fn step<'a>(
        &'a self,
        key: &'a str,
        spec: Spec,
        cost: u64,
    ) -> BoxFuture<'a, CacheResult<Decision>>;

    /// Forget everything about `key` (every algorithm).
    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>>;
}

/// Computes the limit for a request: the closure behind a named limiter.
pub type LimitResolver = Arc<dyn Fn(&http::request::Parts) -> Limit + Send + Sync>;

/// A named limiter for values other than requests (queued jobs): the type it was defined
/// for, and its closure over a value of that type.
#[derive(Clone)]
struct SubjectLimiter {
    type_name: &'static str,
    resolve: SubjectResolver,
}

/// A subject limiter's closure: `None` when the value is not of its type.
type SubjectResolver = Arc<dyn Fn(&dyn Any) -> Option<Limit> + Send + Sync>;

type SubjectLimiters = Arc<RwLock<HashMap<String, SubjectLimiter>>>;

/// Laravel's `RateLimiter`: counts per key in a backend, and holds the named limiters the
/// `throttle:<name>` middleware uses. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct RateLimiter {
    backend: Arc<dyn LimiterBackend>,
    named: Arc<RwLock<HashMap<String, LimitResolver>>>,
    subjects: SubjectLimiters,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("named", &self.names())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter counting in `backend`.
    pub(crate) fn new(backend: impl LimiterBackend) -> Self {
        Self {
            backend: Arc::new(backend),
            named: Arc::default(),
            subjects: Arc::default(),
        }
    }

    /// A limiter counting in this process, timed by `clock`.
    pub fn memory(clock: Clock) -> Self {
        Self::new(MemoryLimiter::new(clock))
    }

    /// A limiter counting on a Redis server: one atomic Lua script per algorithm, timed by
    /// the server, so every process sharing it sees one count. Keys live under
    /// `<prefix>limiter:`.
    #[cfg(feature = "redis")]
    pub fn redis(connection: crate::redis::RedisConnection, prefix: &str) -> Self {
        Self::new(redis::RedisLimiter::new(connection, prefix))
    }

    /// A limiter counting in any cache store (the database store, say): each step reads and
    /// writes the key's state under a cache lock, timed by `clock`.
    pub fn store(cache: crate::Cache, clock: Clock) -> Self {
        Self::new(store::StoreLimiter::new(cache, clock))
    }

    /// Register the named limiter `name` (Laravel's `RateLimiter::for`), used by
    /// `throttle:<name>`. Replaces an earlier one of the same name.
    ///
    /// ```
    /// # use foundry_cache::limiter::{Limit, RateLimiter, client_ip};
    /// # let limiter = RateLimiter::memory(foundry_core::Clock::system());
    /// limiter.define("api", |request| Limit::per_minute(60).by(client_ip(request)));
    /// assert!(limiter.named("api").is_some());
    /// ```
    pub fn define<F>(&self, name: &str, resolve: F)
    where
        F: Fn(&http::request::Parts) -> Limit + Send + Sync + 'static,
    {
        self.named
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), Arc::new(resolve));
    }

    /// The named limiter `name`.
    pub fn named(&self, name: &str) -> Option<LimitResolver> {
        self.named
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Register the named limiter `name` for values of type `T` rather than requests: a
    /// queued job's `rate_limited(name)` middleware computes its limit from the job (Laravel's
    /// `RateLimiter::for('backups', fn ($job) => …)`). Replaces an earlier one of the same
    /// name; request limiters of that name ([`RateLimiter::define`]) are separate.
    ///
    /// ```
    /// # use foundry_cache::limiter::{Limit, RateLimiter};
    /// # let limiter = RateLimiter::memory(foundry_core::Clock::system());
    /// struct Backup { user_id: i64 }
    /// limiter.define_for("backups", |job: &Backup| Limit::per_hour(1).by(job.user_id.to_string()));
    /// let limit = limiter.limit_for("backups", &Backup { user_id: 7 }, "Backup").unwrap();
    /// assert_eq!(limit.map(|l| l.key), Some("7".to_owned()));
    /// ```
    pub fn define_for<T, F>(&self, name: &str, resolve: F)
    where
        T: Any,
        F: Fn(&T) -> Limit + Send + Sync + 'static,
    {
        let limiter = SubjectLimiter {
            type_name: std::any::type_name::<T>(),
            resolve: Arc::new(move |subject: &dyn Any| subject.downcast_ref::<T>().map(&resolve)),
        };
        self.subjects
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), limiter);
    }

    /// The limit the named limiter `name` ([`RateLimiter::define_for`]) gives `subject`;
    /// `None` when no such limiter is defined. `subject_name` names the value in the error
    /// when the limiter was defined for another type.
    pub fn limit_for(
        &self,
        name: &str,
        subject: &dyn Any,
        subject_name: &str,
    ) -> CacheResult<Option<Limit>> {
        let limiter = self
            .subjects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned();
        let Some(limiter) = limiter else {
            return Ok(None);
        };
        match (limiter.resolve)(subject) {
            Some(limit) => Ok(Some(limit)),
            None => Err(CacheError::InvalidLimit(format!(
                "the rate limiter `{name}` is defined for `{}` (RateLimiter::define_for), not \
                 for `{subject_name}`; define a limiter of another name for it",
                limiter.type_name
            ))),
        }
    }

    /// Every named limiter, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .named
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Count one request against `limit` under `key` (plus `limit.key`), atomically: the
    /// decision says whether it may go ahead, and it is only counted when it may.
    pub async fn acquire(&self, key: &str, limit: &Limit) -> CacheResult<Decision> {
        self.acquire_many(key, limit, 1).await
    }

    /// [`RateLimiter::acquire`] with a cost other than 1.
    pub async fn acquire_many(&self, key: &str, limit: &Limit, cost: u64) -> CacheResult<Decision> {
        if limit.unlimited {
            return Ok(Decision::new(limit.max, true, limit.max, 0, 0));
        }
        let key = Self::full_key(key, limit);
        self.backend.step(&key, limit.spec()?, cost).await
    }

    /// What [`RateLimiter::acquire`] would decide, without counting.
    pub async fn peek(&self, key: &str, limit: &Limit) -> CacheResult<Decision> {
        if limit.unlimited {
            return Ok(Decision::new(limit.max, true, limit.max, 0, 0));
        }
        let key = Self::full_key(key, limit);
        self.backend.step(&key, limit.spec()?, 0).await
    }

    fn full_key(key: &str, limit: &Limit) -> String {
        if limit.key.is_empty() {
            key.to_owned()
        } else {
            format!("{key}:{}", limit.key)
        }
    }

    /// Laravel's `attempt`: run `f` unless `key` has had `max` attempts in the current
    /// `decay` window; `None` when limited. The attempt is counted atomically.
    pub async fn attempt<F, Fut, T>(
        &self,
        key: &str,
        max: u64,
        decay: Duration,
        f: F,
    ) -> CacheResult<Option<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let decision = self.acquire(key, &Limit::new(max, decay)).await?;
        if !decision.allowed {
            return Ok(None);
        }
        Ok(Some(f().await))
    }

    /// Laravel's `tooManyAttempts`: whether `key` has had `max` hits in its window.
    pub async fn too_many_attempts(&self, key: &str, max: u64) -> CacheResult<bool> {
        Ok(self.attempts(key).await? >= max)
    }

    /// Laravel's `hit`: count one attempt on `key`, starting a `decay` window if none is
    /// running; the number of attempts in the window.
    pub async fn hit(&self, key: &str, decay: Duration) -> CacheResult<u64> {
        self.increment(key, decay, 1).await
    }

    /// Laravel's `increment`: [`RateLimiter::hit`] counting `amount`.
    pub async fn increment(&self, key: &str, decay: Duration, amount: u64) -> CacheResult<u64> {
        let limit = Limit::new(MAX_COUNT, decay);
        let decision = self.acquire_many(key, &limit, amount).await?;
        Ok(MAX_COUNT - decision.remaining)
    }

    /// Laravel's `attempts`: hits on `key` in its current window.
    pub async fn attempts(&self, key: &str) -> CacheResult<u64> {
        let decision = self
            .peek(key, &Limit::new(MAX_COUNT, Duration::from_secs(60)))
            .await?;
        Ok(MAX_COUNT - decision.remaining)
    }

    /// Laravel's `remaining`: attempts left on `key` out of `max`.
    pub async fn remaining(&self, key: &str, max: u64) -> CacheResult<u64> {
        Ok(max.saturating_sub(self.attempts(key).await?))
    }

    /// Laravel's `availableIn`: how long until `key`'s window resets (zero when none runs).
    pub async fn available_in(&self, key: &str) -> CacheResult<Duration> {
        let decision = self
            .peek(key, &Limit::new(MAX_COUNT, Duration::from_secs(60)))
            .await?;
        if decision.remaining == MAX_COUNT {
            return Ok(Duration::ZERO);
        }
        Ok(decision.reset_after)
    }

    /// Laravel's `clear`: forget every count of `key`.
    pub async fn clear(&self, key: &str) -> CacheResult<()> {
        self.backend.clear(key).await
    }
}

/// The client's IP: the one a trusted proxy forwarded (the kernel records it only for peers in
/// `[http] trusted_proxies`), else the connection's peer address (`ConnectInfo`), else
/// `"unknown"` when the server recorded neither. A client's own `X-Forwarded-For` is never
/// believed, so it cannot pick its own bucket.
pub fn client_ip(request: &http::request::Parts) -> String {
    request
        .extensions
        .get::<foundry_core::client::Forwarded>()
        .and_then(|forwarded| forwarded.ip)
        .or_else(|| {
            request
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_canonical())
        })
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
