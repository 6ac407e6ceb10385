//! `driver = "database"`: the `jobs` table (and its companions, see [`crate::migrations`]) on
//! a `[database]` connection.
//!
//! Reserving is one `UPDATE … RETURNING` of the oldest available rows. On SQLite it runs
//! inside `BEGIN IMMEDIATE`, so concurrent workers (threads or processes) queue on the write
//! lock instead of failing with BUSY half-way. On PostgreSQL the inner `SELECT … FOR UPDATE
//! SKIP LOCKED` lets workers reserve different rows at the same time, and a push sends
//! `NOTIFY foundry_jobs` so idle workers wake at once instead of polling (`LISTEN` on a
//! connection of their own). A row whose reservation is older than `retry_after` is available
//! again: that is how a job whose worker died runs again.
//!
//! A worker's acknowledgements ride along with its next reservation: one transaction on
//! SQLite, one statement on PostgreSQL, which commits without waiting for the WAL flush (see
//! `RELAXED`).
//!
//! Statuses: `queued` and `running` are read off the `jobs` row itself; final statuses go to
//! `job_statuses` in the same transaction that deletes the row.

use std::time::Duration;

use foundry_core::{BoxFuture, Clock};
use foundry_db::{Backend, Db, DbError, Row, TransactionOptions, Value};
use tokio::sync::Notify;

use crate::config::DatabaseConfig;
use crate::contract::{BatchRecord, FailedJob, JobStatus, JobStore, NewJob, QueueDriver, Reserved};
use crate::error::{QueueError, QueueResult};

/// The channel pushes notify and idle PostgreSQL workers listen on.
const CHANNEL: &str = "foundry_jobs";

/// The database driver.
pub struct DatabaseDriver {
    db: Db,
    clock: Clock,
    retry_after_ms: i64,
    /// When expired reservations were last looked for (milliseconds since the epoch).
    last_sweep_ms: std::sync::atomic::AtomicI64,
    /// Wakes workers of this process at once when this process pushes.
    arrived: Notify,
    /// SQLite: this process's writes take turns here, so they queue in memory instead of in
    /// SQLite's busy handler, which sleeps at least a millisecond per retry.
    writing: tokio::sync::Mutex<()>,
    #[cfg(feature = "postgres")]
    listener: tokio::sync::Mutex<Option<sqlx::postgres::PgListener>>,
}

impl std::fmt::Debug for DatabaseDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseDriver")
            .field("db", &self.db)
            .field("retry_after_ms", &self.retry_after_ms)
            .finish_non_exhaustive()
    }
}

fn immediate() -> TransactionOptions {
    TransactionOptions {
        immediate: true,
        ..TransactionOptions::default()
    }
}

impl DatabaseDriver {
    /// A driver on `db` with `config`'s settings.
    pub fn new(db: Db, clock: Clock, config: &DatabaseConfig) -> Self {
        Self {
            db,
            clock,
            retry_after_ms: super::millis(config.retry_after_secs),
            last_sweep_ms: std::sync::atomic::AtomicI64::new(0),
            arrived: Notify::new(),
            writing: tokio::sync::Mutex::new(()),
            #[cfg(feature = "postgres")]
            listener: tokio::sync::Mutex::new(None),
        }
    }

    fn now(&self) -> i64 {
        self.clock.unix_millis()
    }

    /// Take this process's turn to write (SQLite only; PostgreSQL writers do not wait on
    /// each other here).
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.db.backend() {
            Backend::Sqlite => Some(self.writing.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Reserve up to `max` jobs of `queue`, finishing the succeeded jobs `done` in the same
    /// transaction: expired reservations first (looked for at most once a second, so a busy
    /// queue is not slowed by the sweep), then ready jobs in the order they became available,
    /// both walking the `(queue, reserved_at, available_at, id)` index.
    async fn reserve(
        &self,
        queue: &str,
        max: usize,
        mut done: &[Reserved],
    ) -> QueueResult<Vec<Reserved>> {
        let now = self.now();
        let mut jobs = Vec::new();
        let last = self
            .last_sweep_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000 || now < last {
            self.last_sweep_ms
                .store(now, std::sync::atomic::Ordering::Relaxed);
            let stale = now.saturating_sub(self.retry_after_ms);
            jobs = self
                .reserve_where(
                    queue,
                    max,
                    "reserved_at <= ?",
                    Value::from(stale),
                    "reserved_at, available_at, id",
                    done,
                )
                .await?;
            done = &[];
        }
        if jobs.len() < max || !done.is_empty() {
            let ready = self
                .reserve_where(
                    queue,
                    max - jobs.len(),
                    "reserved_at IS NULL AND available_at <= ?",
                    Value::from(now),
                    // `reserved_at` first although it is NULL on every row: PostgreSQL does not
                    // treat `IS NULL` as an equality, so without it the ORDER BY does not match
                    // the index and every ready row is fetched and sorted to find the first few.
                    "reserved_at, available_at, id",
                    done,
                )
                .await?;
            jobs.extend(ready);
        }
        Ok(jobs)
    }

    async fn reserve_where(
        &self,
        queue: &str,
        max: usize,
        condition: &str,
        bound: Value,
        order: &str,
        done: &[Reserved],
    ) -> QueueResult<Vec<Reserved>> {
        let now = self.now();
        type Returned = (i64, String, String, String, i32);
        let rows: Vec<Returned> = match self.db.backend() {
            Backend::Postgres => {
                // One statement, one commit, whose text does not change with the number of jobs
                // acknowledged (so each pooled connection prepares it once per limit): the
                // acknowledgements ride along as CTEs (`PG_FINISH`). The limit is written out:
                // bound, PostgreSQL finds the generic plan of `LIMIT $n` dearer than a custom
                // one and plans the statement again on every execution. CTEs all see the rows as
                // they were before the statement, so a job acknowledged after its reservation
                // expired is excluded by hand, or it would be reserved again. The commit does
                // not wait for the WAL flush (`RELAXED`); the LEFT JOIN from the one-row
                // `relaxed` runs set_config even when nothing is reserved (that row of NULLs is
                // dropped below).
                let sql = format!(
                    "WITH {PG_FINISH}, reserved AS (\
                     UPDATE jobs SET reserved_at = ?, attempts = attempts + 1 WHERE id IN (\
                     SELECT id FROM jobs WHERE queue = ? AND {condition} \
                     AND id NOT IN (SELECT id FROM finished) ORDER BY {order} \
                     LIMIT {max} FOR UPDATE SKIP LOCKED) RETURNING id, uuid, queue, payload, attempts) \
                     SELECT r.id, r.uuid, r.queue, r.payload, r.attempts \
                     FROM (SELECT {RELAXED}) AS relaxed LEFT JOIN reserved r ON true"
                );
                let mut values = pg_finish_values(done, JobStatus::Succeeded, now);
                values.extend([Value::from(now), Value::from(queue.to_owned()), bound]);
                let rows: Vec<MaybeReserved> = self.db.select(&sql, values).await?;
                rows.into_iter()
                    .filter_map(|(id, uuid, queue, payload, attempts)| {
                        Some((id?, uuid?, queue?, payload?, attempts?))
                    })
                    .collect()
            }
            Backend::Sqlite => {
                let finished =
                    (!done.is_empty()).then(|| finish_statements(done, JobStatus::Succeeded, now));
                // The limit is written out, not bound: SQLite plans with a bound LIMIT's value
                // and prepares the statement again whenever it changes (every other round here).
                let reserve = format!(
                    "UPDATE jobs SET reserved_at = ?, attempts = attempts + 1 WHERE id IN (\
                     SELECT id FROM jobs WHERE queue = ? AND {condition} ORDER BY {order} \
                     LIMIT {max}) RETURNING id, uuid, queue, payload, attempts"
                );
                let values = vec![Value::from(now), Value::from(queue.to_owned()), bound];
                let _turn = self.write_turn().await;
                self.db
                    .transaction_with(immediate(), |tx| {
                        let (values, reserve, finished) =
                            (values.clone(), reserve.clone(), finished.clone());
                        async move {
                            if let Some(f) = finished {
                                tx.statement(&f.delete, f.ids).await?;
                                tx.statement(&f.upsert, f.statuses).await?;
                            }
                            tx.select(&reserve, values).await.map_err(QueueError::from)
                        }
                    })
                    .await?
            }
        };
        let mut jobs: Vec<Reserved> = rows
            .into_iter()
            .map(|(id, uuid, queue, payload, attempts)| Reserved {
                handle: id.to_string(),
                uuid,
                queue,
                payload,
                attempts: u32::try_from(attempts).unwrap_or(0),
            })
            .collect();
        // RETURNING does not promise an order; ids follow the order jobs were queued.
        jobs.sort_by_key(|j| j.handle.parse::<i64>().unwrap_or_default());
        Ok(jobs)
    }

    async fn put_status(tx: &Db, uuid: &str, status: JobStatus, now: i64) -> Result<u64, DbError> {
        tx.statement(
            "INSERT INTO job_statuses (uuid, status, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (uuid) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
            vec![uuid.to_owned().into(), status.as_str().into(), now.into()],
        )
        .await
    }

    #[cfg(feature = "postgres")]
    async fn listen(&self, max: Duration) -> Result<(), sqlx::Error> {
        let foundry_db::Pool::Postgres(pool) = self.db.pool() else {
            tokio::time::sleep(max).await;
            return Ok(());
        };
        let mut guard = self.listener.lock().await;
        if guard.is_none() {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen(CHANNEL).await?;
            *guard = Some(listener);
        }
        let Some(listener) = guard.as_mut() else {
            return Ok(());
        };
        tokio::select! {
            received = tokio::time::timeout(max, listener.recv()) => {
                if let Ok(Err(err)) = received {
                    *guard = None;
                    return Err(err);
                }
            }
            () = self.arrived.notified() => {}
        }
        Ok(())
    }
}

/// PostgreSQL: reservations and acknowledgements commit without waiting for the WAL to reach
/// the disk (`synchronous_commit = off` for that transaction only). A server crash may forget
/// the last ones (a fraction of a second's worth): a forgotten acknowledgement means the job
/// runs again, a forgotten reservation that it is available again, which at-least-once
/// delivery allows. Pushes keep the server's setting, so a dispatched job is never lost.
const RELAXED: &str = "set_config('synchronous_commit', 'off', true)";

/// A row of PostgreSQL's reserve statement: all NULL when nothing was reserved.
type MaybeReserved = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
);

/// PostgreSQL: CTEs that finish the jobs given as one JSON parameter (`[{"id", "uuid"}]`, see
/// [`pg_finish_values`]): delete their rows (`finished`, their ids) and record their final
/// status. `= ANY(ARRAY(…))` keeps the delete on the primary key whatever the planner guesses
/// about the JSON.
const PG_FINISH: &str = "done AS (SELECT * FROM json_to_recordset(?::json) AS d(id bigint, uuid text)), \
     finished AS (DELETE FROM jobs WHERE id = ANY(ARRAY(SELECT id FROM done)) RETURNING id), \
     statuses AS (INSERT INTO job_statuses (uuid, status, updated_at) SELECT uuid, ?, ? FROM done \
     ON CONFLICT (uuid) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at)";

/// The values of [`PG_FINISH`] for `done`.
fn pg_finish_values(done: &[Reserved], status: JobStatus, now: i64) -> Vec<Value> {
    let done: Vec<serde_json::Value> = done
        .iter()
        .map(|job| {
            serde_json::json!({
                "id": job.handle.parse::<i64>().unwrap_or_default(),
                "uuid": job.uuid,
            })
        })
        .collect();
    vec![
        Value::from(serde_json::Value::Array(done).to_string()),
        Value::from(status.as_str()),
        Value::from(now),
    ]
}

/// SQLite: the statements that finish `done`: delete their rows, record their final status.
#[derive(Clone)]
struct Finish {
    delete: String,
    ids: Vec<Value>,
    upsert: String,
    statuses: Vec<Value>,
}

fn finish_statements(done: &[Reserved], status: JobStatus, now: i64) -> Finish {
    let marks = vec!["?"; done.len()].join(", ");
    let rows = vec!["(?, ?, ?)"; done.len()].join(", ");
    let mut statuses = Vec::with_capacity(done.len() * 3);
    for job in done {
        statuses.push(Value::from(job.uuid.clone()));
        statuses.push(Value::from(status.as_str()));
        statuses.push(Value::from(now));
    }
    Finish {
        delete: format!("DELETE FROM jobs WHERE id IN ({marks})"),
        ids: done
            .iter()
            .map(|j| Value::from(j.handle.parse::<i64>().unwrap_or_default()))
            .collect(),
        upsert: format!(
            "INSERT INTO job_statuses (uuid, status, updated_at) VALUES {rows} \
             ON CONFLICT (uuid) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at"
        ),
        statuses,
    }
}

fn batch_of(row: &Row) -> QueueResult<BatchRecord> {
    let ids: String = row.get("failed_job_ids")?;
    let options: Option<String> = row.get("options")?;
    let count =
        |name: &str| -> QueueResult<u64> { Ok(u64::try_from(row.get::<i64>(name)?).unwrap_or(0)) };
    Ok(BatchRecord {
        id: row.get("id")?,
        name: row.get("name")?,
        total_jobs: count("total_jobs")?,
        pending_jobs: count("pending_jobs")?,
        failed_jobs: count("failed_jobs")?,
        failed_job_ids: serde_json::from_str(&ids).unwrap_or_default(),
        options: options
            .and_then(|o| serde_json::from_str(&o).ok())
            .unwrap_or(serde_json::Value::Null),
        cancelled_at_ms: row.get("cancelled_at")?,
        created_at_ms: row.get("created_at")?,
        finished_at_ms: row.get("finished_at")?,
    })
}

const BATCH_COLUMNS: &str = "id, name, total_jobs, pending_jobs, failed_jobs, failed_job_ids, options, \
                             cancelled_at, created_at, finished_at";

impl QueueDriver for DatabaseDriver {
    fn push(&self, jobs: Vec<NewJob>) -> BoxFuture<'_, QueueResult<()>> {
        Box::pin(async move {
            let now = self.now();
            let _turn = self.write_turn().await;
            // One statement per chunk: a batch of a thousand jobs is a few round trips.
            for chunk in jobs.chunks(100) {
                let mut sql = String::from(
                    "INSERT INTO jobs (uuid, queue, payload, attempts, reserved_at, available_at, created_at) VALUES ",
                );
                let mut values = Vec::with_capacity(chunk.len() * 5);
                for (i, job) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str("(?, ?, ?, 0, NULL, ?, ?)");
                    values.push(Value::from(job.uuid.clone()));
                    values.push(Value::from(job.queue.clone()));
                    values.push(Value::from(job.payload.clone()));
                    values.push(Value::from(job.available_at_ms));
                    values.push(Value::from(now));
                }
                if self.db.backend() == Backend::Postgres {
                    // Idle workers of every process wake up: one notification per queue and
                    // statement, not one per job.
                    let sql = format!(
                        "WITH pushed AS ({sql} RETURNING queue) \
                         SELECT pg_notify('{CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM pushed) q"
                    );
                    self.db.statement(&sql, values).await?;
                } else {
                    self.db.statement(&sql, values).await?;
                }
            }
            self.arrived.notify_waiters();
            Ok(())
        })
    }

    fn pop<'a>(
        &'a self,
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for queue in queues {
                if out.len() >= max {
                    break;
                }
                out.extend(self.reserve(queue, max - out.len(), &[]).await?);
            }
            Ok(out)
        })
    }

    fn finish<'a>(
        &'a self,
        job: &'a Reserved,
        status: JobStatus,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let id: i64 = job.handle.parse().unwrap_or_default();
            let now = self.now();
            if self.db.backend() == Backend::Postgres {
                // One statement, one round trip: the delete rides along in a CTE.
                self.db
                    .statement(
                        "WITH finished AS (DELETE FROM jobs WHERE id = ?) \
                         INSERT INTO job_statuses (uuid, status, updated_at) VALUES (?, ?, ?) \
                         ON CONFLICT (uuid) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
                        vec![id.into(), job.uuid.clone().into(), status.as_str().into(), now.into()],
                    )
                    .await?;
                return Ok(());
            }
            let _turn = self.write_turn().await;
            self.db
                .transaction_with(immediate(), |tx| async move {
                    tx.statement("DELETE FROM jobs WHERE id = ?", vec![id.into()])
                        .await?;
                    Self::put_status(&tx, &job.uuid, status, now).await?;
                    Ok::<_, QueueError>(())
                })
                .await
        })
    }

    fn finish_many<'a>(
        &'a self,
        jobs: &'a [Reserved],
        status: JobStatus,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            if jobs.is_empty() {
                return Ok(());
            }
            if self.db.backend() == Backend::Postgres {
                let sql = format!("WITH {PG_FINISH} SELECT {RELAXED}");
                let values = pg_finish_values(jobs, status, self.now());
                let _: Vec<String> = self.db.select(&sql, values).await?;
                return Ok(());
            }
            // One statement each for the deletes and the statuses, one commit for all.
            let f = finish_statements(jobs, status, self.now());
            let _turn = self.write_turn().await;
            self.db
                .transaction_with(immediate(), |tx| {
                    let f = f.clone();
                    async move {
                        tx.statement(&f.delete, f.ids).await?;
                        tx.statement(&f.upsert, f.statuses).await?;
                        Ok::<_, QueueError>(())
                    }
                })
                .await
        })
    }

    fn finish_and_pop<'a>(
        &'a self,
        done: &'a [Reserved],
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut done = done;
            for queue in queues {
                if out.len() >= max && done.is_empty() {
                    break;
                }
                out.extend(self.reserve(queue, max - out.len(), done).await?);
                done = &[];
            }
            Ok(out)
        })
    }

    fn release<'a>(
        &'a self,
        job: &'a Reserved,
        available_at_ms: i64,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let id: i64 = job.handle.parse().unwrap_or_default();
            let _turn = self.write_turn().await;
            self.db
                .statement(
                    "UPDATE jobs SET reserved_at = NULL, available_at = ? WHERE id = ?",
                    vec![available_at_ms.into(), id.into()],
                )
                .await?;
            Ok(())
        })
    }

    fn size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>> {
        Box::pin(async move {
            let n: Vec<i64> = self
                .db
                .select(
                    "SELECT COUNT(*) FROM jobs WHERE queue = ?",
                    vec![queue.to_owned().into()],
                )
                .await?;
            Ok(u64::try_from(n.first().copied().unwrap_or(0)).unwrap_or(0))
        })
    }

    fn clear<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>> {
        Box::pin(async move {
            Ok(self
                .db
                .statement(
                    "DELETE FROM jobs WHERE queue = ?",
                    vec![queue.to_owned().into()],
                )
                .await?)
        })
    }

    fn wait<'a>(&'a self, _queues: &'a [String], max: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            #[cfg(feature = "postgres")]
            if self.db.backend() == Backend::Postgres {
                if let Err(err) = self.listen(max).await {
                    tracing::warn!(error = %err, "LISTEN for queued jobs failed; polling instead");
                    tokio::time::sleep(max.min(Duration::from_secs(1))).await;
                }
                return;
            }
            let _ = tokio::time::timeout(max, self.arrived.notified()).await;
        })
    }
}

impl JobStore for DatabaseDriver {
    fn status<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<Option<JobStatus>>> {
        Box::pin(async move {
            let stale = self.now().saturating_sub(self.retry_after_ms);
            let queued: Vec<(Option<i64>,)> = self
                .db
                .select(
                    "SELECT reserved_at FROM jobs WHERE uuid = ?",
                    vec![uuid.to_owned().into()],
                )
                .await?;
            if let Some((reserved_at,)) = queued.first() {
                return Ok(Some(match reserved_at {
                    Some(at) if *at > stale => JobStatus::Running,
                    _ => JobStatus::Queued,
                }));
            }
            let done: Vec<String> = self
                .db
                .select(
                    "SELECT status FROM job_statuses WHERE uuid = ?",
                    vec![uuid.to_owned().into()],
                )
                .await?;
            Ok(done.first().and_then(|s| JobStatus::parse(s)))
        })
    }

    fn cancel<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let now = self.now();
            self.db
                .transaction_with(immediate(), |tx| async move {
                    let deleted = tx
                        .statement(
                            "DELETE FROM jobs WHERE uuid = ? AND reserved_at IS NULL",
                            vec![uuid.to_owned().into()],
                        )
                        .await?;
                    if deleted > 0 {
                        Self::put_status(&tx, uuid, JobStatus::Cancelled, now).await?;
                    }
                    Ok::<_, QueueError>(deleted > 0)
                })
                .await
        })
    }

    fn acquire_unique<'a>(&'a self, key: &'a str, ttl_ms: u64) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let now = self.now();
            self.db
                .statement(
                    "DELETE FROM job_unique_locks WHERE key = ? AND expires_at <= ?",
                    vec![key.to_owned().into(), now.into()],
                )
                .await?;
            let until = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
            let inserted = self
                .db
                .statement(
                    "INSERT INTO job_unique_locks (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    vec![key.to_owned().into(), until.into()],
                )
                .await?;
            Ok(inserted == 1)
        })
    }

    fn release_unique<'a>(&'a self, key: &'a str) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            self.db
                .statement(
                    "DELETE FROM job_unique_locks WHERE key = ?",
                    vec![key.to_owned().into()],
                )
                .await?;
            Ok(())
        })
    }

    fn insert_failed(&self, job: FailedJob) -> BoxFuture<'_, QueueResult<()>> {
        Box::pin(async move {
            self.db
                .statement(
                    "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING",
                    vec![
                        job.uuid.into(),
                        job.connection.into(),
                        job.queue.into(),
                        job.payload.into(),
                        job.exception.into(),
                        job.failed_at_ms.into(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn failed_jobs(&self) -> BoxFuture<'_, QueueResult<Vec<FailedJob>>> {
        Box::pin(async move {
            let rows: Vec<(String, String, String, String, String, i64)> = self
                .db
                .select(
                    "SELECT uuid, connection, queue, payload, exception, failed_at FROM failed_jobs ORDER BY id DESC",
                    vec![],
                )
                .await?;
            Ok(rows
                .into_iter()
                .map(
                    |(uuid, connection, queue, payload, exception, failed_at_ms)| FailedJob {
                        uuid,
                        connection,
                        queue,
                        payload,
                        exception,
                        failed_at_ms,
                    },
                )
                .collect())
        })
    }

    fn forget_failed<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let n = self
                .db
                .statement(
                    "DELETE FROM failed_jobs WHERE uuid = ?",
                    vec![uuid.to_owned().into()],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn flush_failed(&self) -> BoxFuture<'_, QueueResult<u64>> {
        Box::pin(async move { Ok(self.db.statement("DELETE FROM failed_jobs", vec![]).await?) })
    }

    fn create_batch<'a>(&'a self, batch: &'a BatchRecord) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let count = |n: u64| Value::from(i64::try_from(n).unwrap_or(i64::MAX));
            self.db
                .statement(
                    &format!("INSERT INTO job_batches ({BATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                    vec![
                        batch.id.clone().into(),
                        batch.name.clone().into(),
                        count(batch.total_jobs),
                        count(batch.pending_jobs),
                        count(batch.failed_jobs),
                        serde_json::to_string(&batch.failed_job_ids).unwrap_or_default().into(),
                        Some(batch.options.to_string()).into(),
                        batch.cancelled_at_ms.into(),
                        batch.created_at_ms.into(),
                        batch.finished_at_ms.into(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn find_batch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>> {
        Box::pin(async move {
            let rows = self
                .db
                .select_rows(
                    &format!("SELECT {BATCH_COLUMNS} FROM job_batches WHERE id = ?"),
                    vec![id.to_owned().into()],
                )
                .await?;
            rows.first().map(batch_of).transpose()
        })
    }

    fn record_batch_job<'a>(
        &'a self,
        id: &'a str,
        failed_job: Option<&'a str>,
        now_ms: i64,
    ) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>> {
        Box::pin(async move {
            let lock = if self.db.backend() == Backend::Postgres {
                " FOR UPDATE"
            } else {
                ""
            };
            self.db
                .transaction_with(immediate(), |tx| async move {
                    let rows = tx
                        .select_rows(
                            &format!("SELECT {BATCH_COLUMNS} FROM job_batches WHERE id = ?{lock}"),
                            vec![id.to_owned().into()],
                        )
                        .await?;
                    let Some(row) = rows.first() else {
                        return Ok(None);
                    };
                    let mut batch = batch_of(row)?;
                    match failed_job {
                        None => batch.pending_jobs = batch.pending_jobs.saturating_sub(1),
                        Some(job) => {
                            batch.failed_jobs += 1;
                            batch.failed_job_ids.push(job.to_owned());
                        }
                    }
                    if batch.pending_jobs == batch.failed_jobs && batch.finished_at_ms.is_none() {
                        batch.finished_at_ms = Some(now_ms);
                    }
                    tx.statement(
                        "UPDATE job_batches SET pending_jobs = ?, failed_jobs = ?, failed_job_ids = ?, \
                         finished_at = ? WHERE id = ?",
                        vec![
                            i64::try_from(batch.pending_jobs).unwrap_or(0).into(),
                            i64::try_from(batch.failed_jobs).unwrap_or(0).into(),
                            serde_json::to_string(&batch.failed_job_ids).unwrap_or_default().into(),
                            batch.finished_at_ms.into(),
                            id.to_owned().into(),
                        ],
                    )
                    .await?;
                    Ok::<_, QueueError>(Some(batch))
                })
                .await
        })
    }

    fn cancel_batch<'a>(&'a self, id: &'a str, now_ms: i64) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            self.db
                .statement(
                    "UPDATE job_batches SET cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?",
                    vec![now_ms.into(), id.to_owned().into()],
                )
                .await?;
            Ok(())
        })
    }
}
