//! [`Scheduler`]: run the tasks due at a tick, each once, guarded by cache locks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use foundry_cache::Cache;
use foundry_core::AppContext;

use crate::error::ScheduleError;
use crate::schedule::Schedule;
use crate::task::{Kind, ONE_SERVER_TTL, Task, minute_of};

/// A minute the scheduler runs, and whether the app is down for maintenance then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    at: DateTime<Utc>,
    maintenance: bool,
}

impl Tick {
    /// The minute of `instant` (seconds dropped), app up.
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self {
            at: minute_of(instant),
            maintenance: false,
        }
    }

    /// Mark the app as down for maintenance: only tasks with
    /// `even_in_maintenance_mode` run.
    pub fn in_maintenance(mut self, down: bool) -> Self {
        self.maintenance = down;
        self
    }

    /// The minute.
    pub fn time(&self) -> DateTime<Utc> {
        self.at
    }
}

/// Why a due task did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skip {
    /// `on_one_server`: another scheduler claimed this tick.
    OtherServer,
    /// `without_overlapping`: the previous run still holds the lock.
    StillRunning,
}

/// What came of one due task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It ran and succeeded (a job: it was dispatched).
    Succeeded,
    /// It ran and failed; the error, one line.
    Failed(String),
    /// It did not run.
    Skipped(Skip),
}

/// One due task's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRun {
    /// The task's index in the schedule.
    pub index: usize,
    /// Its name.
    pub task: String,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took (locks included).
    pub duration: Duration,
}

/// Every due task of a tick, in schedule order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The tick.
    pub tick: DateTime<Utc>,
    /// The due tasks (those whose filters passed), in schedule order.
    pub runs: Vec<TaskRun>,
}

impl RunReport {
    /// The runs with this outcome.
    pub fn count(&self, outcome: &Outcome) -> usize {
        self.runs.iter().filter(|r| &r.outcome == outcome).count()
    }

    /// The run of the task named `task`.
    pub fn of(&self, task: &str) -> Option<&TaskRun> {
        self.runs.iter().find(|r| r.task == task)
    }
}

/// Runs a validated [`Schedule`] for an app: `schedule:run` is one [`Scheduler::run`] of the
/// current minute, `schedule:work` one per minute.
///
/// The due tasks of a tick run concurrently, each in its own tokio task: a slow task never
/// holds the others past their minute (what Laravel's `runInBackground` is for), and a
/// failing or panicking task is logged without stopping the others.
#[derive(Clone)]
pub struct Scheduler {
    schedule: Arc<Schedule>,
    ctx: AppContext,
    locks: Cache,
    program: Option<PathBuf>,
    /// Whether the memory-store warning was logged (once per scheduler, not every minute).
    warned: Arc<AtomicBool>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("tasks", &self.schedule.tasks().len())
            .field("locks", &self.locks)
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler for `schedule` (validated: see [`Schedule::validate`]) in the app `ctx`,
    /// with its locks in `locks`.
    pub fn new(schedule: Arc<Schedule>, ctx: AppContext, locks: Cache) -> Self {
        Self {
            schedule,
            ctx,
            locks,
            program: None,
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The app's binary, which command tasks run as child processes.
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// The schedule.
    pub fn schedule(&self) -> &Arc<Schedule> {
        &self.schedule
    }

    /// Run every task due at `tick` whose filters pass, each once, and wait for them all.
    pub async fn run(&self, tick: Tick) -> RunReport {
        let due: Vec<usize> = self
            .schedule
            .due(tick.at)
            .into_iter()
            .filter(|&i| {
                let task = &self.schedule.tasks()[i];
                if tick.maintenance && !task.runs_in_maintenance() {
                    tracing::info!(
                        task = task.description(),
                        "scheduled task skipped: the app is in maintenance mode"
                    );
                    return false;
                }
                // A panicking `when`/`skip` closure skips its task, not the whole tick.
                let ctx = &self.ctx;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.filters_pass(ctx)))
                    .unwrap_or_else(|_| {
                        tracing::error!(
                            task = task.description(),
                            "scheduled task skipped: its when/skip condition panicked"
                        );
                        false
                    })
            })
            .collect();
        if self.locks.driver() == "memory"
            && due
                .iter()
                .any(|&i| self.schedule.tasks()[i].runs_on_one_server())
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                store = self.locks.name(),
                "on_one_server locks are in a memory cache store, which other servers cannot see; \
                 set [schedule] cache to a database or Redis store"
            );
        }
        let mut set = tokio::task::JoinSet::new();
        for &index in &due {
            let this = self.clone();
            set.spawn(async move { this.run_task(index, Some(tick.at)).await });
        }
        let mut runs = Vec::with_capacity(due.len());
        while let Some(joined) = set.join_next().await {
            // run_task catches the task's own panics; a JoinError here means the runtime is
            // shutting down, and the task's outcome is unknown.
            if let Ok(run) = joined {
                runs.push(run);
            }
        }
        runs.sort_by_key(|r| r.index);
        RunReport {
            tick: tick.at,
            runs,
        }
    }

    /// Run the task named `name` now, whatever its schedule and filters (Laravel's
    /// `schedule:test`); `without_overlapping` still applies, `on_one_server` does not.
    pub async fn run_now(&self, name: &str) -> Result<TaskRun, ScheduleError> {
        let tasks = self.schedule.tasks();
        let Some(index) = tasks.iter().position(|t| t.description() == name) else {
            let mut close: Vec<(usize, &str)> = tasks
                .iter()
                .map(|t| (strsim::levenshtein(name, t.description()), t.description()))
                .collect();
            close.sort_unstable();
            let hint = match close.first() {
                Some((_, known)) => format!("did you mean `{known}`?"),
                None => "the schedule is empty; add tasks in App::schedule".to_owned(),
            };
            return Err(ScheduleError::UnknownTask(format!(
                "no scheduled task is named `{name}`; {hint}"
            )));
        };
        Ok(self.run_task(index, None).await)
    }

    /// Run one task; `tick` is the minute it is due at (none when run by hand).
    async fn run_task(&self, index: usize, tick: Option<DateTime<Utc>>) -> TaskRun {
        let task = &self.schedule.tasks()[index];
        let started = Instant::now();
        let outcome = self.guarded(task, tick).await;
        let duration = started.elapsed();
        let name = task.description();
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Outcome::Succeeded => {
                tracing::info!(
                    task = name,
                    kind = task.kind_name(),
                    duration_ms = ms,
                    "scheduled task succeeded"
                );
            }
            Outcome::Failed(error) => {
                tracing::error!(task = name, kind = task.kind_name(), duration_ms = ms, error = %error, "scheduled task failed");
            }
            Outcome::Skipped(Skip::OtherServer) => {
                tracing::info!(
                    task = name,
                    "scheduled task skipped: another server runs this tick"
                );
            }
            Outcome::Skipped(Skip::StillRunning) => {
                tracing::info!(
                    task = name,
                    "scheduled task skipped: its previous run is still running"
                );
            }
        }
        TaskRun {
            index,
            task: name.to_owned(),
            outcome,
            duration,
        }
    }

    /// The locks around the task's body (Laravel's order: the server claim, then overlap).
    async fn guarded(&self, task: &Task, tick: Option<DateTime<Utc>>) -> Outcome {
        if let Some(tick) = tick.filter(|_| task.runs_on_one_server()) {
            let claim = self.locks.lock(&task.one_server_key(tick), ONE_SERVER_TTL);
            // The claim is never released: it expires, so a server that reaches this tick
            // late still sees it was taken.
            match claim.get().await {
                Ok(true) => {}
                Ok(false) => return Outcome::Skipped(Skip::OtherServer),
                Err(err) => {
                    return Outcome::Failed(format!(
                        "cannot claim the tick for on_one_server: {err}"
                    ));
                }
            }
        }
        let overlap = match task.overlap_expiry() {
            Some(expiry) => {
                let lock = self.locks.lock(&task.mutex_key(), expiry);
                match lock.get().await {
                    Ok(true) => Some(lock),
                    Ok(false) => return Outcome::Skipped(Skip::StillRunning),
                    Err(err) => {
                        return Outcome::Failed(format!(
                            "cannot take the without_overlapping lock: {err}"
                        ));
                    }
                }
            }
            None => None,
        };
        let outcome = self.body(task).await;
        if let Some(lock) = overlap
            && let Err(err) = lock.release().await
        {
            tracing::warn!(task = task.description(), error = %err, "could not release the without_overlapping lock; it expires on its own");
        }
        outcome
    }

    async fn body(&self, task: &Task) -> Outcome {
        let result: crate::TaskResult = match &task.kind {
            #[cfg(feature = "queue")]
            Kind::Job { data, dispatch } => match self.ctx.make::<foundry_queue::QueueManager>() {
                Ok(queue) => dispatch((*queue).clone(), data.clone()).await,
                Err(err) => Err(format!("a scheduled job needs the queue: {err}").into()),
            },
            Kind::Call(f) => {
                // Its own tokio task, so a panic becomes this task's failure.
                match tokio::spawn(f(self.ctx.clone())).await {
                    Ok(result) => result,
                    Err(err) => Err(panic_text(err).into()),
                }
            }
            Kind::Command { args } => self.command(args).await,
        };
        match result {
            Ok(()) => Outcome::Succeeded,
            Err(err) => Outcome::Failed(foundry_core::error::error_chain(err.as_ref())),
        }
    }

    async fn command(&self, args: &[String]) -> crate::TaskResult {
        let program = match &self.program {
            Some(program) => program.clone(),
            None => std::env::current_exe()
                .map_err(|err| format!("cannot find the app's binary to run the command: {err}"))?,
        };
        let output = tokio::process::Command::new(&program)
            .args(args)
            .env("FOUNDRY_ROOT", self.ctx.config().root())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|err| format!("cannot start `{}`: {err}", program.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The app's CLI (and clap) write `error: …` first and hints after it; that line says
        // more than the last one.
        let mut lines = stderr
            .lines()
            .rev()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let last = lines
            .clone()
            .find(|l| l.starts_with("error"))
            .or_else(|| lines.next())
            .unwrap_or("");
        let status = output.status.code().map_or_else(
            || "was killed by a signal".to_owned(),
            |c| format!("exited with status {c}"),
        );
        Err(if last.is_empty() {
            status.into()
        } else {
            format!("{status}: {}", last.trim()).into()
        })
    }
}

fn panic_text(err: tokio::task::JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text payload".to_owned());
            format!("panicked: {message}")
        }
        Err(err) => format!("was cancelled: {err}"),
    }
}
