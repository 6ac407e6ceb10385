//! `[cache]`: the default store, the key prefix and the named stores.
//!
//! ```toml
//! [cache]
//! default = "redis"            # default: "memory"
//! prefix = "blog_cache_"       # default: "<app name>_cache_"
//! limiter = "redis"            # store the rate limiter counts in; default: the default store
//!
//! [cache.stores.redis]
//! driver = "redis"
//! url = "redis://127.0.0.1:6379"
//!
//! [cache.stores.database]
//! driver = "database"
//! ```
//!
//! A store named `memory` (driver `memory`) always exists unless the app defines its own.
//! An unknown `driver` fails when the configuration is loaded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name of the store that always exists.
pub const MEMORY_STORE: &str = "memory";

/// `[cache]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// The store `Cache` uses unless told otherwise (default `memory`).
    pub default: String,
    /// Prepended to every key so apps sharing a server do not collide, and so `flush` only
    /// removes this app's entries; empty means `<app name in snake case>_cache_`.
    pub prefix: String,
    /// The store rate limiters count in; empty means the default store. It must be a memory
    /// or redis store.
    pub limiter: String,
    /// Named stores.
    pub stores: BTreeMap<String, StoreConfig>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            default: MEMORY_STORE.to_owned(),
            prefix: String::new(),
            limiter: String::new(),
            stores: BTreeMap::new(),
        }
    }
}

impl CacheConfig {
    /// The configured stores plus the built-in `memory` store when the app did not define one.
    pub fn effective_stores(&self) -> BTreeMap<String, StoreConfig> {
        let mut stores = self.stores.clone();
        stores
            .entry(MEMORY_STORE.to_owned())
            .or_insert_with(|| StoreConfig::Memory(MemoryConfig::default()));
        stores
    }

    /// The key prefix: the configured one, or `<app>_cache_` from the app's name.
    pub fn resolved_prefix(&self, app_name: &str) -> String {
        if !self.prefix.is_empty() {
            return self.prefix.clone();
        }
        let slug: String = app_name
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}_cache_", if slug.is_empty() { "foundry" } else { &slug })
    }
}

/// One store: its driver and the driver's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "driver", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoreConfig {
    /// In-process, bounded; lost on restart and not shared between processes.
    Memory(MemoryConfig),
    /// Tables `cache` and `cache_locks` on a `[database]` connection.
    Database(DatabaseStoreConfig),
    /// A Redis server (the `redis` cargo feature).
    Redis(RedisStoreConfig),
}

impl StoreConfig {
    /// The driver's name as written in the configuration.
    pub fn driver(&self) -> &'static str {
        match self {
            StoreConfig::Memory(_) => "memory",
            StoreConfig::Database(_) => "database",
            StoreConfig::Redis(_) => "redis",
        }
    }
}

/// `driver = "memory"`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Most entries kept; the least recently used entry is evicted beyond it (default 10000).
    pub capacity: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { capacity: 10_000 }
    }
}

/// `driver = "database"`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseStoreConfig {
    /// The `[database]` connection; empty means the default connection.
    pub connection: String,
    /// The entries table (default `cache`).
    pub table: String,
    /// The locks table (default `cache_locks`).
    pub lock_table: String,
}

impl Default for DatabaseStoreConfig {
    fn default() -> Self {
        Self {
            connection: String::new(),
            table: "cache".to_owned(),
            lock_table: "cache_locks".to_owned(),
        }
    }
}

/// `driver = "redis"`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisStoreConfig {
    /// `redis://[user:password@]host:port[/db]` (default `redis://127.0.0.1:6379`). Stores with
    /// the same URL share one connection.
    pub url: String,
    /// Milliseconds to wait for the server when connecting or answering before failing with
    /// an error naming the host (default 2000).
    pub timeout_ms: u64,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            timeout_ms: 2000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_driver_fails_to_parse() {
        let err = toml::from_str::<CacheConfig>("[stores.x]\ndriver = \"memcached\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `memcached`"), "{err}");
    }

    #[test]
    fn memory_always_exists_and_prefix_follows_the_app_name() {
        let config: CacheConfig =
            toml::from_str("default = \"r\"\n[stores.r]\ndriver = \"redis\"\n").unwrap();
        let stores = config.effective_stores();
        assert_eq!(stores.keys().collect::<Vec<_>>(), ["memory", "r"]);
        assert_eq!(config.resolved_prefix("My Blog"), "my_blog_cache_");
        assert_eq!(stores["r"], StoreConfig::Redis(RedisStoreConfig::default()));
    }
}
