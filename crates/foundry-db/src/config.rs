//! `[database]`: connection URLs, pool sizes and timeouts.
//!
//! ```toml
//! [database]
//! url = "postgres://app@db.internal/blog"   # default: SQLite file <root>/storage/database.sqlite
//! max_connections = 10
//! connect_timeout_secs = 5
//!
//! [database.connections.analytics]          # more named connections
//! url = "postgres://reader@replica/blog"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One connection's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionConfig {
    /// `sqlite://path`, `sqlite::memory:` or `postgres://user@host:port/db`; empty means the
    /// SQLite file `<root>/storage/database.sqlite`.
    pub url: String,
    /// Most connections the pool opens (default 10; in-memory SQLite always uses 1).
    pub max_connections: u32,
    /// Connections kept open when idle (default 0).
    pub min_connections: u32,
    /// Seconds to wait for a new connection before giving up with an error naming the host
    /// and database (default 5).
    pub connect_timeout_secs: u64,
    /// Seconds a query waits for a free pooled connection (default 10).
    pub acquire_timeout_secs: u64,
    /// Seconds an idle connection is kept (default 600; 0 keeps it forever).
    pub idle_timeout_secs: u64,
    /// PostgreSQL schema search path set on every connection (Laravel's `search_path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_path: Option<String>,
    /// SQLite: milliseconds a statement waits for another connection's lock before failing
    /// with `SQLITE_BUSY` (default 5000; transactions retry on BUSY).
    pub busy_timeout_ms: u64,
    /// SQLite file databases: `PRAGMA synchronous` (`off`, `normal`, `full`, `extra`; default
    /// `full`). `normal` is SQLite's advice for WAL mode, which foundry uses: a commit no
    /// longer waits for the disk, and the last commits before a power loss or OS crash (not an
    /// app crash) may be rolled back; the file stays consistent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<String>,
    /// Turn accidental lazy loading of relations into an error; default: on in `local` and
    /// `testing`, off in `production`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prevent_lazy_loading: Option<bool>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 10,
            min_connections: 0,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 10,
            idle_timeout_secs: 600,
            search_path: None,
            busy_timeout_ms: 5000,
            synchronous: None,
            prevent_lazy_loading: None,
        }
    }
}

impl ConnectionConfig {
    /// A connection to `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The URL to connect to, with the default SQLite file resolved under `root`.
    pub fn resolved_url(&self, root: &Path) -> String {
        if self.url.trim().is_empty() {
            let path = root.join("storage").join("database.sqlite");
            format!("sqlite://{}", path.display())
        } else {
            self.url.trim().to_owned()
        }
    }
}

/// The `[database]` section: the default connection's settings plus named extra connections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The default connection's URL (see [`ConnectionConfig::url`]).
    pub url: String,
    /// See [`ConnectionConfig::max_connections`].
    pub max_connections: u32,
    /// See [`ConnectionConfig::min_connections`].
    pub min_connections: u32,
    /// See [`ConnectionConfig::connect_timeout_secs`].
    pub connect_timeout_secs: u64,
    /// See [`ConnectionConfig::acquire_timeout_secs`].
    pub acquire_timeout_secs: u64,
    /// See [`ConnectionConfig::idle_timeout_secs`].
    pub idle_timeout_secs: u64,
    /// See [`ConnectionConfig::search_path`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_path: Option<String>,
    /// See [`ConnectionConfig::busy_timeout_ms`].
    pub busy_timeout_ms: u64,
    /// See [`ConnectionConfig::synchronous`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<String>,
    /// See [`ConnectionConfig::prevent_lazy_loading`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prevent_lazy_loading: Option<bool>,
    /// Further named connections (`[database.connections.<name>]`).
    pub connections: BTreeMap<String, ConnectionConfig>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let c = ConnectionConfig::default();
        Self {
            url: c.url,
            max_connections: c.max_connections,
            min_connections: c.min_connections,
            connect_timeout_secs: c.connect_timeout_secs,
            acquire_timeout_secs: c.acquire_timeout_secs,
            idle_timeout_secs: c.idle_timeout_secs,
            search_path: None,
            busy_timeout_ms: c.busy_timeout_ms,
            synchronous: None,
            prevent_lazy_loading: None,
            connections: BTreeMap::new(),
        }
    }
}

/// The name of the default connection.
pub const DEFAULT_CONNECTION: &str = "default";

impl DatabaseConfig {
    /// The default connection's settings.
    pub fn default_connection(&self) -> ConnectionConfig {
        ConnectionConfig {
            url: self.url.clone(),
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            connect_timeout_secs: self.connect_timeout_secs,
            acquire_timeout_secs: self.acquire_timeout_secs,
            idle_timeout_secs: self.idle_timeout_secs,
            search_path: self.search_path.clone(),
            busy_timeout_ms: self.busy_timeout_ms,
            synchronous: self.synchronous.clone(),
            prevent_lazy_loading: self.prevent_lazy_loading,
        }
    }

    /// The settings of the connection called `name` (`"default"` is the top-level one).
    pub fn connection(&self, name: &str) -> Option<ConnectionConfig> {
        if name == DEFAULT_CONNECTION {
            Some(self.default_connection())
        } else {
            self.connections.get(name).cloned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foundry_core::config::ConfigLoader;

    #[test]
    fn defaults_and_named_connections_load_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("foundry.toml"),
            "[database]\nmax_connections = 3\n[database.connections.replica]\nurl = \"sqlite::memory:\"\n",
        )
        .unwrap();
        let config = ConfigLoader::new(dir.path())
            .vars(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        let db: DatabaseConfig = config.section("database").unwrap();
        assert_eq!(db.max_connections, 3);
        assert_eq!(db.connect_timeout_secs, 5);
        let default = db.connection(DEFAULT_CONNECTION).unwrap();
        assert_eq!(
            default.resolved_url(dir.path()),
            format!(
                "sqlite://{}",
                dir.path().join("storage/database.sqlite").display()
            )
        );
        assert_eq!(db.connection("replica").unwrap().url, "sqlite::memory:");
        assert!(db.connection("nope").is_none());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("foundry.toml"),
            "[database]\nmax_conections = 3\n",
        )
        .unwrap();
        let config = ConfigLoader::new(dir.path())
            .vars(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        let err = config.section::<DatabaseConfig>("database").unwrap_err();
        assert!(err.to_string().contains("max_conections"), "{err}");
    }
}
