//! Queue throughput: no-op jobs per second through each driver, one producer (queueing in
//! bulk batches of 100) and one worker at concurrency 8 running at the same time, measured from
//! the first dispatch to the last job finished. Prints `RESULT queue_<driver>_jobs_per_s`.
//!
//! SQLite (a file in a temp dir, with `synchronous = "normal"` and with the default `full`) and
//! memory always; PostgreSQL when `FOUNDRY_TEST_DATABASE_URL`
//! is set (in a schema of its own), Redis when `FOUNDRY_TEST_REDIS_URL` is set and the `redis`
//! feature is on. `JOBS` sets the number of jobs per driver (default 20000); `DRIVERS` (a
//! comma-separated list such as `postgres,redis`) runs only those drivers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use foundry_core::Clock;
use foundry_db::Db;
use foundry_db::migrate::{MigrateOptions, Migrator};
use foundry_queue::{
    ConnectionConfig, DatabaseConfig, Job, JobContext, JobRegistry, JobResult, MemoryConfig,
    QueueConfig, QueueManager, Worker, WorkerOptions,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct NoOp {
    n: u64,
}

impl Job for NoOp {
    const NAME: &'static str = "noop";

    async fn handle(&self, _ctx: &JobContext) -> JobResult {
        Ok(())
    }
}

fn manager(connection: ConnectionConfig) -> QueueManager {
    let mut jobs = JobRegistry::new();
    jobs.register::<NoOp>();
    QueueManager::new(
        QueueConfig {
            default: "bench".to_owned(),
            connections: BTreeMap::from([("bench".to_owned(), connection)]),
        },
        jobs,
        Clock::system(),
    )
}

async fn throughput(queue: QueueManager, jobs: u64) -> f64 {
    queue.connection(None).await.expect("the connection opens");
    let worker = Worker::new(
        queue.clone(),
        WorkerOptions {
            concurrency: std::env::var("CONC")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(8),
            max_jobs: jobs,
            sleep: Duration::from_millis(50),
            ..WorkerOptions::default()
        },
    );
    let started = Instant::now();
    let working = tokio::spawn(async move { worker.run(std::future::pending()).await });
    let mut n = 0;
    while n < jobs {
        let batch = (jobs - n).min(100);
        queue
            .bulk(None, (n..n + batch).map(|n| NoOp { n }))
            .await
            .expect("dispatch");
        n += batch;
    }
    let report = working.await.expect("worker task").expect("worker");
    assert_eq!(report.succeeded, jobs, "every job ran");
    jobs as f64 / started.elapsed().as_secs_f64()
}

async fn migrated(db: &Db) {
    Migrator::new(db.clone(), foundry_queue::migrations::all())
        .migrate(MigrateOptions::default())
        .await
        .expect("queue tables");
}

/// Whether `DRIVERS` (unset: every driver) asks for `driver`.
fn wanted(driver: &str) -> bool {
    std::env::var("DRIVERS").map_or(true, |list| list.split(',').any(|d| d.trim() == driver))
}

fn report(driver: &str, per_s: f64) {
    println!("RESULT queue_{driver}_jobs_per_s {per_s:.0} jobs/s");
}

#[tokio::main]
async fn main() {
    let jobs: u64 = std::env::var("JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(20_000);

    if wanted("memory") {
        report(
            "memory",
            throughput(
                manager(ConnectionConfig::Memory(MemoryConfig::default())),
                jobs,
            )
            .await,
        );
    }

    // The queue's SQLite connection as docs/queues.md advises (`synchronous = "normal"`), then
    // with SQLite's default (`full`: every commit waits for the disk).
    for (driver, synchronous) in [("sqlite", "normal"), ("sqlite_full", "full")] {
        if !wanted(driver) {
            continue;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = foundry_db::ConnectionConfig::new(format!(
            "sqlite://{}",
            dir.path().join("bench.sqlite").display()
        ));
        config.synchronous = Some(synchronous.to_owned());
        let db = Db::connect_with("default", &config, std::path::Path::new("."))
            .await
            .expect("SQLite");
        migrated(&db).await;
        let queue = manager(ConnectionConfig::Database(DatabaseConfig::default()));
        queue.add_database(db);
        report(driver, throughput(queue, jobs).await);
    }

    if let Some(url) = std::env::var("FOUNDRY_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty() && wanted("postgres"))
    {
        let admin = Db::connect(&url).await.expect("PostgreSQL");
        let schema = format!("foundry_queue_bench_{}", std::process::id());
        admin
            .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
            .await
            .expect("schema");
        let mut config = foundry_db::ConnectionConfig::new(url);
        config.search_path = Some(schema.clone());
        config.max_connections = 12;
        let db = Db::connect_with("default", &config, std::path::Path::new("."))
            .await
            .expect("PostgreSQL schema");
        migrated(&db).await;
        let queue = manager(ConnectionConfig::Database(DatabaseConfig::default()));
        queue.add_database(db.clone());
        report("postgres", throughput(queue, jobs).await);
        db.close().await;
        admin
            .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
            .await
            .expect("drop schema");
    }

    #[cfg(feature = "redis")]
    if let Some(url) = std::env::var("FOUNDRY_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty() && wanted("redis"))
    {
        let prefix = format!("foundry_queue_bench_{}:", std::process::id());
        let queue = manager(ConnectionConfig::Redis(foundry_queue::RedisConfig {
            url: url.clone(),
            prefix: prefix.clone(),
            ..foundry_queue::RedisConfig::default()
        }));
        report("redis", throughput(queue, jobs).await);
        let client = redis::Client::open(url).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .expect("keys");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .expect("del");
        }
    }
}
