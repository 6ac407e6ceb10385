//! The one place where SQL text reaches the driver.
//!
//! AUDIT: sqlx 0.9 accepts only `&'static str` SQL unless a string is wrapped in
//! [`sqlx::AssertSqlSafe`]. Every string passed here is built by sea-query (identifiers quoted
//! and escaped by [`crate::query::iden`], values bound as parameters), by the schema builder
//! (which quotes identifiers the same way), or is raw SQL that the *app* wrote and passed to
//! [`Db::raw`] / [`Db::statement`] with its values bound separately. No value from a request
//! is ever formatted into SQL text. Do not call `AssertSqlSafe` anywhere else in this crate.

use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sea_query::Values;
use sea_query_sqlx::SqlxValues;
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::connection::{Db, Pool};
use crate::error::{DbError, DbResult};
use crate::row::{Row, RowInner};
use crate::transaction::TxConn;

fn audited<S>(sql: S) -> AssertSqlSafe<S> {
    AssertSqlSafe(sql)
}

/// SQL text on its way to the driver, shared with the error message without a copy: built
/// per query, or built once and cached (a model's `find`), which then costs no allocation.
#[derive(Clone)]
pub(crate) enum Sql {
    /// Built for this query. `Arc<String>`, not `Arc<str>`: sqlx takes it as is, where
    /// `Arc<str>` would copy the text once more.
    #[allow(clippy::rc_buffer)]
    Built(Arc<String>),
    /// Built once and kept.
    Cached(Arc<str>),
}

impl From<String> for Sql {
    fn from(sql: String) -> Self {
        Self::Built(Arc::new(sql))
    }
}

impl From<Arc<str>> for Sql {
    fn from(sql: Arc<str>) -> Self {
        Self::Cached(sql)
    }
}

impl Sql {
    fn as_str(&self) -> &str {
        match self {
            Self::Built(sql) => sql,
            Self::Cached(sql) => sql,
        }
    }

    /// The text as the driver takes it (see the audit note above).
    fn audited(self) -> SqlStr {
        match self {
            Self::Built(sql) => audited(sql).into_sql_str(),
            Self::Cached(sql) => audited(sql).into_sql_str(),
        }
    }
}

/// Widen small integer and float values so every integer binds as `INT8` and every float as
/// `FLOAT8`. PostgreSQL caches prepared statements with their parameter types: binding an
/// `i32` where the cached statement saw an `i64` fails with "incorrect binary data format".
fn normalize(values: Values) -> Values {
    use sea_query::Value as V;
    Values(
        values
            .0
            .into_iter()
            .map(|v| match v {
                V::TinyInt(i) => V::BigInt(i.map(i64::from)),
                V::SmallInt(i) => V::BigInt(i.map(i64::from)),
                V::Int(i) => V::BigInt(i.map(i64::from)),
                V::TinyUnsigned(i) => V::BigInt(i.map(i64::from)),
                V::SmallUnsigned(i) => V::BigInt(i.map(i64::from)),
                V::Unsigned(i) => V::BigInt(i.map(i64::from)),
                // Values above i64::MAX would make sea-query-sqlx panic; saturate instead.
                V::BigUnsigned(i) => V::BigInt(i.map(|i| i64::try_from(i).unwrap_or(i64::MAX))),
                V::Float(f) => V::Double(f.map(f64::from)),
                other => other,
            })
            .collect(),
    )
}

fn ctx(sql: &str) -> String {
    let mut short: String = sql.chars().take(300).collect();
    if short.len() < sql.len() {
        short.push('…');
    }
    format!("query failed: {short}")
}

macro_rules! run {
    ($db:expr, $sql:expr, $values:expr, |$q:ident, $e:ident| $body:expr, $wrap_sqlite:expr, $wrap_pg:expr) => {{
        let sql: Sql = $sql.into();
        tracing::debug!(target: "foundry_db::sql", sql = %sql.as_str(), "query");
        $db.shared.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sql_for_error = sql.clone();
        let result = match &$db.tx {
            Some(tx) => {
                let mut guard = tx.conn.lock().await;
                match &mut *guard {
                    #[cfg(feature = "postgres")]
                    TxConn::Postgres(t) => {
                        let $q = sqlx::query_with::<sqlx::Postgres, _>(sql.audited(), SqlxValues(normalize($values)));
                        let $e = &mut **t;
                        $body.map($wrap_pg)
                    }
                    conn => {
                        let $e = conn.sqlite().ok_or(DbError::TransactionFinished)?;
                        let $q = sqlx::query_with::<sqlx::Sqlite, _>(sql.audited(), SqlxValues(normalize($values)));
                        $body.map($wrap_sqlite)
                    }
                }
            }
            None => match &$db.shared.pool {
                Pool::Sqlite(p) => {
                    let $q = sqlx::query_with::<sqlx::Sqlite, _>(sql.audited(), SqlxValues(normalize($values)));
                    let $e = p;
                    $body.map($wrap_sqlite)
                }
                #[cfg(feature = "postgres")]
                Pool::Postgres(p) => {
                    let $q = sqlx::query_with::<sqlx::Postgres, _>(sql.audited(), SqlxValues(normalize($values)));
                    let $e = p;
                    $body.map($wrap_pg)
                }
            },
        };
        result.map_err(|e| DbError::sqlx(ctx(sql_for_error.as_str()), e))
    }};
}

/// Run a statement; returns the number of rows affected.
pub(crate) async fn execute(db: &Db, sql: impl Into<Sql>, values: Values) -> DbResult<u64> {
    run!(
        db,
        sql,
        values,
        |q, e| q.execute(e).await,
        |r: sqlx::sqlite::SqliteQueryResult| r.rows_affected(),
        |r: sqlx::postgres::PgQueryResult| r.rows_affected()
    )
}

/// Run a query and collect every row.
pub(crate) async fn fetch_all(db: &Db, sql: impl Into<Sql>, values: Values) -> DbResult<Vec<Row>> {
    run!(
        db,
        sql,
        values,
        // Each row is wrapped as it arrives: collecting the driver's rows first and then
        // wrapping them built the list twice.
        |q, e| q
            .fetch(e)
            .map_ok(IntoRow::into_row)
            .try_collect::<Vec<Row>>()
            .await,
        |rows: Vec<Row>| rows,
        |rows: Vec<Row>| rows
    )
}

/// A driver's row wrapped as a [`Row`].
trait IntoRow {
    fn into_row(self) -> Row;
}

impl IntoRow for sqlx::sqlite::SqliteRow {
    fn into_row(self) -> Row {
        Row(RowInner::Sqlite(self))
    }
}

#[cfg(feature = "postgres")]
impl IntoRow for sqlx::postgres::PgRow {
    fn into_row(self) -> Row {
        Row(RowInner::Postgres(self))
    }
}

/// Run a query and return its first row, if any.
pub(crate) async fn fetch_optional(
    db: &Db,
    sql: impl Into<Sql>,
    values: Values,
) -> DbResult<Option<Row>> {
    run!(
        db,
        sql,
        values,
        |q, e| q.fetch_optional(e).await,
        |row: Option<sqlx::sqlite::SqliteRow>| row.map(IntoRow::into_row),
        |row: Option<sqlx::postgres::PgRow>| row.map(IntoRow::into_row)
    )
}

/// Stream rows one at a time. A task reads from the driver and hands rows over a bounded
/// channel, so the stream owns nothing borrowed and memory stays flat for large results.
pub(crate) fn fetch_stream(
    db: &Db,
    sql: String,
    values: Values,
) -> BoxStream<'static, DbResult<Row>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<DbResult<Row>>(64);
    let db = db.clone();
    db.shared
        .statements
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tokio::spawn(async move {
        let context = ctx(&sql);
        macro_rules! pump {
            ($stream:expr) => {{
                let mut stream = $stream;
                while let Some(item) = stream.next().await {
                    let item = item
                        .map(IntoRow::into_row)
                        .map_err(|e| DbError::sqlx(context.clone(), e));
                    if sender.send(item).await.is_err() {
                        break; // the consumer dropped the stream
                    }
                }
            }};
        }
        match &db.tx {
            Some(tx) => {
                let mut guard = tx.conn.lock().await;
                match &mut *guard {
                    #[cfg(feature = "postgres")]
                    TxConn::Postgres(t) => pump!(
                        sqlx::query_with::<sqlx::Postgres, _>(
                            audited(sql),
                            SqlxValues(normalize(values))
                        )
                        .fetch(&mut **t)
                    ),
                    conn => match conn.sqlite() {
                        Some(conn) => pump!(
                            sqlx::query_with::<sqlx::Sqlite, _>(
                                audited(sql),
                                SqlxValues(normalize(values))
                            )
                            .fetch(conn)
                        ),
                        None => {
                            let _ = sender.send(Err(DbError::TransactionFinished)).await;
                        }
                    },
                }
            }
            None => match &db.shared.pool {
                Pool::Sqlite(p) => pump!(
                    sqlx::query_with::<sqlx::Sqlite, _>(
                        audited(sql),
                        SqlxValues(normalize(values))
                    )
                    .fetch(p)
                ),
                #[cfg(feature = "postgres")]
                Pool::Postgres(p) => pump!(
                    sqlx::query_with::<sqlx::Postgres, _>(
                        audited(sql),
                        SqlxValues(normalize(values))
                    )
                    .fetch(p)
                ),
            },
        }
    });
    futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// `SET search_path TO "a", "b"` with each schema quoted as an identifier.
#[cfg(feature = "postgres")]
pub(crate) fn search_path_sql(path: &str) -> String {
    let schemas: Vec<String> = path
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
        .collect();
    format!("SET search_path TO {}", schemas.join(", "))
}

/// Run one statement on a bare PostgreSQL connection (used by the pool's `after_connect`).
#[cfg(feature = "postgres")]
pub(crate) async fn execute_on_pg_conn(
    conn: &mut sqlx::PgConnection,
    sql: String,
) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute(audited(sql)).await.map(|_| ())
}

/// Begin a transaction on the pool: `BEGIN` (or `BEGIN IMMEDIATE` for SQLite when
/// `immediate`; with foreign keys off when asked).
pub(crate) async fn begin(
    db: &Db,
    options: crate::transaction::TransactionOptions,
) -> DbResult<TxConn> {
    match &db.shared.pool {
        Pool::Sqlite(p) if options.sqlite_foreign_keys_off => {
            crate::transaction::ForeignKeysOff::begin(p)
                .await
                .map(TxConn::SqliteForeignKeysOff)
        }
        Pool::Sqlite(p) => {
            let tx = if options.immediate {
                p.begin_with("BEGIN IMMEDIATE").await
            } else {
                p.begin().await
            };
            tx.map(TxConn::Sqlite)
                .map_err(|e| DbError::sqlx("begin transaction", e))
        }
        #[cfg(feature = "postgres")]
        Pool::Postgres(p) => p
            .begin()
            .await
            .map(TxConn::Postgres)
            .map_err(|e| DbError::sqlx("begin transaction", e)),
    }
}
