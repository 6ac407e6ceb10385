//! Transactions: `db.transaction(|tx| async move { … })` commits on `Ok`, rolls back on `Err`
//! or panic; nested calls use savepoints; deadlocks and serialization failures are retried;
//! after-commit callbacks run only once the outermost transaction committed.

use std::error::Error as StdError;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use foundry_core::BoxFuture;
use futures_util::FutureExt;

use crate::connection::Db;
use crate::error::{DbError, DbResult};

pub(crate) enum TxConn {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A SQLite transaction with foreign-key enforcement off (table rebuilds); see
    /// [`TransactionOptions::sqlite_foreign_keys_off`].
    SqliteForeignKeysOff(ForeignKeysOff),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Finished,
}

impl TxConn {
    /// The SQLite connection under either SQLite variant.
    pub(crate) fn sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        match self {
            TxConn::Sqlite(t) => Some(&mut **t),
            TxConn::SqliteForeignKeysOff(c) => c.conn.as_deref_mut(),
            #[cfg(feature = "postgres")]
            TxConn::Postgres(_) => None,
            TxConn::Finished => None,
        }
    }
}

/// A pooled SQLite connection inside `BEGIN IMMEDIATE` with `PRAGMA foreign_keys = OFF`.
///
/// SQLite only switches foreign keys outside a transaction, so this runs `BEGIN`, `COMMIT` and
/// `ROLLBACK` itself and switches enforcement back on afterwards. If it is dropped unfinished
/// (a cancelled future), the connection is closed rather than returned to the pool in that
/// state.
pub(crate) struct ForeignKeysOff {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
}

impl ForeignKeysOff {
    pub(crate) async fn begin(pool: &sqlx::SqlitePool) -> DbResult<Self> {
        let conn = pool
            .acquire()
            .await
            .map_err(|e| DbError::sqlx("begin transaction", e))?;
        let mut this = Self { conn: Some(conn) };
        this.run("PRAGMA foreign_keys = OFF").await?;
        this.run("BEGIN IMMEDIATE").await?;
        Ok(this)
    }

    async fn run(&mut self, sql: &'static str) -> DbResult<()> {
        use sqlx::Executor;
        let conn = self
            .conn
            .as_deref_mut()
            .ok_or(DbError::TransactionFinished)?;
        conn.execute(sql)
            .await
            .map(|_| ())
            .map_err(|e| DbError::sqlx(sql, e))
    }

    /// Check the foreign keys the rebuild could have broken, then commit; roll back if any
    /// row points nowhere.
    async fn commit(mut self) -> DbResult<()> {
        use sqlx::Row as _;
        let conn = self
            .conn
            .as_deref_mut()
            .ok_or(DbError::TransactionFinished)?;
        let violations = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| DbError::sqlx("PRAGMA foreign_key_check", e))?;
        if let Some(first) = violations.first() {
            let table: String = first.try_get(0).unwrap_or_default();
            let parent: String = first.try_get(2).unwrap_or_default();
            self.finish("ROLLBACK").await;
            return Err(DbError::InvalidQuery(format!(
                "{} row(s) would break foreign keys (the first: a row of `{table}` points to a \
                 missing row of `{parent}`); nothing was changed",
                violations.len()
            )));
        }
        self.run("COMMIT").await?;
        self.finish("PRAGMA foreign_keys = ON").await;
        Ok(())
    }

    async fn rollback(mut self) {
        self.finish("ROLLBACK").await;
    }

    /// Run `sql`, switch foreign keys back on and return the connection to the pool; if that
    /// fails, close the connection instead.
    async fn finish(&mut self, sql: &'static str) {
        let ok = self.run(sql).await.is_ok()
            && (sql == "PRAGMA foreign_keys = ON"
                || self.run("PRAGMA foreign_keys = ON").await.is_ok());
        if let Some(mut conn) = self.conn.take()
            && !ok
        {
            conn.close_on_drop();
        }
    }
}

impl Drop for ForeignKeysOff {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close_on_drop();
        }
    }
}

type AfterCommit = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

pub(crate) struct TxHandle {
    pub(crate) conn: tokio::sync::Mutex<TxConn>,
    depth: AtomicUsize,
    after_commit: Mutex<Vec<AfterCommit>>,
}

/// Transaction isolation levels (PostgreSQL; SQLite transactions are always serializable and
/// ignore this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL treats it as read committed).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
            IsolationLevel::RepeatableRead => "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            IsolationLevel::Serializable => "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

/// Options for [`Db::transaction_with`].
#[derive(Debug, Clone, Copy)]
pub struct TransactionOptions {
    /// Isolation level; `None` keeps the server default.
    pub isolation: Option<IsolationLevel>,
    /// How many times to run the closure in total when the database reports a deadlock or
    /// serialization failure (default 3, like Laravel's `attempts`).
    pub attempts: u32,
    /// SQLite only: take the write lock at `BEGIN` (`BEGIN IMMEDIATE`).
    pub immediate: bool,
    /// SQLite only: run with foreign-key enforcement off (implies `immediate`), checking every
    /// foreign key with `PRAGMA foreign_key_check` before commit. Table rebuilds need it so
    /// that replacing a table neither cascades into nor is refused by the rows pointing at it.
    pub sqlite_foreign_keys_off: bool,
}

impl Default for TransactionOptions {
    fn default() -> Self {
        Self {
            isolation: None,
            attempts: 3,
            immediate: false,
            sqlite_foreign_keys_off: false,
        }
    }
}

impl TransactionOptions {
    /// Default options with this isolation level.
    pub fn isolation(level: IsolationLevel) -> Self {
        Self {
            isolation: Some(level),
            ..Self::default()
        }
    }

    /// Set the number of attempts (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }
}

fn is_retryable<E: StdError + 'static>(err: &E) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(db) = e.downcast_ref::<DbError>() {
            return db.is_retryable();
        }
        next = e.source();
    }
    false
}

impl Db {
    /// Run `f` in a transaction with default options (see [`Db::transaction_with`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use foundry_db::{Db, DbError};
    /// let db = Db::connect("sqlite::memory:").await.unwrap();
    /// db.statement("CREATE TABLE t (n INTEGER)", vec![]).await.unwrap();
    /// let failed: Result<(), DbError> = db
    ///     .transaction(|tx| async move {
    ///         tx.statement("INSERT INTO t VALUES (1)", vec![]).await?;
    ///         Err(DbError::InvalidQuery("changed my mind".into()))
    ///     })
    ///     .await;
    /// assert!(failed.is_err());
    /// assert_eq!(db.table("t").count().await.unwrap(), 0, "rolled back");
    /// # });
    /// ```
    pub async fn transaction<F, Fut, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(Db) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<DbError> + StdError + 'static,
    {
        self.transaction_with(TransactionOptions::default(), f)
            .await
    }

    /// Run `f` in a transaction: commit when it returns `Ok`, roll back when it returns `Err`
    /// or panics (the panic then continues). Called on a handle that is already in a
    /// transaction, it uses a savepoint instead (and never retries). When the database
    /// reports a deadlock or serialization failure (PostgreSQL 40001/40P01, SQLite BUSY), the
    /// whole closure runs again, up to `options.attempts` times in total.
    pub async fn transaction_with<F, Fut, T, E>(
        &self,
        options: TransactionOptions,
        mut f: F,
    ) -> Result<T, E>
    where
        F: FnMut(Db) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<DbError> + StdError + 'static,
    {
        if let Some(handle) = &self.tx {
            return self.savepoint(handle, f).await;
        }
        let attempts = options.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let conn = crate::exec::begin(self, options).await?;
            let handle = Arc::new(TxHandle {
                conn: tokio::sync::Mutex::new(conn),
                depth: AtomicUsize::new(0),
                after_commit: Mutex::new(Vec::new()),
            });
            let tx = Db {
                shared: self.shared.clone(),
                tx: Some(handle.clone()),
            };
            if let Some(level) = options.isolation
                && tx.backend() == crate::Backend::Postgres
            {
                tx.statement(level.sql(), vec![]).await?;
            }
            let outcome = AssertUnwindSafe(f(tx)).catch_unwind().await;
            let conn = std::mem::replace(&mut *handle.conn.lock().await, TxConn::Finished);
            match outcome {
                Ok(Ok(value)) => match commit(conn).await {
                    Ok(()) => {
                        let callbacks = std::mem::take(&mut *lock(&handle.after_commit));
                        for callback in callbacks {
                            callback().await;
                        }
                        return Ok(value);
                    }
                    Err(e) if e.is_retryable() && attempt < attempts => continue,
                    Err(e) => return Err(e.into()),
                },
                Ok(Err(err)) => {
                    rollback(conn).await;
                    if is_retryable(&err) && attempt < attempts {
                        tracing::debug!(
                            attempt,
                            "retrying transaction after a deadlock or serialization failure"
                        );
                        continue;
                    }
                    return Err(err);
                }
                Err(panic) => {
                    rollback(conn).await;
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }

    async fn savepoint<F, Fut, T, E>(&self, handle: &Arc<TxHandle>, mut f: F) -> Result<T, E>
    where
        F: FnMut(Db) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<DbError> + StdError + 'static,
    {
        let depth = handle.depth.fetch_add(1, Ordering::SeqCst) + 1;
        let name = format!("foundry_sp_{depth}");
        let result = async {
            self.statement(&format!("SAVEPOINT {name}"), vec![]).await?;
            let outcome = AssertUnwindSafe(f(self.clone())).catch_unwind().await;
            match outcome {
                Ok(Ok(value)) => {
                    self.statement(&format!("RELEASE SAVEPOINT {name}"), vec![])
                        .await?;
                    Ok(value)
                }
                Ok(Err(err)) => {
                    self.statement(&format!("ROLLBACK TO SAVEPOINT {name}"), vec![])
                        .await?;
                    self.statement(&format!("RELEASE SAVEPOINT {name}"), vec![])
                        .await?;
                    Err(err)
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        .await;
        handle.depth.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Run `callback` after the outermost transaction commits (immediately when this handle is
    /// not in a transaction). Dropped if the transaction rolls back. Queued jobs and events
    /// use this so nothing is dispatched for data that never existed.
    pub async fn after_commit<F, Fut>(&self, callback: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match &self.tx {
            Some(handle) => lock(&handle.after_commit).push(Box::new(move || Box::pin(callback()))),
            None => callback().await,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn commit(conn: TxConn) -> DbResult<()> {
    let result = match conn {
        TxConn::Sqlite(t) => t.commit().await,
        TxConn::SqliteForeignKeysOff(c) => return c.commit().await,
        #[cfg(feature = "postgres")]
        TxConn::Postgres(t) => t.commit().await,
        TxConn::Finished => return Err(DbError::TransactionFinished),
    };
    result.map_err(|e| DbError::sqlx("commit", e))
}

async fn rollback(conn: TxConn) {
    let result = match conn {
        TxConn::Sqlite(t) => t.rollback().await,
        TxConn::SqliteForeignKeysOff(c) => {
            c.rollback().await;
            Ok(())
        }
        #[cfg(feature = "postgres")]
        TxConn::Postgres(t) => t.rollback().await,
        TxConn::Finished => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "rollback failed");
    }
}
