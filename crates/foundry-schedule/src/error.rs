//! [`ScheduleError`]: what building or running a schedule can fail with.

use foundry_core::{Error, ErrorKind};

/// What went wrong in the scheduler.
///
/// Messages follow the house style: what was being done, the input, the problem, a hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The app's schedule has mistakes (a bad time, cron expression or time zone, an unknown
    /// command); every one is listed, each naming its task.
    #[error("the schedule has {} mistake(s):{}", .0.len(), list(.0))]
    Invalid(Vec<String>),
    /// `[schedule]` is wrong (an unknown time zone or lock store).
    #[error("schedule configuration: {0}")]
    Config(String),
    /// `schedule:test --name` (or [`Scheduler::run_now`](crate::Scheduler::run_now)) with a
    /// name no task has; the message suggests the closest.
    #[error("{0}")]
    UnknownTask(String),
}

fn list(problems: &[String]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

impl From<ScheduleError> for Error {
    fn from(err: ScheduleError) -> Self {
        Error::new(ErrorKind::Internal, err.to_string())
    }
}
