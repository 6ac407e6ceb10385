//! `[queue]`: the default connection and the named connections, each with its driver.
//!
//! ```toml
//! [queue]
//! default = "database"
//!
//! [queue.connections.database]
//! driver = "database"
//! retry_after_secs = 90
//!
//! [queue.connections.redis]
//! driver = "redis"
//! url = "redis://127.0.0.1:6379"
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name of the queue a job goes to when nothing else says.
pub const DEFAULT_QUEUE: &str = "default";

/// The `[queue]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// The connection `dispatch` uses (default `sync`: jobs run at once, no worker needed).
    pub default: String,
    /// Named connections. `sync`, `memory` and `database` exist even when not listed; an entry
    /// with the same name replaces the built-in one.
    pub connections: BTreeMap<String, ConnectionConfig>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            default: "sync".to_owned(),
            connections: BTreeMap::new(),
        }
    }
}

impl QueueConfig {
    /// The settings of connection `name`: the configured entry, else the built-in one.
    pub fn connection(&self, name: &str) -> Option<ConnectionConfig> {
        if let Some(config) = self.connections.get(name) {
            return Some(config.clone());
        }
        match name {
            "sync" => Some(ConnectionConfig::Sync),
            "memory" => Some(ConnectionConfig::Memory(MemoryConfig::default())),
            "database" => Some(ConnectionConfig::Database(DatabaseConfig::default())),
            _ => None,
        }
    }

    /// Every connection name, configured and built in.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["sync", "memory", "database"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        for name in self.connections.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

/// One queue connection: a driver and its settings (`driver = "…"` picks the variant; an
/// unknown driver fails when the configuration loads).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum ConnectionConfig {
    /// Run each job at once, in the dispatching task; failures return to the caller.
    Sync,
    /// An in-process queue (tests, single-process apps); lost when the process exits.
    Memory(MemoryConfig),
    /// The `jobs` table on a `[database]` connection (SQLite or PostgreSQL).
    Database(DatabaseConfig),
    /// Redis lists and sorted sets (the `redis` cargo feature).
    Redis(RedisConfig),
}

impl ConnectionConfig {
    /// The driver's name as written in the configuration.
    pub fn driver(&self) -> &'static str {
        match self {
            ConnectionConfig::Sync => "sync",
            ConnectionConfig::Memory(_) => "memory",
            ConnectionConfig::Database(_) => "database",
            ConnectionConfig::Redis(_) => "redis",
        }
    }
}

/// `driver = "memory"`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// The queue jobs go to when the job does not name one.
    pub queue: String,
    /// Seconds after which a reserved job that was neither finished nor released is handed
    /// out again.
    pub retry_after_secs: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            queue: DEFAULT_QUEUE.to_owned(),
            retry_after_secs: 90,
        }
    }
}

/// `driver = "database"`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The `[database]` connection holding the tables (`default`: the top-level one).
    pub connection: String,
    /// The queue jobs go to when the job does not name one.
    pub queue: String,
    /// Seconds after which a reserved job that was neither finished nor released is handed
    /// out again (Laravel's `retry_after`). Keep it above the longest job timeout.
    pub retry_after_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            connection: foundry_db::DEFAULT_CONNECTION.to_owned(),
            queue: DEFAULT_QUEUE.to_owned(),
            retry_after_secs: 90,
        }
    }
}

/// `driver = "redis"`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// The server, `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key, so several apps can share a server.
    pub prefix: String,
    /// The queue jobs go to when the job does not name one.
    pub queue: String,
    /// Seconds after which a reserved job that was neither finished nor released is handed
    /// out again.
    pub retry_after_secs: u64,
    /// Seconds to wait for the server to accept a connection.
    pub connect_timeout_secs: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "foundry_queue:".to_owned(),
            queue: DEFAULT_QUEUE.to_owned(),
            retry_after_secs: 90,
            connect_timeout_secs: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_parse_by_tag_and_unknown_ones_fail() {
        let config: QueueConfig = toml::from_str(
            r#"
            default = "jobs"
            [connections.jobs]
            driver = "database"
            retry_after_secs = 30
            [connections.fast]
            driver = "redis"
            prefix = "app:"
            "#,
        )
        .unwrap();
        assert_eq!(config.default, "jobs");
        match config.connection("jobs").unwrap() {
            ConnectionConfig::Database(db) => {
                assert_eq!(db.retry_after_secs, 30);
                assert_eq!(db.connection, "default");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(config.connection("fast").unwrap().driver(), "redis");
        assert_eq!(config.connection("sync"), Some(ConnectionConfig::Sync));
        assert!(config.connection("nope").is_none());

        let err = toml::from_str::<QueueConfig>("[connections.x]\ndriver = \"beanstalkd\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("beanstalkd"), "{err}");
        let err =
            toml::from_str::<QueueConfig>("[connections.x]\ndriver = \"memory\"\nretry = 1\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("retry"), "{err}");
    }
}
