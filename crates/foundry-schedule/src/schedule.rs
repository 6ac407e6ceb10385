//! [`Schedule`]: the app's list of tasks.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use foundry_core::AppContext;

use crate::TaskResult;
use crate::error::ScheduleError;
use crate::task::{Kind, Task, split_command};

/// The app's scheduled tasks, filled by `App::schedule`:
///
/// ```
/// use foundry_schedule::Schedule;
///
/// let mut s = Schedule::new();
/// s.call("refresh-stats", |ctx| async move {
///     let _ = ctx.config().app();
///     Ok(())
/// })
/// .every_five_minutes()
/// .on_one_server();
/// s.command("cache:prune --older-than=7").daily_at("3:00");
/// s.validate().unwrap();
/// assert_eq!(s.tasks().len(), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Schedule {
    tasks: Vec<Task>,
    timezone: Option<Tz>,
    known_commands: Option<Vec<String>>,
    validated: bool,
}

impl Schedule {
    /// An empty schedule whose tasks read their times in UTC unless told otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time zone of tasks that do not set their own (`[schedule] timezone`).
    pub fn default_timezone(&mut self, tz: Tz) -> &mut Self {
        self.timezone = Some(tz);
        self.validated = false;
        self
    }

    /// The time zone of tasks that do not set their own.
    pub fn timezone(&self) -> Tz {
        self.timezone.unwrap_or(Tz::UTC)
    }

    /// Check command tasks against these command names when validating.
    pub fn known_commands(&mut self, names: impl IntoIterator<Item = String>) -> &mut Self {
        self.known_commands = Some(names.into_iter().collect());
        self.validated = false;
        self
    }

    fn add(&mut self, task: Task) -> &mut Task {
        self.validated = false;
        self.tasks.push(task);
        let last = self.tasks.len() - 1;
        &mut self.tasks[last]
    }

    /// Dispatch `job` to the queue at each tick (it runs on a worker, like any dispatch);
    /// the task is named after [`Job::NAME`](foundry_queue::Job::NAME). The job is stored
    /// as its JSON and rebuilt for every dispatch.
    #[cfg(feature = "queue")]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the job is handed over, as in Laravel's Schedule::job(new Job)"
    )]
    pub fn job<J: foundry_queue::Job>(&mut self, job: J) -> &mut Task {
        fn dispatch<J: foundry_queue::Job>(
            queue: foundry_queue::QueueManager,
            data: serde_json::Value,
        ) -> foundry_core::BoxFuture<'static, TaskResult> {
            Box::pin(async move {
                let job: J = serde_json::from_value(data)?;
                queue.dispatch(job).await?;
                Ok(())
            })
        }
        let (data, problem) = match serde_json::to_value(&job) {
            Ok(data) => (data, None),
            Err(err) => (
                serde_json::Value::Null,
                Some(format!("the job does not serialize to JSON: {err}")),
            ),
        };
        let task = self.add(Task::new(
            Kind::Job {
                data,
                dispatch: dispatch::<J>,
            },
            J::NAME.to_owned(),
        ));
        if let Some(problem) = problem {
            task.problem(problem);
        }
        task
    }

    /// Run `f` in the scheduler's process at each tick. `name` identifies the task in logs,
    /// `schedule:list` and lock keys. Any error type works with `?`.
    pub fn call<F, Fut>(&mut self, name: &str, f: F) -> &mut Task
    where
        F: Fn(AppContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TaskResult> + Send + 'static,
    {
        let closure: crate::task::Closure = Arc::new(move |ctx| Box::pin(f(ctx)));
        let task = self.add(Task::new(Kind::Call(closure), name.to_owned()));
        if name.trim().is_empty() {
            task.problem("call(\"\", …): a closure task needs a name".to_owned());
        }
        task
    }

    /// Run one of the app's commands (`"cache:prune --days=7"`) at each tick, as a child
    /// process of the app's own binary, like Laravel's `Schedule::command`: a crash or an
    /// `exit` in the command cannot take the scheduler down, and the exit status is the
    /// outcome. Words split like a shell's (quotes group).
    pub fn command(&mut self, line: &str) -> &mut Task {
        match split_command(line) {
            Ok(args) => self.add(Task::new(Kind::Command { args }, line.trim().to_owned())),
            Err(problem) => {
                let task = self.add(Task::new(
                    Kind::Command { args: Vec::new() },
                    line.trim().to_owned(),
                ));
                task.problem(problem);
                task
            }
        }
    }

    /// Every task, in the order they were added.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Whether there are no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Compile every task's expression and time zone and check its arguments (and command
    /// names, when [`Schedule::known_commands`] was given); every mistake is listed, each
    /// naming its task. Run when the app boots; tasks are never due before.
    pub fn validate(&mut self) -> Result<(), ScheduleError> {
        let tz = self.timezone();
        let mut problems = Vec::new();
        for task in &mut self.tasks {
            problems.extend(task.compile(tz));
        }
        if let Some(known) = &self.known_commands {
            for task in &self.tasks {
                let Some(name) = task.command_name() else {
                    continue;
                };
                if !known.iter().any(|k| k == name) {
                    problems.push(unknown_command(task.description(), name, known));
                }
            }
        }
        self.validated = problems.is_empty();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ScheduleError::Invalid(problems))
        }
    }

    /// Whether [`Schedule::validate`] passed since the last change.
    pub fn is_validated(&self) -> bool {
        self.validated
    }

    /// The indexes of the tasks due at `tick`'s minute by expression and time of day.
    pub fn due(&self, tick: DateTime<Utc>) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&i| self.tasks[i].is_due(tick))
            .collect()
    }

    /// One row per task for `schedule:list`: expression, task, next due time (after `now`,
    /// shown in `display` time zone).
    pub fn list(&self, now: DateTime<Utc>, display: Tz) -> Vec<ListRow> {
        self.tasks
            .iter()
            .map(|task| {
                let mut expression = task.expression();
                if let Some(tz) = task.tz().filter(|tz| *tz != display) {
                    expression = format!("{expression} ({tz})");
                }
                let mut flags = Vec::new();
                if task.overlap_expiry().is_some() {
                    flags.push("without overlapping");
                }
                if task.runs_on_one_server() {
                    flags.push("on one server");
                }
                if task.runs_in_maintenance() {
                    flags.push("even in maintenance");
                }
                let mut name = format!("{} {}", task.kind_name(), task.description());
                if !flags.is_empty() {
                    name = format!("{name} ({})", flags.join(", "));
                }
                ListRow {
                    expression,
                    task: name,
                    next_due: task.next_due(now).map_or_else(
                        || "never".to_owned(),
                        |at| {
                            at.with_timezone(&display)
                                .format("%Y-%m-%d %H:%M:%S %Z")
                                .to_string()
                        },
                    ),
                }
            })
            .collect()
    }
}

fn unknown_command(task: &str, name: &str, known: &[String]) -> String {
    let mut close: Vec<(usize, &str)> = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), k.as_str()))
        .filter(|(distance, _)| *distance <= (name.chars().count() / 3).max(2))
        .collect();
    close.sort_unstable();
    let hint = match close.first() {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None => "run the app with `list` to see its commands".to_owned(),
    };
    format!("task `{task}`: command `{name}` is not defined; {hint}")
}

/// A row of `schedule:list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// The cron expression, with the task's time zone when it differs from the display's.
    pub expression: String,
    /// Kind, name and guards.
    pub task: String,
    /// The next due time, or `never`.
    pub next_due: String,
}

/// The rows as an aligned table with a header, as `schedule:list` prints it.
pub fn render_list(rows: &[ListRow]) -> String {
    let headers = ("EXPRESSION", "TASK", "NEXT DUE");
    let width = |f: fn(&ListRow) -> &str, header: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let (we, wt) = (
        width(|r| &r.expression, headers.0),
        width(|r| &r.task, headers.1),
    );
    let mut out = format!("  {:we$}  {:wt$}  {}\n", headers.0, headers.1, headers.2);
    for row in rows {
        out.push_str(&format!(
            "  {:we$}  {:wt$}  {}\n",
            row.expression, row.task, row.next_due
        ));
    }
    out
}
