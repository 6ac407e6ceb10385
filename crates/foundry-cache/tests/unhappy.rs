//! Failures that must be clear and quick, and isolation between apps sharing a server.

mod common;

use std::time::{Duration, Instant};

use foundry_cache::config::{CacheConfig, RedisStoreConfig, StoreConfig};
use foundry_cache::redis::{RedisConnection, RedisStore};
use foundry_cache::{Cache, CacheError, CacheManager};
use foundry_core::Clock;

#[tokio::test]
async fn a_dead_redis_is_an_error_naming_the_host_not_a_hang() {
    let started = Instant::now();
    let err = RedisConnection::connect(
        "sessions",
        "redis://127.0.0.1:1",
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CacheError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("cache store `sessions` cannot reach redis at 127.0.0.1:1"),
        "{message}"
    );
    // A host that never answers (a blackhole address) is bounded by the timeout.
    let err = RedisConnection::connect(
        "main",
        "redis://10.255.255.1:6379",
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("10.255.255.1:6379"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The same through the manager, as at boot.
    let mut config = CacheConfig::default();
    config.stores.insert(
        "redis".into(),
        StoreConfig::Redis(RedisStoreConfig {
            url: "redis://127.0.0.1:1".into(),
            timeout_ms: 300,
        }),
    );
    let err = CacheManager::builder(&config, "p_", Clock::system())
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    let err = RedisConnection::connect("x", "http://nope", Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid redis url"), "{err}");
}

#[tokio::test]
async fn an_unknown_store_lists_the_defined_ones() {
    let cache = Cache::memory(Clock::system());
    let err = cache.store("redis").unwrap_err().to_string();
    assert_eq!(
        err,
        "cache store `redis` is not defined; defined stores: memory (add it under [cache.stores.redis])"
    );
}

#[tokio::test]
async fn flush_on_redis_only_touches_this_apps_prefix() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let connection = RedisConnection::connect("main", &url, Duration::from_secs(2))
        .await
        .unwrap();
    let base = common::unique("flush");
    let ours = Cache::single(
        "a",
        RedisStore::new("a", connection.clone(), &format!("{base}:a:")),
    );
    let theirs = Cache::single("b", RedisStore::new("b", connection, &format!("{base}:b:")));
    ours.forever("k", &1).await.unwrap();
    theirs.forever("k", &2).await.unwrap();
    ours.flush().await.unwrap();
    assert_eq!(ours.get::<i32>("k").await.unwrap(), None);
    assert_eq!(theirs.get::<i32>("k").await.unwrap(), Some(2));
    theirs.flush().await.unwrap();
}

#[tokio::test]
async fn flush_on_the_database_only_touches_this_apps_prefix() {
    use foundry_cache::database::DatabaseStore;
    let db = foundry_db::Db::connect("sqlite::memory:").await.unwrap();
    foundry_db::Migrator::new(
        db.clone(),
        vec![std::sync::Arc::new(
            foundry_cache::migrations::CreateCacheTable,
        )],
    )
    .migrate(Default::default())
    .await
    .unwrap();
    let store = |prefix: &str| {
        DatabaseStore::new(
            "db",
            db.clone(),
            prefix,
            "cache",
            "cache_locks",
            Clock::system(),
        )
    };
    // `_` and `%` in a prefix are literal, not LIKE wildcards.
    let ours = Cache::single("a", store("app_1:"));
    let theirs = Cache::single("b", store("appX1:"));
    ours.forever("k", &1).await.unwrap();
    theirs.forever("k", &2).await.unwrap();
    ours.flush().await.unwrap();
    assert_eq!(ours.get::<i32>("k").await.unwrap(), None);
    assert_eq!(theirs.get::<i32>("k").await.unwrap(), Some(2));
}
