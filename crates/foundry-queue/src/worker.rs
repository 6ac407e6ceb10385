//! The worker: takes jobs off queues in strict priority, runs up to `concurrency` at a time
//! with their timeout, retries with backoff, stores final failures, continues chains and
//! batches, and stops gracefully (running jobs finish) when its shutdown future resolves.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::batch::Batch;
use crate::contract::{FailedJob, JobStatus, Reserved};
use crate::control::{self, PauseCheck, PauseFn};
use crate::error::{QueueError, QueueResult};
use crate::events::QueueEvent;
use crate::job::{Failure, Intent, JobContext, Payload};
use crate::manager::{Connection, QueueManager};
use crate::middleware::Gate;

/// How a worker runs (the `queue:work` flags).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The connection (`None`: the default).
    pub connection: Option<String>,
    /// Queues in priority order (empty: the connection's default queue).
    pub queues: Vec<String>,
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Attempts for jobs that do not set theirs (0: unlimited).
    pub tries: u32,
    /// Time limit of one attempt for jobs that do not set theirs.
    pub timeout: Duration,
    /// How long to wait for new jobs when the queues are empty.
    pub sleep: Duration,
    /// Stop after this many jobs (0: no limit).
    pub max_jobs: u64,
    /// Stop after this long.
    pub max_time: Option<Duration>,
    /// Stop once the queues are empty.
    pub stop_when_empty: bool,
    /// Run one job (or none if the queues are empty), then stop.
    pub once: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            connection: None,
            queues: Vec::new(),
            concurrency: 1,
            tries: 1,
            timeout: Duration::from_secs(60),
            sleep: Duration::from_secs(3),
            max_jobs: 0,
            max_time: None,
            stop_when_empty: false,
            once: false,
        }
    }
}

/// What a worker did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs released back for a retry.
    pub released: u64,
    /// Jobs that failed for good.
    pub failed: u64,
    /// Jobs skipped (cancelled, or in a cancelled batch).
    pub skipped: u64,
}

impl WorkerReport {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Succeeded => self.succeeded += 1,
            Outcome::Released => self.released += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    /// Every job the worker took.
    pub fn total(&self) -> u64 {
        self.succeeded + self.released + self.failed + self.skipped
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Released,
    Failed,
    Skipped,
}

/// How long a succeeded job waits for the next pop to carry its acknowledgement while the
/// worker's other slots are busy; then it is acknowledged on its own.
const ACK_DELAY: Duration = Duration::from_millis(20);

/// How many slot-fulls of jobs a worker reserves ahead of its free slots when its jobs outpace
/// its round trips (see [`Pace`]). Each round trip to the queue has a fixed cost (on
/// PostgreSQL, a statement and its commit) that dwarfs a fast job: reserving ahead spreads it
/// over up to four times as many jobs.
const AHEAD_GENERATIONS: usize = 3;

/// How fast the worker's jobs run against its round trips to the queue. When every job settled
/// since the last reservation took less time than that reservation's round trip, the round
/// trips are what limit the worker: it then reserves up to [`AHEAD_GENERATIONS`] ×
/// `concurrency` jobs ahead of its free slots. Slow jobs never lead to reserving ahead, so a
/// job reserved ahead waits behind at most a few generations of jobs that were fast.
#[derive(Debug, Default)]
struct Pace {
    /// The last reservation's round trip.
    round_trip: Duration,
    /// The slowest job settled since then (`None`: none yet, so no evidence either way).
    slowest: Option<Duration>,
}

impl Pace {
    fn jobs_outpace_round_trips(&self) -> bool {
        self.slowest
            .is_some_and(|slowest| slowest < self.round_trip)
    }

    fn settled(&mut self, took: Duration) {
        self.slowest = Some(self.slowest.map_or(took, |s| s.max(took)));
    }

    fn reserved(&mut self, round_trip: Duration) {
        self.round_trip = round_trip;
        self.slowest = None;
    }
}

/// A queue worker.
#[derive(Clone)]
pub struct Worker {
    manager: QueueManager,
    options: WorkerOptions,
    pause: Option<PauseFn>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("manager", &self.manager)
            .field("options", &self.options)
            .field("pause", &self.pause.is_some())
            .finish()
    }
}

impl Worker {
    /// A worker for `manager` with `options`.
    pub fn new(manager: QueueManager, options: WorkerOptions) -> Self {
        Self {
            manager,
            options,
            pause: None,
        }
    }

    /// Take no jobs while `paused()` says so (maintenance mode; `queue:work` passes the app's
    /// maintenance state unless `--force`). Running jobs finish; the worker looks again every
    /// `sleep`, and with `stop_when_empty` or `once` it stops instead of waiting.
    pub fn pause_while(mut self, paused: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.pause = Some(Arc::new(paused));
        self
    }

    /// Work until a stop condition (`once`, `max_jobs`, `max_time`, `stop_when_empty`), until
    /// `shutdown` resolves or until `queue:restart` is asked through the manager's cache; then
    /// stop taking jobs and wait for the running ones.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> QueueResult<WorkerReport> {
        let options = &self.options;
        // queue:restart stops the worker as a signal does.
        let restart = control::restart_requested(&self.manager, options.sleep).await;
        let shutdown = async move {
            tokio::select! {
                () = shutdown => {}
                () = restart => {}
            }
        };
        let mut pause = PauseCheck::new(self.pause.clone());
        let connection = self
            .manager
            .connection(options.connection.as_deref())
            .await?;
        let queues: Vec<String> = if options.queues.is_empty() {
            vec![connection.default_queue().to_owned()]
        } else {
            options.queues.clone()
        };
        let concurrency = options.concurrency.max(1);
        let started = Instant::now();
        let mut report = WorkerReport::default();
        let mut taken: u64 = 0;
        let mut running: JoinSet<Settled> = JoinSet::new();
        // Jobs reserved ahead of free slots (see `Pace`): they take the next free slots, and
        // the worker runs them before it stops, as it lets running jobs finish.
        let mut ahead: VecDeque<Reserved> = VecDeque::new();
        let mut pace = Pace::default();
        // Succeeded jobs waiting to be acknowledged: finished together, with the next pop when
        // there is one, otherwise before waiting (a job done but not yet acknowledged when the
        // worker dies runs again, as any unacknowledged job does).
        let mut done_jobs: Vec<Reserved> = Vec::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = false;
        tracing::info!(connection = connection.name(), queues = %queues.join(","), concurrency, "worker started");
        loop {
            while let Some(done) = running.try_join_next() {
                settle(done, &mut report, &mut done_jobs, &mut pace);
            }
            let limit_reached = (options.max_jobs > 0 && taken >= options.max_jobs)
                || (options.once && taken >= 1)
                || options.max_time.is_some_and(|max| started.elapsed() >= max);
            if stopping || limit_reached {
                break;
            }
            while running.len() < concurrency
                && let Some(job) = ahead.pop_front()
            {
                self.start(&mut running, &connection, job);
            }
            if pause.paused() {
                if (options.stop_when_empty || options.once) && running.is_empty() {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(options.sleep) => {}
                    done = running.join_next(), if !running.is_empty() => {
                        if let Some(done) = done { settle(done, &mut report, &mut done_jobs, &mut pace); }
                    }
                    () = &mut shutdown => stopping = true,
                }
                continue;
            }
            let free = concurrency - running.len();
            // Take jobs in batches: with at least half the slots busy (or jobs reserved ahead
            // still waiting for one), wait for more to free up instead of paying a round trip
            // per job.
            if (free < concurrency.div_ceil(2) || !ahead.is_empty()) && !running.is_empty() {
                tokio::select! {
                    done = running.join_next() => {
                        if let Some(done) = done { settle(done, &mut report, &mut done_jobs, &mut pace); }
                    }
                    () = &mut shutdown => stopping = true,
                    // Slow jobs: the ones already done do not wait for the next pop.
                    () = tokio::time::sleep(ACK_DELAY), if !done_jobs.is_empty() => {
                        acknowledge(&connection, &mut done_jobs).await;
                    }
                }
                continue;
            }
            let mut want = free as u64;
            if pace.jobs_outpace_round_trips() {
                want += (concurrency * AHEAD_GENERATIONS) as u64;
            }
            if options.max_jobs > 0 {
                want = want.min(options.max_jobs - taken);
            }
            if options.once {
                want = 1;
            }
            let asked = Instant::now();
            let popped = connection
                .driver()
                .finish_and_pop(&done_jobs, &queues, want as usize)
                .await;
            pace.reserved(asked.elapsed());
            let jobs = match popped {
                Ok(jobs) => {
                    done_jobs.clear();
                    jobs
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot take jobs off the queue; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(options.sleep.min(Duration::from_secs(1)).max(Duration::from_millis(50))) => {}
                        () = &mut shutdown => stopping = true,
                    }
                    continue;
                }
            };
            if jobs.is_empty() {
                if (options.stop_when_empty || options.once) && running.is_empty() {
                    break;
                }
                tokio::select! {
                    () = connection.driver().wait(&queues, options.sleep) => {}
                    done = running.join_next(), if !running.is_empty() => {
                        if let Some(done) = done { settle(done, &mut report, &mut done_jobs, &mut pace); }
                    }
                    () = &mut shutdown => stopping = true,
                }
                continue;
            }
            for job in jobs {
                taken += 1;
                if running.len() < concurrency {
                    self.start(&mut running, &connection, job);
                } else {
                    ahead.push_back(job);
                }
            }
        }
        while let Some(job) = ahead.pop_front() {
            if running.len() >= concurrency
                && let Some(done) = running.join_next().await
            {
                settle(done, &mut report, &mut done_jobs, &mut pace);
            }
            self.start(&mut running, &connection, job);
        }
        if !running.is_empty() {
            tracing::info!(
                running = running.len(),
                "waiting for running jobs to finish"
            );
        }
        while let Some(done) = running.join_next().await {
            settle(done, &mut report, &mut done_jobs, &mut pace);
        }
        acknowledge(&connection, &mut done_jobs).await;
        tracing::info!(
            succeeded = report.succeeded,
            released = report.released,
            failed = report.failed,
            "worker stopped"
        );
        Ok(report)
    }

    /// Run `job` in a slot of `running`.
    fn start(&self, running: &mut JoinSet<Settled>, connection: &Connection, job: Reserved) {
        let manager = self.manager.clone();
        let connection = connection.clone();
        let options = self.options.clone();
        running.spawn(async move {
            let started = Instant::now();
            let (outcome, job) = process(&manager, &connection, &options, job).await;
            (outcome, job, started.elapsed())
        });
    }
}

/// A job's outcome, the job itself when it succeeded and waits to be acknowledged, and how
/// long it took.
type Settled = (Outcome, Option<Reserved>, Duration);

fn settle(
    done: Result<Settled, tokio::task::JoinError>,
    report: &mut WorkerReport,
    done_jobs: &mut Vec<Reserved>,
    pace: &mut Pace,
) {
    let (outcome, job, took) = done.unwrap_or((Outcome::Failed, None, Duration::MAX));
    report.add(outcome);
    pace.settled(took);
    done_jobs.extend(job);
}

/// Finish the succeeded jobs in one go.
async fn acknowledge(connection: &Connection, done_jobs: &mut Vec<Reserved>) {
    if done_jobs.is_empty() {
        return;
    }
    let jobs = std::mem::take(done_jobs);
    if let Err(err) = connection
        .driver()
        .finish_many(&jobs, JobStatus::Succeeded)
        .await
    {
        // The reservations expire and the jobs run again after retry_after.
        tracing::error!(error = %err, jobs = jobs.len(), "cannot acknowledge finished jobs");
    }
}

/// How running `handle` once went.
enum Attempt {
    Succeeded,
    Release(Duration),
    /// Not run: its middleware dropped it (`dont_release`).
    Skip(String),
    /// Fail without retrying (the job asked, or the payload cannot be read).
    Fail(String),
    /// An error, a panic or the timeout: retried while tries remain.
    Error(String),
}

/// Run one attempt of `payload`: its middleware, then `handle` with its timeout.
async fn attempt(
    manager: &QueueManager,
    connection: &Connection,
    payload: &Payload,
    queue: &str,
    attempt: u32,
    default_timeout: Duration,
) -> Attempt {
    let Some(prepare) = manager.jobs().preparer(&payload.name) else {
        return Attempt::Fail(format!(
            "unknown job `{}`: no job is registered under this name; register its type in \
             App::jobs (jobs.register::<MyJob>()) or forget it with queue:forget",
            payload.name
        ));
    };
    let prepared = match prepare(payload.data.clone()) {
        Ok(prepared) => prepared,
        Err(message) => return Attempt::Fail(message),
    };
    let ctx = Arc::new(JobContext {
        id: payload.uuid.clone(),
        name: payload.name.clone(),
        queue: queue.to_owned(),
        connection: connection.name().to_owned(),
        attempt,
        batch_id: payload.batch_id.clone(),
        failure: payload.failure.clone(),
        manager: manager.clone(),
        intent: Mutex::new(None),
    });
    let timeout = payload
        .timeout_ms
        .map_or(default_timeout, Duration::from_millis);
    let held = match crate::middleware::before(
        manager,
        &payload.name,
        &*prepared.job,
        &prepared.middleware,
        timeout,
    )
    .await
    {
        Ok(Gate::Run(held)) => held,
        Ok(Gate::Release(delay)) => return Attempt::Release(delay),
        Ok(Gate::Skip(reason)) => return Attempt::Skip(reason),
        Err(message) => return Attempt::Error(message),
    };
    let result = run_handle(prepared.run, &ctx, timeout).await;
    // After a timeout or a panic too: the job is over either way.
    held.release().await;
    result
}

/// Run `handle` in its own task (a panic is caught) within `timeout`.
async fn run_handle(
    run: Box<
        dyn FnOnce(Arc<JobContext>) -> foundry_core::BoxFuture<'static, crate::JobResult> + Send,
    >,
    ctx: &Arc<JobContext>,
    timeout: Duration,
) -> Attempt {
    let mut task = tokio::spawn(run(ctx.clone()));
    let outcome = match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(join)) => {
            let message = join
                .try_into_panic()
                .ok()
                .and_then(|panic| {
                    panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                })
                .unwrap_or_else(|| "the job's task was cancelled".to_owned());
            return Attempt::Error(format!("the job panicked: {message}"));
        }
        Err(_) => {
            task.abort();
            return Attempt::Error(format!(
                "the job timed out after {:.1}s and was cancelled; raise its timeout (Job::timeout \
                 or --timeout) if it needs longer",
                timeout.as_secs_f64()
            ));
        }
    };
    let intent = crate::lock(&ctx.intent).take();
    match (outcome, intent) {
        (_, Some(Intent::Fail(message))) => Attempt::Fail(message),
        (Ok(()), Some(Intent::Release(delay))) => Attempt::Release(delay),
        (Ok(()), None) => Attempt::Succeeded,
        (Err(err), _) => Attempt::Error(foundry_core::error::error_chain(err.as_ref())),
    }
}

/// Run a reserved job and settle it: finish, release or fail.
async fn process(
    manager: &QueueManager,
    connection: &Connection,
    options: &WorkerOptions,
    job: Reserved,
) -> (Outcome, Option<Reserved>) {
    match process_inner(manager, connection, options, &job).await {
        Ok(Outcome::Succeeded) => (Outcome::Succeeded, Some(job)),
        Ok(outcome) => (outcome, None),
        Err(err) => {
            // The queue itself failed (e.g. the database went away): the reservation expires
            // and the job runs again after retry_after.
            tracing::error!(id = %job.uuid, error = %err, "cannot settle a job; it will be retried after retry_after");
            (Outcome::Failed, None)
        }
    }
}

async fn process_inner(
    manager: &QueueManager,
    connection: &Connection,
    options: &WorkerOptions,
    job: &Reserved,
) -> QueueResult<Outcome> {
    let driver = connection.driver();
    let payload: Payload = match serde_json::from_str(&job.payload) {
        Ok(payload) => payload,
        Err(err) => {
            let exception = format!("the job's payload is not valid JSON of a queued job: {err}");
            fail(manager, connection, job, None, &exception).await?;
            return Ok(Outcome::Failed);
        }
    };
    if let Some(batch_id) = &payload.batch_id
        && let Some(batch) = driver.find_batch(batch_id).await?
        && batch.cancelled_at_ms.is_some()
    {
        driver.finish(job, JobStatus::Cancelled).await?;
        after_success(manager, connection, &payload).await?;
        return Ok(Outcome::Skipped);
    }
    let now = manager.clock().unix_millis();
    let max_tries = payload.max_tries.unwrap_or(options.tries);
    let exhausted = match payload.retry_until_ms {
        Some(until) => now > until,
        None => max_tries > 0 && job.attempts > max_tries,
    };
    if exhausted {
        let exception = format!(
            "job `{}` has been attempted too many times ({} attempts, {}) or run too long; the \
             previous attempt was released (by the job or its middleware), timed out, or its \
             worker died",
            payload.name,
            job.attempts - 1,
            if max_tries == 0 {
                "no limit".to_owned()
            } else {
                format!("limit {max_tries}")
            }
        );
        fail(manager, connection, job, Some(&payload), &exception).await?;
        return Ok(Outcome::Failed);
    }
    manager.emit(&QueueEvent::Processing {
        connection: connection.name().to_owned(),
        id: payload.uuid.clone(),
        name: payload.name.clone(),
        attempt: job.attempts,
    });
    let started = Instant::now();
    let result = attempt(
        manager,
        connection,
        &payload,
        &job.queue,
        job.attempts,
        options.timeout,
    )
    .await;
    let duration = started.elapsed();
    let duration_ms = duration.as_secs_f64() * 1000.0;
    match result {
        Attempt::Succeeded => {
            // Acknowledged by the worker loop with the other jobs that finished meanwhile.
            tracing::info!(id = %payload.uuid, name = %payload.name, attempt = job.attempts, duration_ms, "job processed");
            manager.emit(&QueueEvent::Processed {
                connection: connection.name().to_owned(),
                id: payload.uuid.clone(),
                name: payload.name.clone(),
                attempt: job.attempts,
                duration,
            });
            after_success(manager, connection, &payload).await?;
            Ok(Outcome::Succeeded)
        }
        Attempt::Release(delay) => {
            tracing::info!(id = %payload.uuid, name = %payload.name, attempt = job.attempts, duration_ms, delay_ms = delay.as_millis() as u64, "job released");
            release(manager, connection, job, &payload, delay, None).await?;
            Ok(Outcome::Released)
        }
        Attempt::Skip(reason) => {
            tracing::info!(id = %payload.uuid, name = %payload.name, attempt = job.attempts, duration_ms, %reason, "job skipped by its middleware");
            connection
                .driver()
                .finish(job, JobStatus::Cancelled)
                .await?;
            after_success(manager, connection, &payload).await?;
            Ok(Outcome::Skipped)
        }
        Attempt::Fail(exception) => {
            tracing::warn!(id = %payload.uuid, name = %payload.name, attempt = job.attempts, duration_ms, error = %exception, "job failed");
            fail(manager, connection, job, Some(&payload), &exception).await?;
            Ok(Outcome::Failed)
        }
        Attempt::Error(exception) => {
            let retry = match payload.retry_until_ms {
                Some(until) => manager.clock().unix_millis() < until,
                None => max_tries == 0 || job.attempts < max_tries,
            };
            if retry {
                let delay = payload
                    .backoff
                    .as_ref()
                    .map_or(Duration::ZERO, |b| b.delay(job.attempts));
                tracing::warn!(id = %payload.uuid, name = %payload.name, attempt = job.attempts, duration_ms, error = %exception, "job attempt failed; retrying");
                release(manager, connection, job, &payload, delay, Some(exception)).await?;
                Ok(Outcome::Released)
            } else {
                tracing::warn!(id = %payload.uuid, name = %payload.name, attempt = job.attempts, duration_ms, error = %exception, "job failed");
                fail(manager, connection, job, Some(&payload), &exception).await?;
                Ok(Outcome::Failed)
            }
        }
    }
}

async fn release(
    manager: &QueueManager,
    connection: &Connection,
    job: &Reserved,
    payload: &Payload,
    delay: Duration,
    error: Option<String>,
) -> QueueResult<()> {
    let at = manager
        .clock()
        .unix_millis()
        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    connection.driver().release(job, at).await?;
    manager.emit(&QueueEvent::Released {
        connection: connection.name().to_owned(),
        id: payload.uuid.clone(),
        name: payload.name.clone(),
        attempt: job.attempts,
        delay,
        error,
    });
    Ok(())
}

/// Fail a reserved job for good: finish it, store it with the failed jobs, run its `failed`
/// hook, and continue its chain's `catch` and its batch.
async fn fail(
    manager: &QueueManager,
    connection: &Connection,
    job: &Reserved,
    payload: Option<&Payload>,
    exception: &str,
) -> QueueResult<()> {
    let driver = connection.driver();
    driver.finish(job, JobStatus::Failed).await?;
    driver
        .insert_failed(FailedJob {
            uuid: job.uuid.clone(),
            connection: connection.name().to_owned(),
            queue: job.queue.clone(),
            payload: job.payload.clone(),
            exception: exception.to_owned(),
            failed_at_ms: manager.clock().unix_millis(),
        })
        .await?;
    manager.emit(&QueueEvent::Failed {
        connection: connection.name().to_owned(),
        id: job.uuid.clone(),
        name: payload.map(|p| p.name.clone()).unwrap_or_default(),
        exception: exception.to_owned(),
    });
    if let Some(payload) = payload {
        after_failure(manager, connection, payload, &job.queue, exception).await?;
    }
    Ok(())
}

/// After a success: free the unique key, queue the chain's next job, count it in its batch.
fn after_success<'a>(
    manager: &'a QueueManager,
    connection: &'a Connection,
    payload: &'a Payload,
) -> foundry_core::BoxFuture<'a, QueueResult<()>> {
    // Boxed: on `sync` the next job of a chain runs inside this call.
    Box::pin(async move {
        if let Some(key) = &payload.unique_key {
            connection.driver().release_unique(key).await?;
        }
        if let Some((next, rest)) = payload.chain.split_first() {
            let mut next = next.clone();
            next.chain = rest.to_vec();
            next.chain_catch.clone_from(&payload.chain_catch);
            manager.push(connection, next, None).await?;
        }
        if let Some(batch_id) = &payload.batch_id {
            let now = manager.clock().unix_millis();
            if let Some(record) = connection
                .driver()
                .record_batch_job(batch_id, None, now)
                .await?
            {
                let batch = Batch::from_record(record, connection.name());
                let options = batch.options();
                if batch.pending_jobs() == 0 && batch.failed_jobs() == 0 && !batch.cancelled() {
                    callback(manager, connection, options.then, &options.queue, None).await?;
                }
                if batch.pending_jobs() == batch.failed_jobs() {
                    callback(manager, connection, options.finally, &options.queue, None).await?;
                }
            }
        }
        Ok(())
    })
}

/// After a final failure: free the unique key, run the job's `failed` hook, queue the chain's
/// `catch` job, count it in its batch (cancelling it unless failures are allowed).
fn after_failure<'a>(
    manager: &'a QueueManager,
    connection: &'a Connection,
    payload: &'a Payload,
    queue: &'a str,
    exception: &'a str,
) -> foundry_core::BoxFuture<'a, QueueResult<()>> {
    Box::pin(async move {
        if let Some(key) = &payload.unique_key {
            connection.driver().release_unique(key).await?;
        }
        if let Some(hook) = manager.jobs().failed_hook(&payload.name) {
            let ctx = Arc::new(JobContext {
                id: payload.uuid.clone(),
                name: payload.name.clone(),
                queue: queue.to_owned(),
                connection: connection.name().to_owned(),
                attempt: 0,
                batch_id: payload.batch_id.clone(),
                failure: None,
                manager: manager.clone(),
                intent: Mutex::new(None),
            });
            hook(payload.data.clone(), ctx, exception.to_owned()).await;
        }
        let failure = Failure {
            job_id: payload.uuid.clone(),
            job: payload.name.clone(),
            exception: exception.to_owned(),
        };
        if let Some(catch) = &payload.chain_catch {
            let mut catch = (**catch).clone();
            catch.failure = Some(failure.clone());
            manager.push(connection, catch, None).await?;
        }
        if let Some(batch_id) = &payload.batch_id {
            let now = manager.clock().unix_millis();
            let driver = connection.driver();
            if let Some(record) = driver
                .record_batch_job(batch_id, Some(&payload.uuid), now)
                .await?
            {
                let batch = Batch::from_record(record, connection.name());
                let options = batch.options();
                if batch.failed_jobs() == 1 {
                    if !options.allow_failures {
                        driver.cancel_batch(batch_id, now).await?;
                    }
                    callback(
                        manager,
                        connection,
                        options.catch.clone(),
                        &options.queue,
                        Some(&failure),
                    )
                    .await?;
                }
                if batch.pending_jobs() == batch.failed_jobs() {
                    callback(
                        manager,
                        connection,
                        options.finally,
                        &options.queue,
                        Some(&failure),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    })
}

async fn callback(
    manager: &QueueManager,
    connection: &Connection,
    job: Option<Payload>,
    queue: &Option<String>,
    failure: Option<&Failure>,
) -> QueueResult<()> {
    if let Some(mut job) = job {
        // Stored once with the batch: every dispatch of it gets its own id.
        job = job.renewed();
        if job.queue.is_none() {
            job.queue.clone_from(queue);
        }
        job.failure = failure.cloned();
        manager.push(connection, job, None).await?;
    }
    Ok(())
}

/// Run `payload` now in this task (the `sync` connection and `dispatch_sync`): one attempt,
/// its error returned; statuses, chains and batches are kept as on a queue, failed jobs are
/// not stored.
pub(crate) async fn run_inline(
    manager: &QueueManager,
    connection: &Connection,
    payload: Payload,
) -> QueueResult<()> {
    let queue = payload
        .queue
        .clone()
        .unwrap_or_else(|| connection.default_queue().to_owned());
    let started = Instant::now();
    let result = attempt(
        manager,
        connection,
        &payload,
        &queue,
        1,
        Duration::from_secs(365 * 86_400),
    )
    .await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let driver = connection.driver();
    let reserved = Reserved {
        handle: String::new(),
        uuid: payload.uuid.clone(),
        queue: queue.clone(),
        payload: String::new(),
        attempts: 1,
    };
    let exception = match result {
        Attempt::Skip(reason) => {
            driver.finish(&reserved, JobStatus::Cancelled).await?;
            tracing::info!(id = %payload.uuid, name = %payload.name, attempt = 1, duration_ms, %reason, "job skipped by its middleware (sync)");
            after_success(manager, connection, &payload).await?;
            return Ok(());
        }
        Attempt::Succeeded | Attempt::Release(_) => {
            driver.finish(&reserved, JobStatus::Succeeded).await?;
            tracing::info!(id = %payload.uuid, name = %payload.name, attempt = 1, duration_ms, "job processed (sync)");
            after_success(manager, connection, &payload).await?;
            return Ok(());
        }
        Attempt::Fail(exception) | Attempt::Error(exception) => exception,
    };
    driver.finish(&reserved, JobStatus::Failed).await?;
    tracing::warn!(id = %payload.uuid, name = %payload.name, attempt = 1, duration_ms, error = %exception, "job failed (sync)");
    after_failure(manager, connection, &payload, &queue, &exception).await?;
    Err(QueueError::JobFailed {
        job: payload.name,
        message: exception,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_reserves_ahead_only_when_its_jobs_were_faster_than_the_round_trip() {
        let mut pace = Pace::default();
        assert!(!pace.jobs_outpace_round_trips(), "no evidence yet");
        pace.reserved(Duration::from_millis(2));
        assert!(!pace.jobs_outpace_round_trips(), "nothing settled since");
        pace.settled(Duration::from_micros(50));
        pace.settled(Duration::from_micros(300));
        assert!(pace.jobs_outpace_round_trips());
        // One slow job is enough to stop.
        pace.settled(Duration::from_millis(5));
        assert!(!pace.jobs_outpace_round_trips());
        // Each reservation starts the comparison again.
        pace.reserved(Duration::from_millis(10));
        assert!(!pace.jobs_outpace_round_trips());
        pace.settled(Duration::from_millis(1));
        assert!(pace.jobs_outpace_round_trips());
    }
}
