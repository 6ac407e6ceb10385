//! RustForge task scheduling, with Laravel's API: the app lists its tasks once
//! (`App::schedule`), one process runs `schedule:work` (or cron runs `schedule:run` every
//! minute), and each minute the due tasks run.
//!
//! ```
//! use chrono::Weekday;
//! use foundry_schedule::Schedule;
//!
//! let mut s = Schedule::new();
//! s.call("refresh-stats", |_ctx| async { Ok(()) }).every_minute().on_one_server();
//! s.command("cache:prune").weekly_on(Weekday::Mon, "8:00").timezone("Europe/Paris");
//! s.call("nightly", |_ctx| async { Ok(()) }).cron("0 2 * * *").without_overlapping();
//! s.validate().unwrap();
//! assert_eq!(s.tasks()[1].expression(), "0 8 * * 1");
//! ```
//!
//! Tasks are jobs (dispatched to the queue), closures (run in the scheduler's process) or
//! the app's own commands (run as child processes of the app's binary, as Laravel does).
//! Times come from cron expressions parsed by `croner`, written directly or by Laravel's
//! helpers, read in `[schedule] timezone` or the task's own. `without_overlapping` and
//! `on_one_server` hold locks in a cache store (`[schedule] cache`), so schedulers on many
//! servers sharing a database or Redis store run each `on_one_server` task once per tick.
//!
//! Design: a crate of its own rather than part of `foundry-queue`, because a schedule runs
//! more than jobs (closures, commands) and needs cache locks, which the queue does not; the
//! `foundry` crate wires it to the app (`App::schedule`, the `schedule:*` commands). The
//! guide is `docs/scheduling.md`.

mod config;
mod error;
mod frequency;
mod runner;
mod schedule;
mod task;

pub use chrono::Weekday;
pub use chrono_tz::Tz;
pub use config::ScheduleConfig;
pub use error::ScheduleError;
pub use runner::{Outcome, RunReport, Scheduler, Skip, TaskRun, Tick};
pub use schedule::{ListRow, Schedule, render_list};
pub use task::{DEFAULT_OVERLAP_EXPIRY, Task};

/// The error a scheduled closure returns: any error (`?` works on every error type).
pub type TaskError = Box<dyn std::error::Error + Send + Sync>;

/// What a scheduled closure returns.
pub type TaskResult = Result<(), TaskError>;
