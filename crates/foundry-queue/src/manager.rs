//! [`QueueManager`]: builds connections from `[queue]`, dispatches jobs, and holds the job
//! registry and the listeners. Cheap to clone; the kernel binds one as a service.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use foundry_core::{AppContext, BoxFuture, Clock};
use foundry_db::Db;

use crate::config::{ConnectionConfig, QueueConfig};
use crate::contract::{BatchRecord, Driver, FailedJob, JobStatus, NewJob};
use crate::error::{QueueError, QueueResult};
use crate::events::QueueEvent;
use crate::job::{Job, JobRegistry, Payload};
use crate::lock;

/// One queue connection: its driver and defaults.
#[derive(Clone)]
pub struct Connection {
    name: String,
    driver: Arc<dyn Driver>,
    default_queue: String,
    sync: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("default_queue", &self.default_queue)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection over `driver` (for custom drivers and tests).
    pub fn new(name: &str, driver: Arc<dyn Driver>, default_queue: &str) -> Self {
        Self {
            name: name.to_owned(),
            driver,
            default_queue: default_queue.to_owned(),
            sync: false,
        }
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue jobs go to when nothing names one.
    pub fn default_queue(&self) -> &str {
        &self.default_queue
    }

    /// The driver.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.driver
    }

    /// Whether jobs run at once when dispatched (`driver = "sync"`).
    pub fn is_sync(&self) -> bool {
        self.sync
    }
}

type Listener = Arc<dyn Fn(&QueueEvent) + Send + Sync>;

struct Inner {
    config: QueueConfig,
    jobs: JobRegistry,
    clock: Clock,
    databases: Mutex<HashMap<String, Db>>,
    connections: tokio::sync::Mutex<HashMap<String, Connection>>,
    app: OnceLock<AppContext>,
    listeners: RwLock<Vec<Listener>>,
    /// The app's cache and rate limiter: job middleware and `queue:restart` use them.
    #[cfg(feature = "cache")]
    cache: RwLock<Option<(foundry_cache::Cache, foundry_cache::RateLimiter)>>,
}

/// The queue component: connections by name, dispatching, status, batches and failed jobs.
///
/// ```
/// use foundry_queue::{Job, JobContext, JobRegistry, JobResult, QueueConfig, QueueManager};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Hello;
/// impl Job for Hello {
///     const NAME: &'static str = "hello";
///     async fn handle(&self, _ctx: &JobContext) -> JobResult { Ok(()) }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut jobs = JobRegistry::new();
/// jobs.register::<Hello>();
/// let queue = QueueManager::new(QueueConfig::default(), jobs, foundry_core::Clock::system());
/// // The default connection is `sync`: the job runs right here.
/// let id = queue.dispatch(Hello).await.unwrap().id().unwrap().to_owned();
/// assert_eq!(queue.status(&id).await.unwrap(), Some(foundry_queue::JobStatus::Succeeded));
/// # });
/// ```
#[derive(Clone)]
pub struct QueueManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QueueManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueManager")
            .field("default", &self.inner.config.default)
            .field("jobs", &self.inner.jobs)
            .finish_non_exhaustive()
    }
}

/// What a dispatch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatched {
    /// Queued (or, on `sync`, run) with this id.
    Queued(String),
    /// Skipped: a unique job with the same key is already queued or running.
    Duplicate,
}

impl Dispatched {
    /// The job's id, unless the dispatch was skipped.
    pub fn id(&self) -> Option<&str> {
        match self {
            Dispatched::Queued(id) => Some(id),
            Dispatched::Duplicate => None,
        }
    }
}

impl QueueManager {
    /// A manager for `config` running the jobs in `jobs`, on `clock`.
    pub fn new(config: QueueConfig, jobs: JobRegistry, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                jobs,
                clock,
                databases: Mutex::default(),
                connections: tokio::sync::Mutex::default(),
                app: OnceLock::new(),
                listeners: RwLock::default(),
                #[cfg(feature = "cache")]
                cache: RwLock::default(),
            }),
        }
    }

    /// Make `db` available to `database` connections under its name (`[database]` connection
    /// names; the kernel adds every configured one).
    pub fn add_database(&self, db: Db) -> &Self {
        lock(&self.inner.databases).insert(db.name().to_owned(), db);
        self
    }

    /// Give running jobs the app (`JobContext::app`). The kernel does this once it is booted.
    pub fn attach(&self, app: AppContext) {
        let _ = self.inner.app.set(app);
    }

    /// Use the app's `cache` (overlap locks, the restart signal) and `limiter` (named
    /// limiters of `rate_limited`). The kernel does this at boot when the app has a cache.
    #[cfg(feature = "cache")]
    pub fn use_cache(&self, cache: foundry_cache::Cache, limiter: foundry_cache::RateLimiter) {
        let mut slot = match self.inner.cache.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Some((cache, limiter));
    }

    /// The cache and rate limiter given to [`QueueManager::use_cache`].
    #[cfg(feature = "cache")]
    pub(crate) fn cache_services(
        &self,
    ) -> Option<(foundry_cache::Cache, foundry_cache::RateLimiter)> {
        match self.inner.cache.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The app, once attached.
    pub fn app(&self) -> Option<&AppContext> {
        self.inner.app.get()
    }

    /// The clock jobs are timed with.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The `[queue]` configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    /// The registered jobs.
    pub fn jobs(&self) -> &JobRegistry {
        &self.inner.jobs
    }

    /// Use `connection` under its name instead of building it from the configuration.
    pub async fn add_connection(&self, connection: Connection) {
        self.inner
            .connections
            .lock()
            .await
            .insert(connection.name.clone(), connection);
    }

    /// The connection `name` (`None`: the default), connected on first use.
    pub async fn connection(&self, name: Option<&str>) -> QueueResult<Connection> {
        let name = name.unwrap_or(&self.inner.config.default);
        let mut connections = self.inner.connections.lock().await;
        if let Some(connection) = connections.get(name) {
            return Ok(connection.clone());
        }
        let config =
            self.inner
                .config
                .connection(name)
                .ok_or_else(|| QueueError::UnknownConnection {
                    name: name.to_owned(),
                    configured: self.inner.config.names().join(", "),
                })?;
        let connection = self.build(name, &config).await?;
        connections.insert(name.to_owned(), connection.clone());
        Ok(connection)
    }

    async fn build(&self, name: &str, config: &ConnectionConfig) -> QueueResult<Connection> {
        let clock = self.inner.clock.clone();
        Ok(match config {
            ConnectionConfig::Sync => {
                let driver =
                    crate::driver::memory::MemoryDriver::new(clock, Duration::from_secs(90));
                Connection {
                    sync: true,
                    ..Connection::new(name, Arc::new(driver), crate::config::DEFAULT_QUEUE)
                }
            }
            ConnectionConfig::Memory(memory) => {
                let retry_after = Duration::from_secs(memory.retry_after_secs);
                let driver = crate::driver::memory::MemoryDriver::new(clock, retry_after);
                Connection::new(name, Arc::new(driver), &memory.queue)
            }
            ConnectionConfig::Database(database) => {
                let db = lock(&self.inner.databases)
                    .get(&database.connection)
                    .cloned()
                    .ok_or_else(|| {
                        QueueError::Config(format!(
                            "queue connection `{name}` uses database connection `{}`, which is not \
                             configured; set [queue.connections.{name}] connection to a [database] \
                             connection",
                            database.connection
                        ))
                    })?;
                let driver = crate::driver::database::DatabaseDriver::new(db, clock, database);
                Connection::new(name, Arc::new(driver), &database.queue)
            }
            #[cfg(feature = "redis")]
            ConnectionConfig::Redis(redis) => {
                let driver = crate::driver::redis::RedisDriver::connect(redis, clock).await?;
                Connection::new(name, Arc::new(driver), &redis.queue)
            }
            #[cfg(not(feature = "redis"))]
            ConnectionConfig::Redis(_) => {
                return Err(QueueError::Config(format!(
                    "queue connection `{name}` uses the redis driver, but the app was built without \
                     the `redis` cargo feature; enable foundry's `redis` feature"
                )));
            }
        })
    }

    /// Listen to queue events (a job processed, failed, released).
    pub fn listen(&self, listener: impl Fn(&QueueEvent) + Send + Sync + 'static) {
        match self.inner.listeners.write() {
            Ok(mut listeners) => listeners.push(Arc::new(listener)),
            Err(poisoned) => poisoned.into_inner().push(Arc::new(listener)),
        }
    }

    pub(crate) fn emit(&self, event: &QueueEvent) {
        let listeners = match self.inner.listeners.read() {
            Ok(listeners) => listeners.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for listener in listeners {
            listener(event);
        }
    }

    /// Dispatch `job` on the default connection; chain `.delay()`, `.on_queue()`,
    /// `.on_connection()` or `.after_commit()`, then `.await`.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn dispatch<J: Job>(&self, job: J) -> PendingDispatch<'_> {
        PendingDispatch {
            manager: self,
            payload: Payload::of(&job),
            connection: None,
            delay: None,
        }
    }

    /// Queue many jobs on connection `connection` (`None`: the default) in as few round trips
    /// as the driver allows (Laravel's `Queue::bulk`); returns their ids. On `sync` they run
    /// one after the other. Unique keys are honoured: duplicates are left out.
    pub async fn bulk<J: Job>(
        &self,
        connection: Option<&str>,
        jobs: impl IntoIterator<Item = J>,
    ) -> QueueResult<Vec<String>> {
        let connection = self.connection(connection).await?;
        let mut ids = Vec::new();
        let mut new_jobs = Vec::new();
        for job in jobs {
            let payload = Payload::of(&job)?;
            if connection.sync || payload.unique_key.is_some() {
                if let Dispatched::Queued(id) = self.push(&connection, payload, None).await? {
                    ids.push(id);
                }
                continue;
            }
            new_jobs.push(self.new_job(&connection, &payload, None)?);
            ids.push(payload.uuid);
        }
        if !new_jobs.is_empty() {
            connection.driver.push(new_jobs).await?;
        }
        Ok(ids)
    }

    /// Run `job` now, in this task, whatever the connection; its error comes back.
    pub async fn dispatch_sync<J: Job>(&self, job: J) -> QueueResult<()> {
        let payload = Payload::of(&job)?;
        let connection = self.connection(Some("sync")).await?;
        crate::worker::run_inline(self, &connection, payload).await
    }

    /// A chain: jobs that run one after the other, stopping at the first failure.
    pub fn chain(&self) -> crate::batch::PendingChain<'_> {
        crate::batch::PendingChain::new(self)
    }

    /// A batch: jobs that run in parallel, with callbacks when they are all done.
    pub fn batch(&self) -> crate::batch::PendingBatch<'_> {
        crate::batch::PendingBatch::new(self)
    }

    /// Put `payload` on `connection` (or run it there, on `sync`).
    pub(crate) async fn push(
        &self,
        connection: &Connection,
        mut payload: Payload,
        delay: Option<Duration>,
    ) -> QueueResult<Dispatched> {
        if let (Some(key), Some(ttl)) = (&payload.unique_key, payload.unique_for_ms)
            && !connection.driver.acquire_unique(key, ttl).await?
        {
            return Ok(Dispatched::Duplicate);
        }
        let uuid = payload.uuid.clone();
        if connection.sync {
            payload
                .queue
                .get_or_insert_with(|| connection.default_queue.clone());
            crate::worker::run_inline(self, connection, payload).await?;
            return Ok(Dispatched::Queued(uuid));
        }
        let job = self.new_job(connection, &payload, delay)?;
        connection.driver.push(vec![job]).await?;
        Ok(Dispatched::Queued(uuid))
    }

    pub(crate) fn new_job(
        &self,
        connection: &Connection,
        payload: &Payload,
        delay: Option<Duration>,
    ) -> QueueResult<NewJob> {
        let now = self.inner.clock.unix_millis();
        let delay_ms = delay.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Ok(NewJob {
            uuid: payload.uuid.clone(),
            queue: payload
                .queue
                .clone()
                .unwrap_or_else(|| connection.default_queue.clone()),
            payload: serde_json::to_string(payload).map_err(|source| QueueError::Serialize {
                job: payload.name.clone(),
                source,
            })?,
            available_at_ms: now.saturating_add(delay_ms),
        })
    }

    /// The status of job `id` on the default connection.
    pub async fn status(&self, id: &str) -> QueueResult<Option<JobStatus>> {
        self.connection(None).await?.driver.status(id).await
    }

    /// Cancel job `id` on the default connection if it has not started; `false` otherwise.
    pub async fn cancel(&self, id: &str) -> QueueResult<bool> {
        self.connection(None).await?.driver.cancel(id).await
    }

    /// The batch `id` on the default connection.
    pub async fn find_batch(&self, id: &str) -> QueueResult<Option<crate::batch::Batch>> {
        let connection = self.connection(None).await?;
        crate::batch::Batch::find(&connection, id).await
    }

    /// Failed jobs of connection `name` (`None`: the default), newest first.
    pub async fn failed_jobs(&self, name: Option<&str>) -> QueueResult<Vec<FailedJob>> {
        self.connection(name).await?.driver.failed_jobs().await
    }

    /// Put failed job `uuid` back on its queue (with a new id and fresh attempts) and forget
    /// the failure.
    pub async fn retry_failed(&self, name: Option<&str>, uuid: &str) -> QueueResult<String> {
        let connection = self.connection(name).await?;
        let failed = connection
            .driver
            .failed_jobs()
            .await?
            .into_iter()
            .find(|job| job.uuid == uuid)
            .ok_or_else(|| QueueError::FailedJobNotFound(uuid.to_owned()))?;
        let payload: Payload = serde_json::from_str(&failed.payload).map_err(|err| {
            QueueError::Config(format!(
                "failed job `{uuid}` has a payload that cannot be read ({err}); forget it with queue:forget"
            ))
        })?;
        let mut payload = payload.renewed();
        payload.queue = Some(failed.queue.clone());
        let id = payload.uuid.clone();
        let job = self.new_job(&connection, &payload, None)?;
        connection.driver.push(vec![job]).await?;
        connection.driver.forget_failed(uuid).await?;
        Ok(id)
    }

    pub(crate) async fn create_batch(
        &self,
        connection: &Connection,
        batch: &BatchRecord,
    ) -> QueueResult<()> {
        connection.driver.create_batch(batch).await
    }
}

/// A job on its way to a queue; `.await` it to dispatch.
#[must_use = "a dispatch does nothing until awaited"]
pub struct PendingDispatch<'m> {
    manager: &'m QueueManager,
    payload: QueueResult<Payload>,
    connection: Option<String>,
    delay: Option<Duration>,
}

impl std::fmt::Debug for PendingDispatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingDispatch")
            .field("connection", &self.connection)
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl<'m> PendingDispatch<'m> {
    /// Make the job available only after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Send it to queue `queue` of the connection.
    pub fn on_queue(mut self, queue: &str) -> Self {
        if let Ok(payload) = &mut self.payload {
            payload.queue = Some(queue.to_owned());
        }
        self
    }

    /// Send it through connection `name` instead of the default.
    pub fn on_connection(mut self, name: &str) -> Self {
        self.connection = Some(name.to_owned());
        self
    }

    /// Dispatch once the transaction `tx` commits; nothing is dispatched if it rolls back
    /// (outside a transaction, at once). A failed dispatch after the commit is logged.
    pub async fn after_commit(self, tx: &Db) {
        let manager = self.manager.clone();
        let PendingDispatch {
            payload,
            connection,
            delay,
            ..
        } = self;
        tx.after_commit(move || async move {
            let outcome = async {
                let connection = manager.connection(connection.as_deref()).await?;
                manager.push(&connection, payload?, delay).await
            }
            .await;
            if let Err(err) = outcome {
                tracing::error!(error = %err, "dispatching a job after commit failed");
            }
        })
        .await;
    }

    async fn send(self) -> QueueResult<Dispatched> {
        let payload = self.payload?;
        let connection = self.manager.connection(self.connection.as_deref()).await?;
        self.manager.push(&connection, payload, self.delay).await
    }
}

impl<'m> IntoFuture for PendingDispatch<'m> {
    type Output = QueueResult<Dispatched>;
    type IntoFuture = BoxFuture<'m, QueueResult<Dispatched>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
