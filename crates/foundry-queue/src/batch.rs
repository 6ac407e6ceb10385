//! Chains (jobs one after the other, stopping at the first failure) and batches (jobs in
//! parallel, with `then`/`catch`/`finally` jobs, progress and cancellation).
//!
//! Callbacks are jobs too: they are stored with the chain or batch, so they survive restarts
//! and run on whichever worker finishes the last job. A `catch` or `finally` job sees the
//! failure through [`crate::JobContext::failure`].

use serde::{Deserialize, Serialize};

use crate::contract::BatchRecord;
use crate::error::{QueueError, QueueResult};
use crate::job::{Job, Payload};
use crate::manager::{Connection, QueueManager};

/// A chain being built: `queue.chain().job(a).job(b).catch(c).dispatch().await`.
#[must_use = "a chain does nothing until dispatched"]
pub struct PendingChain<'m> {
    manager: &'m QueueManager,
    jobs: Vec<QueueResult<Payload>>,
    catch: Option<QueueResult<Payload>>,
    connection: Option<String>,
    queue: Option<String>,
}

impl std::fmt::Debug for PendingChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingChain")
            .field("jobs", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

impl<'m> PendingChain<'m> {
    pub(crate) fn new(manager: &'m QueueManager) -> Self {
        Self {
            manager,
            jobs: Vec::new(),
            catch: None,
            connection: None,
            queue: None,
        }
    }

    /// Add a job at the end of the chain.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn job<J: Job>(mut self, job: J) -> Self {
        self.jobs.push(Payload::of(&job));
        self
    }

    /// The job dispatched when a job of the chain fails for good.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn catch<J: Job>(mut self, job: J) -> Self {
        self.catch = Some(Payload::of(&job));
        self
    }

    /// Run every job of the chain on this queue.
    pub fn on_queue(mut self, queue: &str) -> Self {
        self.queue = Some(queue.to_owned());
        self
    }

    /// Use this connection instead of the default.
    pub fn on_connection(mut self, name: &str) -> Self {
        self.connection = Some(name.to_owned());
        self
    }

    /// Queue the first job; returns its id (`None` for an empty chain).
    pub async fn dispatch(self) -> QueueResult<Option<String>> {
        let mut jobs = self.jobs.into_iter().collect::<QueueResult<Vec<_>>>()?;
        if let Some(queue) = &self.queue {
            for job in &mut jobs {
                job.queue = Some(queue.clone());
            }
        }
        if jobs.is_empty() {
            return Ok(None);
        }
        let mut first = jobs.remove(0);
        first.chain = jobs;
        first.chain_catch = self.catch.transpose()?.map(Box::new);
        let connection = self.manager.connection(self.connection.as_deref()).await?;
        Ok(self
            .manager
            .push(&connection, first, None)
            .await?
            .id()
            .map(str::to_owned))
    }
}

/// The callbacks and flags stored with a batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BatchOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) then: Option<Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) catch: Option<Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) finally: Option<Payload>,
    #[serde(default)]
    pub(crate) allow_failures: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) queue: Option<String>,
}

/// A batch being built: `queue.batch().job(a).job(b).then(c).dispatch().await`.
#[must_use = "a batch does nothing until dispatched"]
pub struct PendingBatch<'m> {
    manager: &'m QueueManager,
    name: String,
    jobs: Vec<QueueResult<Payload>>,
    then: Option<QueueResult<Payload>>,
    catch: Option<QueueResult<Payload>>,
    finally: Option<QueueResult<Payload>>,
    allow_failures: bool,
    connection: Option<String>,
    queue: Option<String>,
}

impl std::fmt::Debug for PendingBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBatch")
            .field("name", &self.name)
            .field("jobs", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

impl<'m> PendingBatch<'m> {
    pub(crate) fn new(manager: &'m QueueManager) -> Self {
        Self {
            manager,
            name: String::new(),
            jobs: Vec::new(),
            then: None,
            catch: None,
            finally: None,
            allow_failures: false,
            connection: None,
            queue: None,
        }
    }

    /// Add a job.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn job<J: Job>(mut self, job: J) -> Self {
        self.jobs.push(Payload::of(&job));
        self
    }

    /// Name the batch.
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// Dispatched when every job succeeded.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn then<J: Job>(mut self, job: J) -> Self {
        self.then = Some(Payload::of(&job));
        self
    }

    /// Dispatched on the first failure.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn catch<J: Job>(mut self, job: J) -> Self {
        self.catch = Some(Payload::of(&job));
        self
    }

    /// Dispatched once every job has run, whatever happened.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's dispatch(new Job)"
    )]
    pub fn finally<J: Job>(mut self, job: J) -> Self {
        self.finally = Some(Payload::of(&job));
        self
    }

    /// Keep running the other jobs after a failure (otherwise the first failure cancels the
    /// batch).
    pub fn allow_failures(mut self) -> Self {
        self.allow_failures = true;
        self
    }

    /// Run the batch's jobs and callbacks on this queue.
    pub fn on_queue(mut self, queue: &str) -> Self {
        self.queue = Some(queue.to_owned());
        self
    }

    /// Use this connection instead of the default.
    pub fn on_connection(mut self, name: &str) -> Self {
        self.connection = Some(name.to_owned());
        self
    }

    /// Store the batch and queue its jobs.
    pub async fn dispatch(self) -> QueueResult<Batch> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut jobs = self.jobs.into_iter().collect::<QueueResult<Vec<_>>>()?;
        let options = BatchOptions {
            then: self.then.transpose()?,
            catch: self.catch.transpose()?,
            finally: self.finally.transpose()?,
            allow_failures: self.allow_failures,
            queue: self.queue.clone(),
        };
        let record = BatchRecord {
            id: id.clone(),
            name: self.name,
            total_jobs: jobs.len() as u64,
            pending_jobs: jobs.len() as u64,
            failed_jobs: 0,
            failed_job_ids: Vec::new(),
            options: serde_json::to_value(&options).map_err(|source| QueueError::Serialize {
                job: "batch".to_owned(),
                source,
            })?,
            cancelled_at_ms: None,
            created_at_ms: self.manager.clock().unix_millis(),
            finished_at_ms: None,
        };
        let connection = self.manager.connection(self.connection.as_deref()).await?;
        self.manager.create_batch(&connection, &record).await?;
        let mut new_jobs = Vec::with_capacity(jobs.len());
        for job in &mut jobs {
            job.batch_id = Some(id.clone());
            // Uniqueness does not apply inside batches (as in Laravel).
            job.unique_key = None;
            if let Some(queue) = &self.queue {
                job.queue = Some(queue.clone());
            }
            new_jobs.push(self.manager.new_job(&connection, job, None)?);
        }
        if connection.is_sync() {
            for job in jobs {
                crate::worker::run_inline(self.manager, &connection, job)
                    .await
                    .ok();
            }
        } else if !new_jobs.is_empty() {
            connection.driver().push(new_jobs).await?;
        }
        Ok(Batch::find(&connection, &id).await?.unwrap_or(Batch {
            record,
            connection: connection.name().to_owned(),
        }))
    }
}

/// A batch's state (Laravel's `Bus::findBatch`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    #[serde(flatten)]
    record: BatchRecord,
    connection: String,
}

impl Batch {
    pub(crate) async fn find(connection: &Connection, id: &str) -> QueueResult<Option<Batch>> {
        Ok(connection
            .driver()
            .find_batch(id)
            .await?
            .map(|record| Batch {
                record,
                connection: connection.name().to_owned(),
            }))
    }

    /// The batch's id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// How many jobs it has.
    pub fn total_jobs(&self) -> u64 {
        self.record.total_jobs
    }

    /// Jobs that have not succeeded yet.
    pub fn pending_jobs(&self) -> u64 {
        self.record.pending_jobs
    }

    /// Jobs that failed for good.
    pub fn failed_jobs(&self) -> u64 {
        self.record.failed_jobs
    }

    /// Ids of the failed jobs.
    pub fn failed_job_ids(&self) -> &[String] {
        &self.record.failed_job_ids
    }

    /// Jobs that have run (succeeded or not), as a share of all jobs, 0–100.
    pub fn progress(&self) -> u32 {
        if self.record.total_jobs == 0 {
            return 100;
        }
        let processed = self.record.total_jobs - self.record.pending_jobs;
        (processed * 100 / self.record.total_jobs) as u32
    }

    /// Whether every job has run.
    pub fn finished(&self) -> bool {
        self.record.finished_at_ms.is_some()
    }

    /// Whether the batch was cancelled.
    pub fn cancelled(&self) -> bool {
        self.record.cancelled_at_ms.is_some()
    }

    /// Cancel the batch: jobs not started yet are skipped.
    pub async fn cancel(&self, manager: &QueueManager) -> QueueResult<()> {
        let connection = manager.connection(Some(&self.connection)).await?;
        connection
            .driver()
            .cancel_batch(&self.record.id, manager.clock().unix_millis())
            .await
    }

    pub(crate) fn options(&self) -> BatchOptions {
        serde_json::from_value(self.record.options.clone()).unwrap_or_default()
    }

    pub(crate) fn from_record(record: BatchRecord, connection: &str) -> Self {
        Self {
            record,
            connection: connection.to_owned(),
        }
    }
}
