//! One behavioural suite, every driver: `driver_tests!(case)` makes `case::memory`,
//! `case::sqlite`, `case::postgres` and `case::redis` tests from one `async fn case(h: Harness)`.
//!
//! PostgreSQL runs when `FOUNDRY_TEST_DATABASE_URL` is set (each test in its own schema), Redis
//! when `FOUNDRY_TEST_REDIS_URL` is set (each test under its own key prefix). With
//! `FOUNDRY_REQUIRE_SERVICES=1` a missing service fails instead of skipping.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use foundry_core::Clock;
use foundry_db::migrate::{MigrateOptions, Migrator};
use foundry_db::{ConnectionConfig as DbConnection, Db};
use foundry_queue::{
    Backoff, ConnectionConfig, DatabaseConfig, Job, JobContext, JobMiddleware, JobRegistry,
    JobResult, MemoryConfig, QueueConfig, QueueEvent, QueueManager, Worker, WorkerOptions,
    WorkerReport, rate_limited, without_overlapping,
};
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};

/// What jobs did, per test tag.
static LOG: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();

pub fn record(tag: &str, line: String) {
    LOG.get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(tag.to_owned())
        .or_default()
        .push(line);
}

pub fn log(tag: &str) -> Vec<String> {
    LOG.get_or_init(Default::default)
        .lock()
        .unwrap()
        .get(tag)
        .cloned()
        .unwrap_or_default()
}

/// A job whose behaviour is its data: fail the first attempts, release, sleep, fail at once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TestJob {
    pub tag: String,
    pub label: String,
    #[serde(default)]
    pub fail_first: u32,
    #[serde(default)]
    pub release_first: u32,
    #[serde(default)]
    pub fail_now: bool,
    #[serde(default)]
    pub sleep_ms: u64,
    #[serde(default)]
    pub tries: Option<u32>,
    #[serde(default)]
    pub backoff: Option<Backoff>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub unique: Option<String>,
    /// Record `<label> end` once `handle` is done (to see runs overlap or not).
    #[serde(default)]
    pub record_end: bool,
    /// Job middleware: `rate_limited(name)`.
    #[serde(default)]
    pub rate_limiter: Option<String>,
    /// Job middleware: `without_overlapping(key)`.
    #[serde(default)]
    pub overlap: Option<String>,
    /// The middleware's `release_after`, in milliseconds.
    #[serde(default)]
    pub release_after_ms: Option<u64>,
    /// The middleware's `dont_release()`.
    #[serde(default)]
    pub dont_release: bool,
    /// `without_overlapping`'s `expire_after`, in milliseconds.
    #[serde(default)]
    pub expire_after_ms: Option<u64>,
}

impl Job for TestJob {
    const NAME: &'static str = "test_job";

    async fn handle(&self, ctx: &JobContext) -> JobResult {
        record(&self.tag, format!("{}#{}", self.label, ctx.attempt()));
        if self.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        if self.record_end {
            record(&self.tag, format!("{} end", self.label));
        }
        if self.fail_now {
            ctx.fail(format!("{} gave up", self.label));
            return Ok(());
        }
        if ctx.attempt() <= self.release_first {
            ctx.release(Duration::ZERO);
            return Ok(());
        }
        if ctx.attempt() <= self.fail_first {
            return Err(format!("{} broke on attempt {}", self.label, ctx.attempt()).into());
        }
        Ok(())
    }

    fn tries(&self) -> Option<u32> {
        self.tries
    }

    fn backoff(&self) -> Option<Backoff> {
        self.backoff.clone()
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    fn unique_id(&self) -> Option<String> {
        self.unique.clone()
    }

    fn middleware(&self) -> Vec<JobMiddleware> {
        let release_after = self.release_after_ms.map(Duration::from_millis);
        let mut middleware = Vec::new();
        if let Some(name) = &self.rate_limiter {
            let mut rate = rate_limited(name);
            if let Some(delay) = release_after {
                rate = rate.release_after(delay);
            }
            if self.dont_release {
                rate = rate.dont_release();
            }
            middleware.push(rate.into());
        }
        if let Some(key) = &self.overlap {
            let mut overlap = without_overlapping(key.clone());
            if let Some(delay) = release_after {
                overlap = overlap.release_after(delay);
            }
            if self.dont_release {
                overlap = overlap.dont_release();
            }
            if let Some(ms) = self.expire_after_ms {
                overlap = overlap.expire_after(Duration::from_millis(ms));
            }
            middleware.push(overlap.into());
        }
        middleware
    }

    async fn failed(&self, _ctx: &JobContext, error: &str) {
        record(&self.tag, format!("failed({}): {error}", self.label));
    }
}

/// A callback job (chain `catch`, batch `then`/`catch`/`finally`): records its label and the
/// failure it was told about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Callback {
    pub tag: String,
    pub label: String,
}

impl Job for Callback {
    const NAME: &'static str = "callback";

    async fn handle(&self, ctx: &JobContext) -> JobResult {
        let failure = ctx
            .failure()
            .map(|f| format!(" after {}: {}", f.job, f.exception))
            .unwrap_or_default();
        record(&self.tag, format!("{}{failure}", self.label));
        Ok(())
    }
}

/// Waits (up to 10 s) until job `id` has succeeded, then records whether it saw that.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AwaitSuccess {
    pub tag: String,
    pub label: String,
    pub id: String,
}

impl Job for AwaitSuccess {
    const NAME: &'static str = "await_success";

    async fn handle(&self, ctx: &JobContext) -> JobResult {
        for _ in 0..500 {
            if ctx.queue_manager().status(&self.id).await?
                == Some(foundry_queue::JobStatus::Succeeded)
            {
                record(&self.tag, format!("{} saw it succeed", self.label));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        record(&self.tag, format!("{} gave up", self.label));
        Ok(())
    }
}

pub fn registry() -> JobRegistry {
    let mut jobs = JobRegistry::new();
    jobs.register::<TestJob>()
        .register::<Callback>()
        .register::<AwaitSuccess>();
    jobs
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn require_services() -> bool {
    std::env::var("FOUNDRY_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !require_services(),
                "FOUNDRY_REQUIRE_SERVICES=1 but {var} is not set"
            );
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

/// A queue on one driver, its clock, a tag for the job log, and what to clean up.
pub struct Harness {
    pub queue: QueueManager,
    pub clock: Clock,
    pub tag: String,
    pub driver: &'static str,
    pub events: Arc<Mutex<Vec<QueueEvent>>>,
    cleanup: Arc<Mutex<Vec<foundry_core::BoxFuture<'static, ()>>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    fn new(config: ConnectionConfig, driver: &'static str) -> Self {
        let clock = Clock::system();
        let queue = QueueManager::new(
            QueueConfig {
                default: "test".to_owned(),
                connections: BTreeMap::from([("test".to_owned(), config)]),
            },
            registry(),
            clock.clone(),
        );
        let events: Arc<Mutex<Vec<QueueEvent>>> = Arc::default();
        let sink = events.clone();
        queue.listen(move |event| sink.lock().unwrap().push(event.clone()));
        Self {
            queue,
            clock,
            tag: unique_name("tag"),
            driver,
            events,
            cleanup: Arc::default(),
            _dir: None,
        }
    }

    /// A job of this test.
    pub fn job(&self, label: &str) -> TestJob {
        TestJob {
            tag: self.tag.clone(),
            label: label.to_owned(),
            ..TestJob::default()
        }
    }

    pub fn callback(&self, label: &str) -> Callback {
        Callback {
            tag: self.tag.clone(),
            label: label.to_owned(),
        }
    }

    pub fn log(&self) -> Vec<String> {
        log(&self.tag)
    }

    /// Work until the queues are empty (delayed jobs wait), one job at a time.
    pub async fn work(&self) -> WorkerReport {
        self.work_with(WorkerOptions::default()).await
    }

    pub async fn work_with(&self, options: WorkerOptions) -> WorkerReport {
        let options = WorkerOptions {
            stop_when_empty: true,
            sleep: Duration::from_millis(20),
            ..options
        };
        Worker::new(self.queue.clone(), options)
            .run(std::future::pending())
            .await
            .expect("the worker runs")
    }

    /// Move the clock forward.
    pub fn travel(&self, secs: u64) {
        self.clock.travel(Duration::from_secs(secs));
    }
}

async fn migrate(db: &Db) {
    Migrator::new(db.clone(), foundry_queue::migrations::all())
        .migrate(MigrateOptions::default())
        .await
        .expect("queue migrations run");
}

pub async fn memory() -> Option<Harness> {
    Some(Harness::new(
        ConnectionConfig::Memory(MemoryConfig {
            retry_after_secs: 90,
            ..MemoryConfig::default()
        }),
        "memory",
    ))
}

pub async fn sqlite() -> Option<Harness> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("queue.sqlite").display());
    let db = Db::connect(&url).await.expect("SQLite file");
    migrate(&db).await;
    let mut harness = Harness::new(
        ConnectionConfig::Database(DatabaseConfig::default()),
        "sqlite",
    );
    harness.queue.add_database(db);
    harness._dir = Some(dir);
    Some(harness)
}

pub async fn postgres() -> Option<Harness> {
    let url = service_url("FOUNDRY_TEST_DATABASE_URL")?;
    let admin = match Db::connect(&url).await {
        Ok(db) => db,
        Err(e) => {
            assert!(
                !require_services(),
                "FOUNDRY_REQUIRE_SERVICES=1 but PostgreSQL is unreachable: {e}"
            );
            eprintln!("skipping PostgreSQL test: {e}");
            return None;
        }
    };
    let schema = unique_name("foundry_queue_test");
    admin
        .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
        .await
        .expect("create test schema");
    let mut config = DbConnection::new(url);
    config.search_path = Some(schema.clone());
    config.max_connections = 10;
    let db = Db::connect_with("default", &config, std::path::Path::new("."))
        .await
        .expect("connect to test schema");
    migrate(&db).await;
    let harness = Harness::new(
        ConnectionConfig::Database(DatabaseConfig::default()),
        "postgres",
    );
    harness.queue.add_database(db.clone());
    harness.cleanup.lock().unwrap().push(Box::pin(async move {
        db.close().await;
        admin
            .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
            .await
            .expect("drop test schema");
    }));
    Some(harness)
}

#[cfg(feature = "redis")]
pub async fn redis() -> Option<Harness> {
    let url = service_url("FOUNDRY_TEST_REDIS_URL")?;
    let prefix = format!("{}:", unique_name("foundry_queue_test"));
    let config = foundry_queue::RedisConfig {
        url: url.clone(),
        prefix: prefix.clone(),
        ..foundry_queue::RedisConfig::default()
    };
    let harness = Harness::new(ConnectionConfig::Redis(config), "redis");
    if let Err(e) = harness.queue.connection(None).await {
        assert!(
            !require_services(),
            "FOUNDRY_REQUIRE_SERVICES=1 but Redis is unreachable: {e}"
        );
        eprintln!("skipping Redis test: {e}");
        return None;
    }
    harness.cleanup.lock().unwrap().push(Box::pin(async move {
        let client = redis::Client::open(url).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .expect("list test keys");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .expect("delete test keys");
        }
    }));
    Some(harness)
}

/// Run `case` on the harness `make` builds (skipping when it is `None`), then clean up.
pub async fn on<M, MF, F, Fut>(make: M, case: F)
where
    M: FnOnce() -> MF,
    MF: Future<Output = Option<Harness>>,
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(harness) = make().await else {
        return;
    };
    let cleanups = harness.cleanup.clone();
    let outcome = AssertUnwindSafe(case(harness)).catch_unwind().await;
    let cleanups = std::mem::take(&mut *cleanups.lock().unwrap());
    for cleanup in cleanups {
        cleanup.await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Generate one test per driver for each case (`async fn case(h: Harness)`).
#[macro_export]
macro_rules! driver_tests {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                $crate::common::on($crate::common::memory, super::$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::on($crate::common::sqlite, super::$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::on($crate::common::postgres, super::$case).await;
            }
            #[cfg(feature = "redis")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                $crate::common::on($crate::common::redis, super::$case).await;
            }
        }
    )*};
}
