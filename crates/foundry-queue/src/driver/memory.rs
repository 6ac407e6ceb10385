//! `driver = "memory"`: queues in the process's memory, for tests and single-process apps.
//! Time comes from the app's [`Clock`], so tests can travel past delays and `retry_after`.
//! The `sync` connection keeps its bookkeeping (failed jobs, statuses) here too.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use foundry_core::{BoxFuture, Clock};
use tokio::sync::Notify;

use crate::contract::{BatchRecord, FailedJob, JobStatus, JobStore, NewJob, QueueDriver, Reserved};
use crate::error::QueueResult;
use crate::lock;

#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    uuid: String,
    queue: String,
    payload: String,
    attempts: u32,
}

#[derive(Default)]
struct State {
    next_id: u64,
    ready: HashMap<String, VecDeque<Entry>>,
    /// (available at, id) → job.
    delayed: BTreeMap<(i64, u64), Entry>,
    /// id → (reserved until, job).
    reserved: HashMap<u64, (i64, Entry)>,
    statuses: HashMap<String, JobStatus>,
    unique: HashMap<String, i64>,
    failed: Vec<FailedJob>,
    batches: HashMap<String, BatchRecord>,
}

/// The memory driver.
pub struct MemoryDriver {
    state: Mutex<State>,
    clock: Clock,
    retry_after_ms: i64,
    arrived: Notify,
}

impl std::fmt::Debug for MemoryDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDriver")
            .field("retry_after_ms", &self.retry_after_ms)
            .finish_non_exhaustive()
    }
}

impl MemoryDriver {
    /// An empty queue on `clock`; reserved jobs come back after `retry_after`.
    pub fn new(clock: Clock, retry_after: Duration) -> Self {
        Self {
            state: Mutex::default(),
            clock,
            retry_after_ms: i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX),
            arrived: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl State {
    /// Move due delayed jobs and expired reservations to the end of their queues.
    fn migrate(&mut self, now: i64) {
        let due: Vec<(i64, u64)> = self
            .delayed
            .range(..=(now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(entry) = self.delayed.remove(&key) {
                self.ready
                    .entry(entry.queue.clone())
                    .or_default()
                    .push_back(entry);
            }
        }
        let mut expired: Vec<(i64, u64)> = self
            .reserved
            .iter()
            .filter(|(_, (until, _))| *until <= now)
            .map(|(id, (until, _))| (*until, *id))
            .collect();
        expired.sort_unstable();
        for (_, id) in expired {
            if let Some((_, entry)) = self.reserved.remove(&id) {
                self.statuses.insert(entry.uuid.clone(), JobStatus::Queued);
                self.ready
                    .entry(entry.queue.clone())
                    .or_default()
                    .push_back(entry);
            }
        }
    }
}

fn reserved_of(entry: &Entry) -> Reserved {
    Reserved {
        handle: entry.id.to_string(),
        uuid: entry.uuid.clone(),
        queue: entry.queue.clone(),
        payload: entry.payload.clone(),
        attempts: entry.attempts,
    }
}

impl QueueDriver for MemoryDriver {
    fn push(&self, jobs: Vec<NewJob>) -> BoxFuture<'_, QueueResult<()>> {
        let now = self.clock.unix_millis();
        {
            let mut state = self.state();
            for job in jobs {
                state.next_id += 1;
                let entry = Entry {
                    id: state.next_id,
                    uuid: job.uuid,
                    queue: job.queue,
                    payload: job.payload,
                    attempts: 0,
                };
                state.statuses.insert(entry.uuid.clone(), JobStatus::Queued);
                if job.available_at_ms > now {
                    state.delayed.insert((job.available_at_ms, entry.id), entry);
                } else {
                    state
                        .ready
                        .entry(entry.queue.clone())
                        .or_default()
                        .push_back(entry);
                }
            }
        }
        self.arrived.notify_one();
        Box::pin(async { Ok(()) })
    }

    fn pop<'a>(
        &'a self,
        queues: &'a [String],
        max: usize,
    ) -> BoxFuture<'a, QueueResult<Vec<Reserved>>> {
        let now = self.clock.unix_millis();
        let mut out = Vec::new();
        {
            let mut state = self.state();
            state.migrate(now);
            for queue in queues {
                while out.len() < max {
                    let Some(mut entry) = state.ready.get_mut(queue).and_then(VecDeque::pop_front)
                    else {
                        break;
                    };
                    if state.statuses.get(&entry.uuid) == Some(&JobStatus::Cancelled) {
                        continue;
                    }
                    entry.attempts += 1;
                    out.push(reserved_of(&entry));
                    state
                        .statuses
                        .insert(entry.uuid.clone(), JobStatus::Running);
                    state
                        .reserved
                        .insert(entry.id, (now.saturating_add(self.retry_after_ms), entry));
                }
            }
        }
        Box::pin(async move { Ok(out) })
    }

    fn finish<'a>(
        &'a self,
        job: &'a Reserved,
        status: JobStatus,
    ) -> BoxFuture<'a, QueueResult<()>> {
        {
            let mut state = self.state();
            if let Ok(id) = job.handle.parse::<u64>() {
                state.reserved.remove(&id);
            }
            state.statuses.insert(job.uuid.clone(), status);
        }
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(
        &'a self,
        job: &'a Reserved,
        available_at_ms: i64,
    ) -> BoxFuture<'a, QueueResult<()>> {
        {
            let mut state = self.state();
            let id = job.handle.parse::<u64>().unwrap_or_default();
            // Gone when the reservation expired and the job was handed out again: keep one copy.
            let Some((_, entry)) = state.reserved.remove(&id) else {
                return Box::pin(async { Ok(()) });
            };
            state.statuses.insert(job.uuid.clone(), JobStatus::Queued);
            state.delayed.insert((available_at_ms, entry.id), entry);
        }
        self.arrived.notify_one();
        Box::pin(async { Ok(()) })
    }

    fn size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>> {
        let state = self.state();
        let ready = state.ready.get(queue).map_or(0, VecDeque::len);
        let delayed = state.delayed.values().filter(|e| e.queue == queue).count();
        let reserved = state
            .reserved
            .values()
            .filter(|(_, e)| e.queue == queue)
            .count();
        let total = (ready + delayed + reserved) as u64;
        Box::pin(async move { Ok(total) })
    }

    fn clear<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, QueueResult<u64>> {
        let mut state = self.state();
        let mut removed = state.ready.remove(queue).map_or(0, |q| q.len());
        let before = state.delayed.len();
        state.delayed.retain(|_, e| e.queue != queue);
        removed += before - state.delayed.len();
        let before = state.reserved.len();
        state.reserved.retain(|_, (_, e)| e.queue != queue);
        removed += before - state.reserved.len();
        Box::pin(async move { Ok(removed as u64) })
    }

    fn wait<'a>(&'a self, _queues: &'a [String], max: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = tokio::time::timeout(max, self.arrived.notified()).await;
        })
    }
}

impl JobStore for MemoryDriver {
    fn status<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<Option<JobStatus>>> {
        let status = self.state().statuses.get(uuid).copied();
        Box::pin(async move { Ok(status) })
    }

    fn cancel<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        let mut state = self.state();
        let cancelled = state.statuses.get(uuid) == Some(&JobStatus::Queued);
        if cancelled {
            state.statuses.insert(uuid.to_owned(), JobStatus::Cancelled);
            state.delayed.retain(|_, e| e.uuid != uuid);
        }
        Box::pin(async move { Ok(cancelled) })
    }

    fn acquire_unique<'a>(&'a self, key: &'a str, ttl_ms: u64) -> BoxFuture<'a, QueueResult<bool>> {
        let now = self.clock.unix_millis();
        let mut state = self.state();
        let free = state.unique.get(key).is_none_or(|until| *until <= now);
        if free {
            let until = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
            state.unique.insert(key.to_owned(), until);
        }
        Box::pin(async move { Ok(free) })
    }

    fn release_unique<'a>(&'a self, key: &'a str) -> BoxFuture<'a, QueueResult<()>> {
        self.state().unique.remove(key);
        Box::pin(async { Ok(()) })
    }

    fn insert_failed(&self, job: FailedJob) -> BoxFuture<'_, QueueResult<()>> {
        self.state().failed.push(job);
        Box::pin(async { Ok(()) })
    }

    fn failed_jobs(&self) -> BoxFuture<'_, QueueResult<Vec<FailedJob>>> {
        let mut jobs = self.state().failed.clone();
        jobs.reverse();
        Box::pin(async move { Ok(jobs) })
    }

    fn forget_failed<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        let mut state = self.state();
        let before = state.failed.len();
        state.failed.retain(|j| j.uuid != uuid);
        let removed = state.failed.len() != before;
        Box::pin(async move { Ok(removed) })
    }

    fn flush_failed(&self) -> BoxFuture<'_, QueueResult<u64>> {
        let count = std::mem::take(&mut self.state().failed).len() as u64;
        Box::pin(async move { Ok(count) })
    }

    fn create_batch<'a>(&'a self, batch: &'a BatchRecord) -> BoxFuture<'a, QueueResult<()>> {
        self.state().batches.insert(batch.id.clone(), batch.clone());
        Box::pin(async { Ok(()) })
    }

    fn find_batch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>> {
        let batch = self.state().batches.get(id).cloned();
        Box::pin(async move { Ok(batch) })
    }

    fn record_batch_job<'a>(
        &'a self,
        id: &'a str,
        failed_job: Option<&'a str>,
        now_ms: i64,
    ) -> BoxFuture<'a, QueueResult<Option<BatchRecord>>> {
        let mut state = self.state();
        let batch = state.batches.get_mut(id).map(|batch| {
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
            batch.clone()
        });
        Box::pin(async move { Ok(batch) })
    }

    fn cancel_batch<'a>(&'a self, id: &'a str, now_ms: i64) -> BoxFuture<'a, QueueResult<()>> {
        if let Some(batch) = self.state().batches.get_mut(id) {
            batch.cancelled_at_ms.get_or_insert(now_ms);
        }
        Box::pin(async { Ok(()) })
    }
}
