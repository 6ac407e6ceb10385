//! Jobs: the [`Job`] trait, the [`JobRegistry`] that maps names to job types, the JSON
//! [`Payload`] that travels through every driver, and the [`JobContext`] a running job sees.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use foundry_core::{AppContext, BoxFuture, Clock};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::manager::QueueManager;
use crate::middleware::JobMiddleware;

/// The error a job returns: anything that is an error (`?` works on every error type).
pub type JobError = Box<dyn std::error::Error + Send + Sync>;

/// What [`Job::handle`] returns.
pub type JobResult = Result<(), JobError>;

/// A queued job: a serde payload, a registered name and a `handle` method.
///
/// Register the type in the app (`App::jobs`) so workers can find it by [`Job::NAME`]; the
/// name, not the Rust path, is what the queue stores, so renaming the type keeps old payloads
/// runnable.
///
/// ```
/// use foundry_queue::{Job, JobContext, JobResult};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendWelcomeMail {
///     user_id: i64,
/// }
///
/// impl Job for SendWelcomeMail {
///     const NAME: &'static str = "send_welcome_mail";
///
///     async fn handle(&self, ctx: &JobContext) -> JobResult {
///         tracing::info!(user = self.user_id, attempt = ctx.attempt(), "sending");
///         Ok(())
///     }
///
///     fn tries(&self) -> Option<u32> {
///         Some(3)
///     }
/// }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name stored in the payload and looked up by workers; unique per app.
    const NAME: &'static str;

    /// Do the work. An `Err` (or a panic, or the timeout) counts as a failed attempt.
    fn handle(&self, ctx: &JobContext) -> impl Future<Output = JobResult> + Send;

    /// Maximum attempts (`Some(0)`: unlimited); `None` takes the worker's `--tries`.
    fn tries(&self) -> Option<u32> {
        None
    }

    /// Delay before each retry; `None` takes the worker's (none).
    fn backoff(&self) -> Option<Backoff> {
        None
    }

    /// How long one attempt may run; `None` takes the worker's `--timeout`.
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// Retry until this instant instead of counting tries.
    fn retry_until(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// A key making the job unique: while a job with the same name and key is queued or
    /// running, dispatching another one is skipped.
    fn unique_id(&self) -> Option<String> {
        None
    }

    /// How long the uniqueness lasts at most (in case the job never finishes).
    fn unique_for(&self) -> Duration {
        Duration::from_secs(3600)
    }

    /// The queue the job goes to unless the dispatch says otherwise.
    fn queue(&self) -> Option<String> {
        None
    }

    /// Job middleware checked before each attempt, in order: [`rate_limited`](crate::rate_limited)
    /// and [`without_overlapping`](crate::without_overlapping) (they need the app's cache).
    fn middleware(&self) -> Vec<JobMiddleware> {
        Vec::new()
    }

    /// Called once the job failed for good, with the last error.
    fn failed(&self, ctx: &JobContext, error: &str) -> impl Future<Output = ()> + Send {
        let _ = (ctx, error);
        std::future::ready(())
    }
}

/// Delay before a retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Seconds per attempt: the first retry waits `secs[0]`, the second `secs[1]`, …; the last
    /// value repeats (Laravel's `[1, 5, 10]`).
    Fixed(Vec<u64>),
    /// `base_ms * 2^(attempt-1)`, capped at `max_ms`, with up to `jitter` (0.0–1.0) of it
    /// taken off at random so retries of many jobs spread out.
    Exponential {
        /// The first delay, in milliseconds.
        base_ms: u64,
        /// The longest delay, in milliseconds.
        max_ms: u64,
        /// The random share removed from each delay.
        jitter: f64,
    },
}

impl Backoff {
    /// The delay before the retry that follows attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        match self {
            Backoff::Fixed(secs) => {
                let index = (attempt.max(1) as usize - 1).min(secs.len().saturating_sub(1));
                Duration::from_secs(secs.get(index).copied().unwrap_or(0))
            }
            Backoff::Exponential {
                base_ms,
                max_ms,
                jitter,
            } => {
                let factor = 1u64
                    .checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u64::MAX);
                let full = base_ms.saturating_mul(factor).min(*max_ms);
                let share = jitter.clamp(0.0, 1.0) * random_unit();
                let cut = (full as f64 * share) as u64;
                Duration::from_millis(full - cut.min(full))
            }
        }
    }
}

/// A random number in `[0, 1)` (from a v4 UUID's randomness; jitter needs nothing better).
fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Why a callback job (a chain's `catch`, a batch's `catch`/`finally`) was dispatched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The id of the job that failed.
    pub job_id: String,
    /// Its name.
    pub job: String,
    /// The error it failed with.
    pub exception: String,
}

/// What every driver stores: the job's name and data plus its retry settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The job's id (a UUID), stable across attempts.
    pub uuid: String,
    /// The registered name ([`Job::NAME`]).
    pub name: String,
    /// The job's fields.
    pub data: serde_json::Value,
    /// The queue it goes to; `None`: the connection's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Maximum attempts (0: unlimited); `None`: the worker's `--tries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tries: Option<u32>,
    /// Delay before retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Milliseconds one attempt may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Retry until this instant (milliseconds since the epoch) instead of counting tries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_until_ms: Option<i64>,
    /// The unique key held while the job is queued or running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// Milliseconds the unique key lasts at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_for_ms: Option<u64>,
    /// The jobs that run after this one succeeds, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<Payload>,
    /// The job dispatched when a job of the chain fails for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_catch: Option<Box<Payload>>,
    /// The batch this job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// For callback jobs: the failure that triggered them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl Payload {
    /// The payload of `job`, with the job's own settings.
    pub fn of<J: Job>(job: &J) -> Result<Self, crate::QueueError> {
        let data = serde_json::to_value(job).map_err(|source| crate::QueueError::Serialize {
            job: J::NAME.to_owned(),
            source,
        })?;
        Ok(Self {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: J::NAME.to_owned(),
            data,
            queue: job.queue(),
            max_tries: job.tries(),
            backoff: job.backoff(),
            timeout_ms: job
                .timeout()
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            retry_until_ms: job.retry_until().map(|t| t.timestamp_millis()),
            unique_key: job.unique_id().map(|id| format!("{}:{id}", J::NAME)),
            unique_for_ms: job
                .unique_id()
                .map(|_| u64::try_from(job.unique_for().as_millis()).unwrap_or(u64::MAX)),
            chain: Vec::new(),
            chain_catch: None,
            batch_id: None,
            failure: None,
        })
    }

    /// A fresh id (the same job dispatched again, e.g. by `queue:retry`).
    pub(crate) fn renewed(mut self) -> Self {
        self.uuid = uuid::Uuid::new_v4().to_string();
        self
    }
}

/// What a running job can see and do: its id and attempt, the app, and `release`/`fail`.
pub struct JobContext {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) connection: String,
    pub(crate) attempt: u32,
    pub(crate) batch_id: Option<String>,
    pub(crate) failure: Option<Failure>,
    pub(crate) manager: QueueManager,
    pub(crate) intent: Mutex<Option<Intent>>,
}

/// What the job asked for besides succeeding.
#[derive(Debug, Clone)]
pub(crate) enum Intent {
    Release(Duration),
    Fail(String),
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("connection", &self.connection)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// The job's id (stable across attempts; `queue_manager().status(id)` reports on it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job's registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue it was taken from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The connection it was taken from.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The batch the job belongs to.
    pub fn batch_id(&self) -> Option<&str> {
        self.batch_id.as_deref()
    }

    /// For a chain's or batch's `catch`/`finally` job: the failure that triggered it.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The app, to reach its services (`ctx.app()?.make::<Db>()`).
    pub fn app(&self) -> Result<&AppContext, JobError> {
        self.manager.app().ok_or_else(|| {
            "this queue manager is not attached to an app (QueueManager::attach)".into()
        })
    }

    /// The app's clock.
    pub fn clock(&self) -> &Clock {
        self.manager.clock()
    }

    /// The queue manager, to dispatch more jobs or look at the job's batch.
    pub fn queue_manager(&self) -> &QueueManager {
        &self.manager
    }

    /// Put the job back on its queue once `handle` returns, available again after `delay`.
    /// The attempt counts toward the job's tries.
    pub fn release(&self, delay: Duration) {
        *crate::lock(&self.intent) = Some(Intent::Release(delay));
    }

    /// Fail the job for good once `handle` returns, with `message`, without further retries.
    pub fn fail(&self, message: impl Into<String>) {
        *crate::lock(&self.intent) = Some(Intent::Fail(message.into()));
    }
}

type PrepareFn = Arc<dyn Fn(serde_json::Value) -> Result<Prepared, String> + Send + Sync>;
type FailedFn =
    Arc<dyn Fn(serde_json::Value, Arc<JobContext>, String) -> BoxFuture<'static, ()> + Send + Sync>;

/// A job read from its payload, ready for an attempt: the job itself (what rate limiters
/// defined for its type see), its middleware, and its `handle`.
pub(crate) struct Prepared {
    pub(crate) job: Arc<dyn Any + Send + Sync>,
    pub(crate) middleware: Vec<JobMiddleware>,
    pub(crate) run: Box<dyn FnOnce(Arc<JobContext>) -> BoxFuture<'static, JobResult> + Send>,
}

#[derive(Clone)]
struct Registered {
    prepare: PrepareFn,
    failed: FailedFn,
}

/// The jobs an app can run, by name.
///
/// ```
/// # use foundry_queue::{Job, JobContext, JobResult, JobRegistry};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Ping;
/// # impl Job for Ping { const NAME: &'static str = "ping";
/// #     async fn handle(&self, _: &JobContext) -> JobResult { Ok(()) } }
/// let mut jobs = JobRegistry::new();
/// jobs.register::<Ping>();
/// assert!(jobs.contains("ping"));
/// ```
#[derive(Clone, Default)]
pub struct JobRegistry {
    jobs: HashMap<String, Registered>,
}

impl std::fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.jobs.keys().collect();
        names.sort();
        f.debug_list().entries(names).finish()
    }
}

impl JobRegistry {
    /// No jobs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `J` under [`Job::NAME`] (a second registration of the name replaces the first).
    pub fn register<J: Job>(&mut self) -> &mut Self {
        // An unreadable payload cannot become readable on a retry: the error fails the job.
        let prepare: PrepareFn = Arc::new(|data| {
            let job = Arc::new(serde_json::from_value::<J>(data).map_err(|e| unreadable::<J>(&e))?);
            let handle = job.clone();
            Ok(Prepared {
                middleware: job.middleware(),
                job,
                run: Box::new(move |ctx| Box::pin(async move { handle.handle(&ctx).await })),
            })
        });
        let failed: FailedFn = Arc::new(|data, ctx, error| {
            Box::pin(async move {
                if let Ok(job) = serde_json::from_value::<J>(data) {
                    job.failed(&ctx, &error).await;
                }
            })
        });
        self.jobs
            .insert(J::NAME.to_owned(), Registered { prepare, failed });
        self
    }

    /// Whether a job is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.jobs.contains_key(name)
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.jobs.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn preparer(&self, name: &str) -> Option<PrepareFn> {
        self.jobs.get(name).map(|r| r.prepare.clone())
    }

    pub(crate) fn failed_hook(&self, name: &str) -> Option<FailedFn> {
        self.jobs.get(name).map(|r| r.failed.clone())
    }
}

fn unreadable<J: Job>(err: &serde_json::Error) -> String {
    format!(
        "the payload of job `{}` no longer deserializes into `{}`: {err}; was the type changed \
         after the job was queued? Dispatch it again, or keep old fields with #[serde(default)]",
        J::NAME,
        std::any::type_name::<J>()
    )
}
