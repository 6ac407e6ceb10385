//! Build every store of `[cache]`, the default [`Cache`] and the [`RateLimiter`].

use std::collections::BTreeMap;
use std::sync::Arc;

use foundry_core::Clock;

use crate::cache::{Cache, Stores};
use crate::config::{CacheConfig, StoreConfig};
use crate::error::{CacheError, CacheResult};
use crate::limiter::RateLimiter;
use crate::memory::MemoryStore;
use crate::store::Store;

/// What `[cache]` builds: the cache (default store), the rate limiter, and the Redis
/// connections (one per server URL) for readiness checks and other components.
#[derive(Debug, Clone)]
pub struct CacheManager {
    /// The cache on the default store; [`Cache::store`] reaches the others.
    pub cache: Cache,
    /// The rate limiter on the `limiter` store.
    pub limiter: RateLimiter,
    #[cfg(feature = "redis")]
    redis: BTreeMap<String, crate::redis::RedisConnection>,
}

/// Builds a [`CacheManager`] from `[cache]`.
#[derive(Debug)]
pub struct CacheManagerBuilder<'a> {
    config: &'a CacheConfig,
    // Only the shared stores (database, Redis) namespace their keys.
    #[cfg_attr(not(any(feature = "database", feature = "redis")), allow(dead_code))]
    prefix: String,
    clock: Clock,
    #[cfg(feature = "database")]
    databases: Option<&'a foundry_db::DbManager>,
}

impl<'a> CacheManagerBuilder<'a> {
    /// Database stores use these connections (required when one is configured).
    #[cfg(feature = "database")]
    pub fn databases(mut self, databases: &'a foundry_db::DbManager) -> Self {
        self.databases = Some(databases);
        self
    }

    /// Connect every store. A store that cannot start (an unreachable Redis, a database store
    /// without `[database]`, a driver not compiled in) is an error naming it.
    pub async fn build(self) -> CacheResult<CacheManager> {
        let mut map: BTreeMap<String, Arc<dyn Store>> = BTreeMap::new();
        #[cfg(feature = "redis")]
        let mut redis: BTreeMap<String, crate::redis::RedisConnection> = BTreeMap::new();
        #[cfg(feature = "redis")]
        let mut redis_stores: BTreeMap<String, crate::redis::RedisStore> = BTreeMap::new();
        for (name, store) in self.config.effective_stores() {
            let built: Arc<dyn Store> = match store {
                StoreConfig::Memory(memory) => {
                    Arc::new(MemoryStore::new(memory.capacity, self.clock.clone()))
                }
                #[cfg(feature = "database")]
                StoreConfig::Database(settings) => {
                    let databases = self.databases.ok_or_else(|| {
                        CacheError::Config(format!(
                            "cache store `{name}` uses the database driver but the app has no \
                             database; add a [database] section or pick another driver"
                        ))
                    })?;
                    let db = if settings.connection.is_empty() {
                        databases.default_db().clone()
                    } else {
                        databases
                            .connection(&settings.connection)
                            .map_err(|err| {
                                CacheError::Config(format!("cache store `{name}`: {err}"))
                            })?
                            .clone()
                    };
                    Arc::new(crate::database::DatabaseStore::new(
                        &name,
                        db,
                        &self.prefix,
                        &settings.table,
                        &settings.lock_table,
                        self.clock.clone(),
                    ))
                }
                #[cfg(feature = "redis")]
                StoreConfig::Redis(settings) => {
                    let connection = match redis.get(&settings.url) {
                        Some(connection) => connection.clone(),
                        None => {
                            let timeout =
                                std::time::Duration::from_millis(settings.timeout_ms.max(1));
                            let connection = crate::redis::RedisConnection::connect(
                                &name,
                                &settings.url,
                                timeout,
                            )
                            .await?;
                            redis.insert(settings.url.clone(), connection.clone());
                            connection
                        }
                    };
                    let store = crate::redis::RedisStore::new(&name, connection, &self.prefix);
                    redis_stores.insert(name.clone(), store.clone());
                    Arc::new(store)
                }
                #[allow(unreachable_patterns)]
                other => {
                    return Err(CacheError::Config(format!(
                        "cache store `{name}` uses the `{}` driver, which this build does not \
                         include; enable the `{}` cargo feature of foundry",
                        other.driver(),
                        other.driver()
                    )));
                }
            };
            map.insert(name, built);
        }
        let cache = Cache::from_stores(Stores {
            map,
            default: self.config.default.clone(),
        })?;
        let limiter_store = if self.config.limiter.is_empty() {
            self.config.default.as_str()
        } else {
            self.config.limiter.as_str()
        };
        let limiter_cache = cache.store(limiter_store)?;
        let limiter = match limiter_cache.driver() {
            "memory" => RateLimiter::memory(self.clock.clone()),
            #[cfg(feature = "redis")]
            "redis" => match redis_stores.get(limiter_store) {
                Some(store) => RateLimiter::redis(store.connection().clone(), &self.prefix),
                None => RateLimiter::store(limiter_cache, self.clock.clone()),
            },
            _ => RateLimiter::store(limiter_cache, self.clock.clone()),
        };
        Ok(CacheManager {
            cache,
            limiter,
            #[cfg(feature = "redis")]
            redis: redis_stores
                .into_iter()
                .map(|(name, store)| (name, store.connection().clone()))
                .collect(),
        })
    }
}

impl CacheManager {
    /// Start building from `config`, with keys under `prefix` and time from `clock`.
    pub fn builder<'a>(
        config: &'a CacheConfig,
        prefix: &str,
        clock: Clock,
    ) -> CacheManagerBuilder<'a> {
        CacheManagerBuilder {
            config,
            prefix: prefix.to_owned(),
            clock,
            #[cfg(feature = "database")]
            databases: None,
        }
    }

    /// The Redis connection of each Redis store, by store name.
    #[cfg(feature = "redis")]
    pub fn redis_connections(&self) -> &BTreeMap<String, crate::redis::RedisConnection> {
        &self.redis
    }

    /// Check every store answers: the error names the first one that does not.
    pub async fn ping(&self) -> CacheResult<()> {
        for name in self.cache.store_names() {
            self.cache.store(&name)?.raw().ping().await?;
        }
        Ok(())
    }
}
