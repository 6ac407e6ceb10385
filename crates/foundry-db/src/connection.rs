//! [`Db`]: a pool over SQLite or PostgreSQL (an enum, not `sqlx::Any`), and [`DbManager`]
//! for several named connections.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::config::{ConnectionConfig, DEFAULT_CONNECTION, DatabaseConfig};
use crate::error::{DbError, DbResult};
use crate::transaction::TxHandle;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (embedded; the default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// `SQLite` / `PostgreSQL`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// The pool underneath a [`Db`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pool {
    /// A SQLite pool.
    Sqlite(SqlitePool),
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) pool: Pool,
    pub(crate) target: String,
    pub(crate) prevent_lazy_loading: AtomicBool,
    pub(crate) observers: crate::model::ObserverRegistry,
    pub(crate) statements: std::sync::atomic::AtomicU64,
    /// Where `created_at`/`updated_at`/`deleted_at` come from; the kernel shares the app's.
    clock: std::sync::RwLock<foundry_core::Clock>,
}

/// A database connection pool: cheap to clone, shared by the whole app.
///
/// Inside [`Db::transaction`] the closure receives a `Db` bound to the transaction: every query
/// made through it (builder, models, raw SQL) runs in that transaction.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use foundry_db::Db;
/// let db = Db::connect("sqlite::memory:").await.unwrap();
/// db.ping().await.unwrap();
/// assert_eq!(db.backend(), foundry_db::Backend::Sqlite);
/// # });
/// ```
#[derive(Clone)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
    pub(crate) tx: Option<Arc<TxHandle>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("name", &self.shared.name)
            .field("backend", &self.backend())
            .field("target", &self.shared.target)
            .field("in_transaction", &self.tx.is_some())
            .finish()
    }
}

impl Db {
    /// Connect to `url` with default pool settings.
    pub async fn connect(url: &str) -> DbResult<Db> {
        Self::connect_with(
            DEFAULT_CONNECTION,
            &ConnectionConfig::new(url),
            Path::new("."),
        )
        .await
    }

    /// Connect with full settings; `root` resolves the default SQLite file.
    ///
    /// The first connection is opened eagerly within `connect_timeout_secs`, so a wrong URL or
    /// an unreachable server fails here with an error naming the host and database.
    pub async fn connect_with(name: &str, config: &ConnectionConfig, root: &Path) -> DbResult<Db> {
        let url = config.resolved_url(root);
        let connect_timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
        let acquire_timeout = Duration::from_secs(config.acquire_timeout_secs.max(1));
        let idle =
            (config.idle_timeout_secs > 0).then(|| Duration::from_secs(config.idle_timeout_secs));
        let (pool, target, backend, host, database) = if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let options: SqliteConnectOptions = url
                .parse()
                .map_err(|e| DbError::Config(format!("invalid SQLite URL `{url}`: {e}")))?;
            let options = options
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_millis(config.busy_timeout_ms));
            let file = options.get_filename().display().to_string();
            let options = if memory {
                options
            } else {
                if let Some(dir) = options
                    .get_filename()
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Connect {
                        backend: "SQLite",
                        host: file.clone(),
                        database: file.clone(),
                        reason: format!("cannot create directory {}: {e}", dir.display()),
                    })?;
                }
                let options = options.journal_mode(SqliteJournalMode::Wal);
                match config.synchronous.as_deref().map(str::trim) {
                    None | Some("") => options,
                    Some(level) => options.synchronous(level.parse().map_err(|_| {
                        DbError::Config(format!(
                            "invalid `synchronous = \"{level}\"` for SQLite connection `{name}`; \
                             use off, normal, full or extra"
                        ))
                    })?),
                }
            };
            // Every connection to `:memory:` is its own database: keep exactly one, forever.
            let pool_options = if memory {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new()
                    .max_connections(config.max_connections.max(1))
                    .min_connections(config.min_connections)
                    .idle_timeout(idle)
            }
            .acquire_timeout(acquire_timeout);
            let pool = pool_options.connect_lazy_with(options);
            (
                Pool::Sqlite(pool),
                file.clone(),
                "SQLite",
                file.clone(),
                file,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            #[cfg(feature = "postgres")]
            {
                let options: PgConnectOptions = url
                    .parse()
                    .map_err(|e| DbError::Config(format!("invalid PostgreSQL URL: {e}")))?;
                let host = format!("{}:{}", options.get_host(), options.get_port());
                let database = options.get_database().unwrap_or("(default)").to_owned();
                let mut pool_options = PgPoolOptions::new()
                    .max_connections(config.max_connections.max(1))
                    .min_connections(config.min_connections)
                    .idle_timeout(idle)
                    .acquire_timeout(connect_timeout.max(acquire_timeout));
                if let Some(path) = config.search_path.clone().filter(|p| !p.is_empty()) {
                    let sql = crate::exec::search_path_sql(&path);
                    pool_options = pool_options.after_connect(move |conn, _meta| {
                        let sql = sql.clone();
                        Box::pin(async move { crate::exec::execute_on_pg_conn(conn, sql).await })
                    });
                }
                // One direct connection first: the pool retries failed connects until its
                // acquire timeout, which would turn "connection refused" or "database does not
                // exist" into a vague timeout.
                let probe =
                    tokio::time::timeout(connect_timeout, sqlx::ConnectOptions::connect(&options))
                        .await;
                let reason = match probe {
                    Ok(Ok(conn)) => {
                        let _ = sqlx::Connection::close(conn).await;
                        None
                    }
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some(format!(
                        "timed out after {}s; is the server running and reachable? (connect_timeout_secs)",
                        connect_timeout.as_secs()
                    )),
                };
                if let Some(reason) = reason {
                    return Err(DbError::Connect {
                        backend: "PostgreSQL",
                        host,
                        database,
                        reason,
                    });
                }
                let pool = pool_options.connect_lazy_with(options);
                (
                    Pool::Postgres(pool),
                    format!("{host}/{database}"),
                    "PostgreSQL",
                    host,
                    database,
                )
            }
            #[cfg(not(feature = "postgres"))]
            {
                return Err(DbError::Config(
                    "PostgreSQL URL given but foundry-db was built without the `postgres` feature; \
                     enable it in Cargo.toml"
                        .into(),
                ));
            }
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(DbError::Config(format!(
                "unsupported database URL scheme `{scheme}` in connection `{name}`; use sqlite:// or postgres://"
            )));
        };
        let db = Db {
            shared: Arc::new(Shared {
                name: name.to_owned(),
                pool,
                target,
                prevent_lazy_loading: AtomicBool::new(config.prevent_lazy_loading.unwrap_or(true)),
                observers: Default::default(),
                statements: std::sync::atomic::AtomicU64::new(0),
                clock: Default::default(),
            }),
            tx: None,
        };
        // A SQLite file another process is creating or migrating answers BUSY while it switches
        // the journal mode, before the busy timeout applies: retry until the connect timeout.
        let first_ping = async {
            loop {
                match db.ping_inner().await {
                    Err(err) if backend == "SQLite" && err.is_retryable() => {
                        tokio::time::sleep(Duration::from_millis(25)).await;
                    }
                    other => return other,
                }
            }
        };
        match tokio::time::timeout(connect_timeout, first_ping).await {
            Ok(Ok(())) => Ok(db),
            Ok(Err(e)) => Err(DbError::Connect {
                backend,
                host,
                database,
                reason: match e {
                    DbError::Sqlx { source, .. } => source.to_string(),
                    other => other.to_string(),
                },
            }),
            Err(_) => Err(DbError::Connect {
                backend,
                host,
                database,
                reason: format!(
                    "timed out after {}s; is the server running and reachable? (connect_timeout_secs)",
                    connect_timeout.as_secs()
                ),
            }),
        }
    }

    /// The connection's name in `[database]` (`default` for the top-level one).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match &self.shared.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The underlying sqlx pool, for code that wants sqlx directly.
    pub fn pool(&self) -> &Pool {
        &self.shared.pool
    }

    /// Whether this handle is bound to a transaction.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Whether lazy loading a relation that was not eager loaded is an error.
    pub fn prevents_lazy_loading(&self) -> bool {
        self.shared.prevent_lazy_loading.load(Ordering::Relaxed)
    }

    /// Turn the lazy-loading guard on or off (Laravel's `Model::preventLazyLoading`).
    pub fn prevent_lazy_loading(&self, on: bool) {
        self.shared
            .prevent_lazy_loading
            .store(on, Ordering::Relaxed);
    }

    /// How many statements this connection pool has executed so far (all clones and
    /// transactions included). Tests use it to prove eager loading issues no N+1 queries.
    pub fn statements_executed(&self) -> u64 {
        self.shared.statements.load(Ordering::Relaxed)
    }

    /// The clock that stamps model timestamps on this connection.
    pub fn clock(&self) -> foundry_core::Clock {
        match self.shared.clock.read() {
            Ok(clock) => clock.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Stamp model timestamps with `clock` from now on (all clones of this pool).
    pub fn use_clock(&self, clock: &foundry_core::Clock) {
        match self.shared.clock.write() {
            Ok(mut current) => *current = clock.clone(),
            Err(poisoned) => *poisoned.into_inner() = clock.clone(),
        }
    }

    /// The time written to `created_at`/`updated_at`/`deleted_at`: the clock's now, in whole
    /// seconds (the columns are `TIMESTAMP(0)`, as in Laravel, so the model matches what is
    /// stored).
    pub fn fresh_timestamp(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::SubsecRound;
        self.clock().now().trunc_subsecs(0)
    }

    /// Check that the database answers (`SELECT 1`).
    pub async fn ping(&self) -> DbResult<()> {
        self.ping_inner().await
    }

    async fn ping_inner(&self) -> DbResult<()> {
        crate::exec::execute(self, "SELECT 1".to_owned(), sea_query::Values(Vec::new()))
            .await
            .map(|_| ())
    }

    /// Close the pool (waits for connections to be returned).
    pub async fn close(&self) {
        match &self.shared.pool {
            Pool::Sqlite(p) => p.close().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// Several named connections built from `[database]`.
#[derive(Debug, Clone)]
pub struct DbManager {
    connections: BTreeMap<String, Db>,
}

impl DbManager {
    /// Connect every connection in `config` (`default` plus `[database.connections.*]`).
    pub async fn connect(
        config: &DatabaseConfig,
        root: &Path,
        env: foundry_core::Environment,
    ) -> DbResult<Self> {
        let mut connections = BTreeMap::new();
        let mut names = vec![DEFAULT_CONNECTION.to_owned()];
        names.extend(config.connections.keys().cloned());
        for name in names {
            let mut settings = config
                .connection(&name)
                .ok_or_else(|| DbError::Config(format!("no connection `{name}`")))?;
            if settings.prevent_lazy_loading.is_none() {
                settings.prevent_lazy_loading = Some(env != foundry_core::Environment::Production);
            }
            let db = Db::connect_with(&name, &settings, root).await?;
            connections.insert(name, db);
        }
        Ok(Self { connections })
    }

    /// The default connection.
    pub fn default_db(&self) -> &Db {
        // `connect` always inserts the default connection first.
        &self.connections[DEFAULT_CONNECTION]
    }

    /// The connection called `name`, or an error listing the configured names.
    pub fn connection(&self, name: &str) -> DbResult<&Db> {
        self.connections.get(name).ok_or_else(|| {
            DbError::Config(format!(
                "no database connection `{name}`; configured: {}",
                self.connections
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Stamp models on every connection with `clock` (the app's, so tests can freeze time).
    pub fn use_clock(&self, clock: &foundry_core::Clock) {
        for db in self.connections.values() {
            db.use_clock(clock);
        }
    }

    /// Ping every connection; the first failure wins.
    pub async fn ping_all(&self) -> DbResult<()> {
        for db in self.connections.values() {
            db.ping().await?;
        }
        Ok(())
    }
}
