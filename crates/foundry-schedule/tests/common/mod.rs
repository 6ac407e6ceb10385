//! Shared helpers: an app context, and lock stores on every cache driver (PostgreSQL in a
//! schema of its own, Redis under a prefix of its own).
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use foundry_cache::config::{CacheConfig, DatabaseStoreConfig, RedisStoreConfig, StoreConfig};
use foundry_cache::{Cache, CacheManager};
use foundry_core::config::ConfigLoader;
use foundry_core::{AppContext, Clock, ServicesBuilder};
use foundry_db::migrate::{MigrateOptions, Migrator};
use foundry_db::{DatabaseConfig, Db, DbManager};
use foundry_queue::{ConnectionConfig, JobRegistry, MemoryConfig, QueueConfig, QueueManager};

/// An app context in `env` with `clock`, a memory queue (`jobs`) and the given job registry.
pub fn context(env: &str, clock: &Clock, jobs: JobRegistry) -> (AppContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .dotenv(false)
        .vars([("FOUNDRY_ENV", env)])
        .load()
        .unwrap();
    let queue = QueueManager::new(
        QueueConfig {
            default: "jobs".to_owned(),
            connections: BTreeMap::from([(
                "jobs".to_owned(),
                ConnectionConfig::Memory(MemoryConfig::default()),
            )]),
        },
        jobs,
        clock.clone(),
    );
    let mut services = ServicesBuilder::new();
    services.singleton(clock.clone());
    services.singleton(queue);
    (AppContext::new(config, services.build()), dir)
}

fn require_services() -> bool {
    std::env::var("FOUNDRY_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

pub fn service_url(var: &str) -> Option<String> {
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

/// A lock store shared by the "servers" of a test, and what keeps it alive.
pub struct Store {
    pub cache: Cache,
    pub driver: &'static str,
    _dir: Option<tempfile::TempDir>,
    _dbs: Option<DbManager>,
}

async fn build(store: StoreConfig, prefix: &str, dbs: Option<&DbManager>, clock: &Clock) -> Cache {
    let mut config = CacheConfig {
        default: "locks".into(),
        ..CacheConfig::default()
    };
    config.stores.insert("locks".into(), store);
    let mut builder = CacheManager::builder(&config, prefix, clock.clone());
    if let Some(dbs) = dbs {
        builder = builder.databases(dbs);
    }
    builder.build().await.expect("the lock store builds").cache
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

pub async fn memory(clock: &Clock) -> Option<Store> {
    Some(Store {
        cache: build(StoreConfig::Memory(Default::default()), "t_", None, clock).await,
        driver: "memory",
        _dir: None,
        _dbs: None,
    })
}

pub async fn sqlite(clock: &Clock) -> Option<Store> {
    let dir = tempfile::tempdir().unwrap();
    let settings = DatabaseConfig {
        url: format!("sqlite://{}", dir.path().join("locks.sqlite").display()),
        ..DatabaseConfig::default()
    };
    let dbs = DbManager::connect(&settings, dir.path(), foundry_core::Environment::Testing)
        .await
        .expect("sqlite file");
    migrate(dbs.default_db()).await;
    let cache = build(
        StoreConfig::Database(DatabaseStoreConfig::default()),
        "t_",
        Some(&dbs),
        clock,
    )
    .await;
    Some(Store {
        cache,
        driver: "sqlite",
        _dir: Some(dir),
        _dbs: Some(dbs),
    })
}

pub async fn postgres(clock: &Clock) -> Option<Store> {
    let url = service_url("FOUNDRY_TEST_DATABASE_URL")?;
    let admin = Db::connect(&url).await.expect("PostgreSQL answers");
    let schema = unique("foundry_schedule_test");
    admin
        .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
        .await
        .expect("create test schema");
    let settings = DatabaseConfig {
        url,
        search_path: Some(schema),
        max_connections: 5,
        ..DatabaseConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let dbs = DbManager::connect(&settings, dir.path(), foundry_core::Environment::Testing)
        .await
        .expect("PostgreSQL schema");
    migrate(dbs.default_db()).await;
    let cache = build(
        StoreConfig::Database(DatabaseStoreConfig::default()),
        "t_",
        Some(&dbs),
        clock,
    )
    .await;
    Some(Store {
        cache,
        driver: "postgres",
        _dir: Some(dir),
        _dbs: Some(dbs),
    })
}

pub async fn redis(clock: &Clock) -> Option<Store> {
    let url = service_url("FOUNDRY_TEST_REDIS_URL")?;
    let store = StoreConfig::Redis(RedisStoreConfig {
        url,
        ..RedisStoreConfig::default()
    });
    let prefix = format!("{}:", unique("schedule"));
    Some(Store {
        cache: build(store, &prefix, None, clock).await,
        driver: "redis",
        _dir: None,
        _dbs: None,
    })
}
