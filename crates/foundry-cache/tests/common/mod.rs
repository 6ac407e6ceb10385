//! One behavioural suite, every store: `store_tests!(case)` makes `case::memory`,
//! `case::sqlite`, `case::postgres` and `case::redis` tests from one `async fn case(h: Harness)`.
//!
//! PostgreSQL runs when `FOUNDRY_TEST_DATABASE_URL` is set (each test in its own schema),
//! Redis when `FOUNDRY_TEST_REDIS_URL` is set (each test under its own key prefix). With
//! `FOUNDRY_REQUIRE_SERVICES=1` a missing service fails instead of skipping.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foundry_cache::config::{CacheConfig, DatabaseStoreConfig, RedisStoreConfig, StoreConfig};
use foundry_cache::{Cache, CacheManager, RateLimiter};
use foundry_core::Clock;
use foundry_db::migrate::{MigrateOptions, Migrator};
use foundry_db::{DatabaseConfig, Db, DbManager};
use futures_util::FutureExt;

/// A cache on one store, and how to let time pass for it.
pub struct Harness {
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub clock: Clock,
    pub driver: &'static str,
}

impl Harness {
    /// Let `by` pass: travel the app clock, or really wait on Redis (server-side TTLs).
    pub async fn advance(&self, by: Duration) {
        if self.driver == "redis" {
            tokio::time::sleep(by + Duration::from_millis(30)).await;
        } else {
            self.clock.travel(by);
        }
    }
}

pub fn require_services() -> bool {
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

pub fn redis_url() -> Option<String> {
    service_url("FOUNDRY_TEST_REDIS_URL")
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique across processes and tests.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos
    )
}

async fn build(
    config: CacheConfig,
    prefix: &str,
    dbs: Option<&DbManager>,
) -> (Cache, RateLimiter, Clock) {
    let clock = Clock::system();
    let mut builder = CacheManager::builder(&config, prefix, clock.clone());
    if let Some(dbs) = dbs {
        builder = builder.databases(dbs);
    }
    let manager = builder.build().await.expect("cache builds");
    (manager.cache, manager.limiter, clock)
}

fn config_with(store: StoreConfig) -> CacheConfig {
    let mut config = CacheConfig {
        default: "main".into(),
        ..CacheConfig::default()
    };
    config.stores.insert("main".into(), store);
    config
}

async fn migrate(db: &Db) {
    Migrator::new(
        db.clone(),
        vec![Arc::new(foundry_cache::migrations::CreateCacheTable)],
    )
    .migrate(MigrateOptions::default())
    .await
    .expect("cache tables migrate");
}

async fn run<F, Fut>(harness: Harness, case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let cache = harness.cache.clone();
    let outcome = AssertUnwindSafe(case(harness)).catch_unwind().await;
    let _ = cache.flush().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub async fn on_memory<F, Fut>(case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let (cache, limiter, clock) = build(CacheConfig::default(), "test_", None).await;
    run(
        Harness {
            cache,
            limiter,
            clock,
            driver: "memory",
        },
        case,
    )
    .await;
}

pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = DatabaseConfig {
        url: format!("sqlite://{}", dir.path().join("cache.sqlite").display()),
        ..DatabaseConfig::default()
    };
    let dbs = DbManager::connect(&settings, dir.path(), foundry_core::Environment::Testing)
        .await
        .expect("sqlite file");
    migrate(dbs.default_db()).await;
    let config = config_with(StoreConfig::Database(DatabaseStoreConfig::default()));
    let (cache, limiter, clock) = build(config, "test_", Some(&dbs)).await;
    run(
        Harness {
            cache,
            limiter,
            clock,
            driver: "database",
        },
        case,
    )
    .await;
}

pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = service_url("FOUNDRY_TEST_DATABASE_URL") else {
        return;
    };
    let admin = match Db::connect(&url).await {
        Ok(db) => db,
        Err(e) => {
            assert!(
                !require_services(),
                "FOUNDRY_REQUIRE_SERVICES=1 but PostgreSQL is unreachable: {e}"
            );
            eprintln!("skipping PostgreSQL test: {e}");
            return;
        }
    };
    let schema = unique("foundry_cache_test");
    admin
        .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
        .await
        .expect("create test schema");
    let settings = DatabaseConfig {
        url,
        search_path: Some(schema.clone()),
        max_connections: 5,
        ..DatabaseConfig::default()
    };
    let dbs = DbManager::connect(
        &settings,
        std::path::Path::new("."),
        foundry_core::Environment::Testing,
    )
    .await
    .expect("connect to test schema");
    migrate(dbs.default_db()).await;
    let config = config_with(StoreConfig::Database(DatabaseStoreConfig::default()));
    let (cache, limiter, clock) = build(config, "test_", Some(&dbs)).await;
    run(
        Harness {
            cache,
            limiter,
            clock,
            driver: "database",
        },
        case,
    )
    .await;
    dbs.default_db().close().await;
    admin
        .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
        .await
        .expect("drop test schema");
}

pub async fn on_redis<F, Fut>(case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = redis_url() else {
        return;
    };
    let config = config_with(StoreConfig::Redis(RedisStoreConfig {
        url,
        ..RedisStoreConfig::default()
    }));
    let prefix = format!("{}:", unique("foundry_cache_test"));
    let (cache, limiter, clock) = build(config, &prefix, None).await;
    run(
        Harness {
            cache,
            limiter,
            clock,
            driver: "redis",
        },
        case,
    )
    .await;
}

/// Generate `memory`, `sqlite`, `postgres` and `redis` tests for each case.
#[macro_export]
macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn memory() {
                $crate::common::on_memory(super::$case).await;
            }
            #[tokio::test]
            async fn sqlite() {
                $crate::common::on_sqlite(super::$case).await;
            }
            #[tokio::test]
            async fn postgres() {
                $crate::common::on_postgres(super::$case).await;
            }
            #[tokio::test]
            async fn redis() {
                $crate::common::on_redis(super::$case).await;
            }
        }
    )*};
}
