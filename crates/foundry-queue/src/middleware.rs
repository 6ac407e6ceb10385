//! Job middleware (Laravel's `middleware()` on a job): checks that run before a job's
//! `handle` and may hold it back. [`rate_limited`] counts the job against a named limiter of
//! the app's rate limiter; [`without_overlapping`] holds a cache lock while the job runs.
//!
//! Both need the app's cache (the `cache` feature and `QueueManager::use_cache`, which the
//! kernel calls). A held-back job is released onto its queue (the attempt counts toward its
//! tries, as in Laravel: give such jobs `tries(0)` with `retry_until`, or enough tries) or, with
//! `dont_release()`, dropped without running: its status becomes `cancelled` and its chain
//! and batch carry on as after a success.

use std::any::Any;
use std::time::Duration;

use crate::manager::QueueManager;

/// Where overlap locks live in the cache (Laravel's `laravel-queue-overlap:`).
#[cfg_attr(not(feature = "cache"), allow(dead_code))]
const OVERLAP_PREFIX: &str = "foundry:queue:overlap:";

/// A job middleware, returned by [`Job::middleware`](crate::Job::middleware).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobMiddleware {
    /// See [`rate_limited`].
    RateLimited(RateLimited),
    /// See [`without_overlapping`].
    WithoutOverlapping(WithoutOverlapping),
}

/// Run the job only while the named limiter `name` allows it; otherwise release it back onto
/// its queue until the limiter has room again.
///
/// The limiter is defined for the job's type with foundry-cache's `RateLimiter::define_for`,
/// so its limit can depend on the job:
///
/// ```
/// use foundry_queue::{Job, JobContext, JobMiddleware, JobResult, rate_limited};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Backup { user_id: i64 }
///
/// impl Job for Backup {
///     const NAME: &'static str = "backup";
///     async fn handle(&self, _ctx: &JobContext) -> JobResult { Ok(()) }
///     fn middleware(&self) -> Vec<JobMiddleware> {
///         vec![rate_limited("backups").into()]
///     }
/// }
/// // When a provider boots:
/// // limiter.define_for("backups", |job: &Backup| Limit::per_hour(1).by(job.user_id.to_string()));
/// ```
pub fn rate_limited(name: &str) -> RateLimited {
    RateLimited {
        name: name.to_owned(),
        release_after: None,
        release: true,
    }
}

/// Run only one job with this key at a time (per job name, unless [`WithoutOverlapping::shared`]):
/// the job holds a cache lock while it runs; a job finding the lock taken is released back
/// onto its queue (at once, unless [`WithoutOverlapping::release_after`] says otherwise).
pub fn without_overlapping(key: impl Into<String>) -> WithoutOverlapping {
    WithoutOverlapping {
        key: key.into(),
        release_after: Some(Duration::ZERO),
        expire_after: None,
        shared: false,
    }
}

/// The [`rate_limited`] middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "cache"), allow(dead_code))]
pub struct RateLimited {
    name: String,
    release_after: Option<Duration>,
    release: bool,
}

impl RateLimited {
    /// Release a limited job with this delay instead of the time until the limiter has room.
    pub fn release_after(mut self, delay: Duration) -> Self {
        self.release_after = Some(delay);
        self
    }

    /// Drop a limited job instead of releasing it (it does not run; status `cancelled`).
    pub fn dont_release(mut self) -> Self {
        self.release = false;
        self
    }
}

/// The [`without_overlapping`] middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "cache"), allow(dead_code))]
pub struct WithoutOverlapping {
    key: String,
    release_after: Option<Duration>,
    expire_after: Option<Duration>,
    shared: bool,
}

impl WithoutOverlapping {
    /// Release a job finding the lock taken with this delay (default: none, as in Laravel).
    pub fn release_after(mut self, delay: Duration) -> Self {
        self.release_after = Some(delay);
        self
    }

    /// Drop a job finding the lock taken instead of releasing it (it does not run; status
    /// `cancelled`).
    pub fn dont_release(mut self) -> Self {
        self.release_after = None;
        self
    }

    /// Let the lock expire after `ttl` even if its worker died without releasing it.
    ///
    /// Default: the attempt's timeout. Laravel's locks never expire by default, so a worker
    /// killed mid-job blocks the key for good; an attempt cannot outlive its timeout here (it is
    /// cancelled), so a lock lasting that long is always enough and never stranded.
    pub fn expire_after(mut self, ttl: Duration) -> Self {
        self.expire_after = Some(ttl);
        self
    }

    /// Share the key with every job type using it (by default it is per job name).
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    #[cfg_attr(not(feature = "cache"), allow(dead_code))]
    fn lock_key(&self, job: &str) -> String {
        if self.shared {
            format!("{OVERLAP_PREFIX}{}", self.key)
        } else {
            format!("{OVERLAP_PREFIX}{job}:{}", self.key)
        }
    }
}

impl From<RateLimited> for JobMiddleware {
    fn from(middleware: RateLimited) -> Self {
        JobMiddleware::RateLimited(middleware)
    }
}

impl From<WithoutOverlapping> for JobMiddleware {
    fn from(middleware: WithoutOverlapping) -> Self {
        JobMiddleware::WithoutOverlapping(middleware)
    }
}

/// What the middleware decided before a run.
#[cfg_attr(not(feature = "cache"), allow(dead_code))]
pub(crate) enum Gate {
    /// Run the job; release what is held once it is over.
    Run(Held),
    /// Put the job back, available after this delay (the attempt counts).
    Release(Duration),
    /// Do not run the job: finish it as cancelled, for this reason.
    Skip(String),
}

/// What passed middleware hold until the job is over: overlap locks.
#[derive(Default)]
pub(crate) struct Held {
    #[cfg(feature = "cache")]
    locks: Vec<foundry_cache::Lock>,
}

impl Held {
    /// Release the locks. A lock that cannot be released expires with its TTL.
    pub(crate) async fn release(self) {
        #[cfg(feature = "cache")]
        for lock in self.locks.into_iter().rev() {
            if let Err(err) = lock.release().await {
                tracing::warn!(key = lock.key(), error = %err, "cannot release a job's overlap lock; it expires with its TTL");
            }
        }
    }
}

/// Run `middleware` of job `name` (deserialized as `job`) in order, before an attempt that may
/// last `timeout`. An `Err` is a failed attempt (a missing limiter, an unreachable cache).
pub(crate) async fn before(
    manager: &QueueManager,
    name: &str,
    job: &(dyn Any + Send + Sync),
    middleware: &[JobMiddleware],
    timeout: Duration,
) -> Result<Gate, String> {
    if middleware.is_empty() {
        return Ok(Gate::Run(Held::default()));
    }
    check(manager, name, job, middleware, timeout).await
}

#[cfg(not(feature = "cache"))]
async fn check(
    _manager: &QueueManager,
    name: &str,
    _job: &(dyn Any + Send + Sync),
    _middleware: &[JobMiddleware],
    _timeout: Duration,
) -> Result<Gate, String> {
    Err(format!(
        "job `{name}` has job middleware (rate_limited, without_overlapping), which needs the \
         cache: build foundry-queue with its `cache` feature (foundry's `cache` feature)"
    ))
}

#[cfg(feature = "cache")]
async fn check(
    manager: &QueueManager,
    name: &str,
    job: &(dyn Any + Send + Sync),
    middleware: &[JobMiddleware],
    timeout: Duration,
) -> Result<Gate, String> {
    let Some((cache, limiter)) = manager.cache_services() else {
        return Err(
            crate::QueueError::NoCache(format!("the job middleware of `{name}`")).to_string(),
        );
    };
    let mut held = Held::default();
    for step in middleware {
        let gate = match step {
            JobMiddleware::RateLimited(rate) => rate_limit(&limiter, name, job, rate).await,
            JobMiddleware::WithoutOverlapping(overlap) => {
                let key = overlap.lock_key(name);
                let ttl = overlap.expire_after.unwrap_or(timeout);
                let lock = cache.lock(&key, ttl);
                match lock.get().await {
                    Ok(true) => {
                        held.locks.push(lock);
                        continue;
                    }
                    Ok(false) => Ok(match overlap.release_after {
                        Some(delay) => Gate::Release(delay),
                        None => Gate::Skip(format!(
                            "another job holds its overlap lock `{}`",
                            overlap.key
                        )),
                    }),
                    Err(err) => Err(format!(
                        "job `{name}` cannot take its overlap lock `{key}`: {}",
                        foundry_core::error::error_chain(&err)
                    )),
                }
            }
        };
        match gate {
            Ok(Gate::Run(_)) => {}
            other => {
                // Held back: what earlier middleware took is not needed any more.
                held.release().await;
                return other;
            }
        }
    }
    Ok(Gate::Run(held))
}

#[cfg(feature = "cache")]
async fn rate_limit(
    limiter: &foundry_cache::RateLimiter,
    name: &str,
    job: &(dyn Any + Send + Sync),
    rate: &RateLimited,
) -> Result<Gate, String> {
    let limit = match limiter.limit_for(&rate.name, job, name) {
        Ok(Some(limit)) => limit,
        Ok(None) => {
            return Err(format!(
                "job `{name}` uses rate_limited(\"{0}\"), but no rate limiter `{0}` is defined for \
                 jobs; define it when a provider boots: RateLimiter::define_for(\"{0}\", |job: &MyJob| \
                 Limit::per_minute(10))",
                rate.name
            ));
        }
        Err(err) => return Err(format!("job `{name}`: {err}")),
    };
    let decision = limiter
        .acquire(&format!("job:{}", rate.name), &limit)
        .await
        .map_err(|err| {
            format!(
                "job `{name}` cannot check its rate limiter `{}`: {}",
                rate.name,
                foundry_core::error::error_chain(&err)
            )
        })?;
    Ok(if decision.allowed {
        Gate::Run(Held::default())
    } else if rate.release {
        Gate::Release(rate.release_after.unwrap_or(decision.retry_after))
    } else {
        Gate::Skip(format!("rate limited by `{}`", rate.name))
    })
}
