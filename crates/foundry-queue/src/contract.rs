//! The driver seam: [`QueueDriver`] moves payloads through queues, [`JobStore`] keeps what
//! outlives a job (statuses, unique keys, failed jobs, batches). Each driver implements both,
//! in one file under `driver/`, so a connection's jobs and their bookkeeping live in one place.

use std::time::Duration;

use foundry_core::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::error::QueueResult;

/// A job taken off a queue by a worker; it stays reserved until finished or released, or
/// until `retry_after` passes, when it becomes available again.
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The driver's handle on the reservation (a row id, a sorted-set member, …).
    pub handle: String,
    /// The job's id.
    pub uuid: String,
    /// The queue it came from.
    pub queue: String,
    /// The payload as stored (JSON of [`crate::Payload`], unless it was corrupted).
    pub payload: String,
    /// How many times the job has been reserved, this time included.
    pub attempts: u32,
}

/// A job to put on a queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The job's id.
    pub uuid: String,
    /// The queue.
    pub queue: String,
    /// The payload JSON.
    pub payload: String,
    /// When it becomes available, in milliseconds since the epoch.
    pub available_at_ms: i64,
}

/// Queue operations: push, reserve, finish, release. Every method is atomic on its backend.
pub trait QueueDriver: Send + Sync {
    /// Add jobs (a batch's jobs arrive together).
    fn push(&self, jobs: Vec<NewJob>) -> BoxFuture<'_, QueueResult<()>>;

    /// Reserve up to `max` available jobs, trying `queues` in order (strict priority): a later
    /// queue is only looked at when the earlier ones have nothing available. Jobs whose
    /// reservation expired (`retry_after`) are available again. Each reservation counts as an
    /// attempt.
    fn pop<'a>(
        &'a self,
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>>;

    /// Remove a reserved job for good and record its final status.
    fn finish<'a>(&'a self, job: &'a Reserved, status: JobStatus)
    -> BoxFuture<'a, QueueResult<()>>;

    /// Finish several reserved jobs at once (a worker acknowledges the jobs that completed
    /// since its last look in one go). The default finishes them one by one.
    fn finish_many<'a>(
        &'a self,
        jobs: &'a [Reserved],
        status: JobStatus,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            for job in jobs {
                self.finish(job, status).await?;
            }
            Ok(())
        })
    }

    /// Finish the succeeded jobs `done` (as [`QueueDriver::finish_many`]) and reserve up to
    /// `max` jobs (as [`QueueDriver::pop`]) in one go: a busy worker acknowledges and takes
    /// jobs in one round trip. The default makes the two calls; a failure may leave `done`
    /// unfinished, and finishing them again is harmless.
    fn finish_and_pop<'a>(
        &'a self,
        done: &'a [Reserved],
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>> {
        Box::pin(async move {
            self.finish_many(done, JobStatus::Succeeded).await?;
            self.pop(queues, max).await
        })
    }

    /// Put a reserved job back, available at `available_at_ms`; its attempts are kept.
    fn release<'a>(
        &'a self,
        job: &'a Reserved,
        available_at_ms: i64,
    ) -> BoxFuture<'a, QueueResult<()>>;

    /// Jobs on `queue`: ready, delayed and reserved.
    fn size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>>;

    /// Delete every job on `queue`; returns how many there were.
    fn clear<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>>;

    /// Wait until a job may be available on `queues`, at most `max`. The default sleeps;
    /// drivers with wake-ups (LISTEN/NOTIFY, a blocking pop) return as soon as a job arrives.
    fn wait<'a>(&'a self, queues: &'a [String], max: Duration) -> BoxFuture<'a, ()> {
        let _ = queues;
        Box::pin(tokio::time::sleep(max))
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting on its queue (or delayed, or released for a retry).
    Queued,
    /// Reserved by a worker.
    Running,
    /// Finished without error.
    Succeeded,
    /// Failed for good (it is in the failed jobs).
    Failed,
    /// Cancelled before it ran.
    Cancelled,
}

impl JobStatus {
    /// `queued`, `running`, …
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A job that failed for good (Laravel's `failed_jobs` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedJob {
    /// The job's id.
    pub uuid: String,
    /// The queue connection it ran on.
    pub connection: String,
    /// Its queue.
    pub queue: String,
    /// The payload as stored.
    pub payload: String,
    /// The last error.
    pub exception: String,
    /// When it failed, in milliseconds since the epoch.
    pub failed_at_ms: i64,
}

/// A batch as stored (`job_batches`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// The batch's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How many jobs it has.
    pub total_jobs: u64,
    /// Jobs that have not succeeded yet.
    pub pending_jobs: u64,
    /// Jobs that failed for good.
    pub failed_jobs: u64,
    /// Ids of the failed jobs.
    pub failed_job_ids: Vec<String>,
    /// Callbacks and flags (JSON of the batch options).
    pub options: serde_json::Value,
    /// When it was cancelled (milliseconds since the epoch).
    pub cancelled_at_ms: Option<i64>,
    /// When it was created.
    pub created_at_ms: i64,
    /// When every job had run.
    pub finished_at_ms: Option<i64>,
}

/// Bookkeeping that outlives a single job: statuses, unique keys, failed jobs, batches.
pub trait JobStore: Send + Sync {
    /// The status of job `uuid`, if the store knows it.
    fn status<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<Option<JobStatus>>>;

    /// Cancel a job that has not started; `false` when it is running or already done.
    fn cancel<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>>;

    /// Take the unique key `key` for `ttl_ms`; `false` when someone holds it.
    fn acquire_unique<'a>(&'a self, key: &'a str, ttl_ms: u64) -> BoxFuture<'a, QueueResult<bool>>;

    /// Give the unique key back.
    fn release_unique<'a>(&'a self, key: &'a str) -> BoxFuture<'a, QueueResult<()>>;

    /// Record a failed job.
    fn insert_failed(&self, job: FailedJob) -> BoxFuture<'_, QueueResult<()>>;

    /// Every failed job, newest first.
    fn failed_jobs(&self) -> BoxFuture<'_, QueueResult<Vec<FailedJob>>>;

    /// Delete one failed job; `false` when there is none with this id.
    fn forget_failed<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>>;

    /// Delete every failed job; returns how many there were.
    fn flush_failed(&self) -> BoxFuture<'_, QueueResult<u64>>;

    /// Store a new batch.
    fn create_batch<'a>(&'a self, batch: &'a BatchRecord) -> BoxFuture<'a, QueueResult<()>>;

    /// The batch `id`.
    fn find_batch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>>;

    /// Count one job of the batch as succeeded (`failed_job: None`) or failed, atomically, and
    /// return the batch afterwards. `now_ms` stamps `finished_at` when every job has run.
    fn record_batch_job<'a>(
        &'a self,
        id: &'a str,
        failed_job: Option<&'a str>,
        now_ms: i64,
    ) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>>;

    /// Mark the batch cancelled: its remaining jobs are skipped.
    fn cancel_batch<'a>(&'a self, id: &'a str, now_ms: i64) -> BoxFuture<'a, QueueResult<()>>;
}

/// A connection's driver: both halves.
pub trait Driver: QueueDriver + JobStore {}
impl<T: QueueDriver + JobStore> Driver for T {}
