//! [`Task`]: one scheduled piece of work, when it runs and what guards it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use foundry_core::{AppContext, BoxFuture};

use crate::TaskResult;

/// Laravel's default `withoutOverlapping` expiry: 24 hours.
pub const DEFAULT_OVERLAP_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// How long an `on_one_server` claim on a tick lasts (Laravel's hour).
pub(crate) const ONE_SERVER_TTL: Duration = Duration::from_secs(3600);

/// Occurrences `next_due` looks through for one that passes `between`/`unless_between`
/// (a month of every-minute ticks).
const NEXT_DUE_SEARCH: usize = 45_000;

pub(crate) type Closure = Arc<dyn Fn(AppContext) -> BoxFuture<'static, TaskResult> + Send + Sync>;
pub(crate) type Predicate = Arc<dyn Fn(&AppContext) -> bool + Send + Sync>;
#[cfg(feature = "queue")]
pub(crate) type Dispatch =
    fn(foundry_queue::QueueManager, serde_json::Value) -> BoxFuture<'static, TaskResult>;

/// What a task does.
#[derive(Clone)]
pub(crate) enum Kind {
    /// Dispatch a job to the queue.
    #[cfg(feature = "queue")]
    Job {
        data: serde_json::Value,
        dispatch: Dispatch,
    },
    /// Run a closure in the scheduler's process.
    Call(Closure),
    /// Run one of the app's commands as a child process of the app's binary.
    Command { args: Vec<String> },
}

/// A condition checked at the tick, beside the cron expression.
#[derive(Clone)]
enum Constraint {
    /// Local time of day within `[start, end]` (minutes since midnight; wraps past midnight).
    Between {
        start: u32,
        end: u32,
    },
    /// Local time of day outside `[start, end]`.
    UnlessBetween {
        start: u32,
        end: u32,
    },
    When(Predicate),
    Skip(Predicate),
    Environments(Vec<String>),
}

/// A scheduled task: what it runs, its cron expression (built by the frequency helpers) and
/// its constraints. The [`Schedule`](crate::Schedule) creates tasks; every setter returns
/// `&mut Task` so calls chain:
///
/// ```
/// use foundry_schedule::Schedule;
///
/// let mut schedule = Schedule::new();
/// schedule
///     .call("send-digest", |_ctx| async { Ok(()) })
///     .weekdays()
///     .daily_at("8:30")
///     .timezone("Europe/Paris")
///     .without_overlapping()
///     .on_one_server();
/// schedule.validate().unwrap();
/// assert_eq!(schedule.tasks()[0].expression(), "30 8 * * 1-5");
/// ```
///
/// Mistakes (a time like `"25:00"`, a bad cron expression, an unknown time zone) never
/// panic: they are collected and [`Schedule::validate`](crate::Schedule::validate) reports
/// them all, naming each task, when the app boots.
#[derive(Clone)]
pub struct Task {
    pub(crate) kind: Kind,
    description: String,
    /// minute, hour, day of month, month, day of week.
    pub(crate) fields: [String; 5],
    timezone: Option<String>,
    constraints: Vec<Constraint>,
    overlap: Option<Duration>,
    one_server: bool,
    even_in_maintenance: bool,
    pub(crate) problems: Vec<String>,
    compiled: Option<(Cron, Tz)>,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("kind", &self.kind_name())
            .field("description", &self.description)
            .field("expression", &self.expression())
            .field("timezone", &self.timezone)
            .field("without_overlapping", &self.overlap)
            .field("on_one_server", &self.one_server)
            .finish_non_exhaustive()
    }
}

impl Task {
    /// Every minute, as Laravel's events start.
    pub(crate) fn new(kind: Kind, description: String) -> Self {
        Self {
            kind,
            description,
            fields: ["*", "*", "*", "*", "*"].map(str::to_owned),
            timezone: None,
            constraints: Vec::new(),
            overlap: None,
            one_server: false,
            even_in_maintenance: false,
            problems: Vec::new(),
            compiled: None,
        }
    }

    /// The task's name: the job's name, the closure's name, or the command line; used in
    /// logs, `schedule:list` and the lock keys.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// `job`, `closure` or `command`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            #[cfg(feature = "queue")]
            Kind::Job { .. } => "job",
            Kind::Call(_) => "closure",
            Kind::Command { .. } => "command",
        }
    }

    /// For a command task, the command's name (its first word).
    pub fn command_name(&self) -> Option<&str> {
        if let Kind::Command { args } = &self.kind {
            args.first().map(String::as_str)
        } else {
            None
        }
    }

    /// The five-field cron expression the helpers built.
    pub fn expression(&self) -> String {
        self.fields.join(" ")
    }

    /// The time zone the expression is read in, once validated.
    pub fn tz(&self) -> Option<Tz> {
        self.compiled.as_ref().map(|(_, tz)| *tz)
    }

    /// The lock expiry when `without_overlapping` is on.
    pub fn overlap_expiry(&self) -> Option<Duration> {
        self.overlap
    }

    /// Whether only one server runs each tick of this task.
    pub fn runs_on_one_server(&self) -> bool {
        self.one_server
    }

    /// Whether the task runs while the app is in maintenance mode.
    pub fn runs_in_maintenance(&self) -> bool {
        self.even_in_maintenance
    }

    /// Name the task (Laravel's `name()`/`description()`): logs, `schedule:list` and the lock
    /// keys use it. Two servers must give a task the same name to share its locks.
    pub fn name(&mut self, name: &str) -> &mut Self {
        if name.trim().is_empty() {
            self.problem("name(\"\"): a task name cannot be empty".to_owned());
        } else {
            name.clone_into(&mut self.description);
        }
        self
    }

    /// Read the expression in this IANA time zone (`"Europe/Paris"`) instead of
    /// `[schedule] timezone`.
    pub fn timezone(&mut self, name: &str) -> &mut Self {
        self.timezone = Some(name.to_owned());
        self
    }

    /// Run only while the local time of day is between `start` and `end` (`"8:00"`,
    /// `"17:00"`), both included; `"22:00"` to `"6:00"` spans midnight.
    pub fn between(&mut self, start: &str, end: &str) -> &mut Self {
        if let Some((start, end)) = self.span("between", start, end) {
            self.constraints.push(Constraint::Between { start, end });
        }
        self
    }

    /// Skip while the local time of day is between `start` and `end`.
    pub fn unless_between(&mut self, start: &str, end: &str) -> &mut Self {
        if let Some((start, end)) = self.span("unless_between", start, end) {
            self.constraints
                .push(Constraint::UnlessBetween { start, end });
        }
        self
    }

    /// Run only when `condition` returns true at the tick.
    pub fn when(
        &mut self,
        condition: impl Fn(&AppContext) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        self.constraints.push(Constraint::When(Arc::new(condition)));
        self
    }

    /// Skip when `condition` returns true at the tick.
    pub fn skip(
        &mut self,
        condition: impl Fn(&AppContext) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        self.constraints.push(Constraint::Skip(Arc::new(condition)));
        self
    }

    /// Run only in these environments (`"production"`, `"staging"`, …).
    pub fn environments(&mut self, names: &[&str]) -> &mut Self {
        self.constraints.push(Constraint::Environments(
            names.iter().map(|n| (*n).to_owned()).collect(),
        ));
        self
    }

    /// Do not start while the previous run still runs: a cache lock is held while the task
    /// runs, expiring after 24 hours in case the process dies (Laravel's default).
    pub fn without_overlapping(&mut self) -> &mut Self {
        self.without_overlapping_for(DEFAULT_OVERLAP_EXPIRY)
    }

    /// [`Task::without_overlapping`] with the lock expiring after `expiry`.
    pub fn without_overlapping_for(&mut self, expiry: Duration) -> &mut Self {
        if expiry.is_zero() {
            self.problem(
                "without_overlapping_for(0s): the lock expiry must be positive".to_owned(),
            );
        } else {
            self.overlap = Some(expiry);
        }
        self
    }

    /// Run each tick on one server only: the first scheduler to claim the tick in the shared
    /// cache runs it, the others skip it.
    pub fn on_one_server(&mut self) -> &mut Self {
        self.one_server = true;
        self
    }

    /// Run even while the app is down for maintenance (skipped otherwise, as in Laravel).
    pub fn even_in_maintenance_mode(&mut self) -> &mut Self {
        self.even_in_maintenance = true;
        self
    }

    pub(crate) fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    fn span(&mut self, method: &str, start: &str, end: &str) -> Option<(u32, u32)> {
        let parsed = (parse_time(start), parse_time(end));
        match parsed {
            (Ok((sh, sm)), Ok((eh, em))) => Some((sh * 60 + sm, eh * 60 + em)),
            (Err(err), _) | (_, Err(err)) => {
                self.problem(format!("{method}(\"{start}\", \"{end}\"): {err}"));
                None
            }
        }
    }

    /// Compile the expression and resolve the time zone; the problems name the task.
    pub(crate) fn compile(&mut self, default_tz: Tz) -> Vec<String> {
        let mut problems = std::mem::take(&mut self.problems);
        let tz = match &self.timezone {
            Some(name) => match crate::config::parse_tz(name) {
                Ok(tz) => Some(tz),
                Err(err) => {
                    problems.push(format!("timezone(\"{name}\"): {err}"));
                    None
                }
            },
            None => Some(default_tz),
        };
        let expression = self.expression();
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&expression)
            .map_err(|err| {
                problems.push(format!(
                    "cron expression `{expression}` is invalid: {err}; write five fields: \
                     minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\""
                ));
            })
            .ok();
        let description = self.description.clone();
        let problems: Vec<String> = problems
            .into_iter()
            .map(|p| format!("task `{description}`: {p}"))
            .collect();
        self.compiled = match (cron, tz) {
            (Some(cron), Some(tz)) if problems.is_empty() => Some((cron, tz)),
            _ => None,
        };
        problems
    }

    /// Whether the expression matches the minute of `tick` in the task's time zone and the
    /// time-of-day constraints pass. False until the schedule is validated.
    pub fn is_due(&self, tick: DateTime<Utc>) -> bool {
        let Some((cron, tz)) = &self.compiled else {
            return false;
        };
        let local = minute_of(tick).with_timezone(tz);
        cron.is_time_matching(&local).unwrap_or(false) && self.time_allows(local.time())
    }

    /// The first minute after `after` when the task is due by its expression and time-of-day
    /// constraints (`when`/`skip` closures cannot be known ahead); `None` when nothing comes
    /// within the search window or before validation.
    pub fn next_due(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (cron, tz) = self.compiled.as_ref()?;
        let mut from = after.with_timezone(tz);
        for _ in 0..NEXT_DUE_SEARCH {
            let next = cron.find_next_occurrence(&from, false).ok()?;
            if self.time_allows(next.time()) {
                return Some(next.with_timezone(&Utc));
            }
            from = next;
        }
        None
    }

    fn time_allows(&self, time: chrono::NaiveTime) -> bool {
        let minute = time.hour() * 60 + time.minute();
        self.constraints.iter().all(|c| match c {
            Constraint::Between { start, end } => within(minute, *start, *end),
            Constraint::UnlessBetween { start, end } => !within(minute, *start, *end),
            _ => true,
        })
    }

    /// Whether the `when`, `skip` and `environments` constraints let the task run now.
    pub fn filters_pass(&self, ctx: &AppContext) -> bool {
        self.constraints.iter().all(|c| match c {
            Constraint::When(condition) => condition(ctx),
            Constraint::Skip(condition) => !condition(ctx),
            Constraint::Environments(names) => {
                let env = ctx.config().environment();
                names.iter().any(|n| n == env.as_str())
            }
            Constraint::Between { .. } | Constraint::UnlessBetween { .. } => true,
        })
    }

    /// The lock key of `without_overlapping`: stable across processes for the same
    /// expression and name (Laravel hashes the same two).
    pub fn mutex_key(&self) -> String {
        format!(
            "schedule-{:016x}",
            fnv1a(format!("{}{}", self.expression(), self.description).as_bytes())
        )
    }

    /// The lock key `on_one_server` claims for the tick's minute.
    pub fn one_server_key(&self, tick: DateTime<Utc>) -> String {
        format!(
            "{}-{}",
            self.mutex_key(),
            minute_of(tick).format("%Y%m%d%H%M")
        )
    }
}

/// `tick` without its seconds.
pub(crate) fn minute_of(tick: DateTime<Utc>) -> DateTime<Utc> {
    tick.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(tick)
}

fn within(minute: u32, start: u32, end: u32) -> bool {
    if start <= end {
        (start..=end).contains(&minute)
    } else {
        minute >= start || minute <= end
    }
}

/// 64-bit FNV-1a: a stable hash for lock keys (`std`'s hasher may differ between builds).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `"13:00"` / `"8:05"` → (13, 0) / (8, 5).
pub(crate) fn parse_time(text: &str) -> Result<(u32, u32), String> {
    let hint = "write the time as \"HH:MM\" (24-hour clock), e.g. \"13:00\"";
    let Some((hour, minute)) = text.trim().split_once(':') else {
        return Err(format!("`{text}` is not a time; {hint}"));
    };
    let number = |part: &str| -> Option<u32> {
        (!part.is_empty() && part.len() <= 2 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    match (number(hour), number(minute)) {
        (Some(h), Some(_)) if h > 23 => {
            Err(format!("hour {h} in `{text}` is out of range 0–23; {hint}"))
        }
        (Some(_), Some(m)) if m > 59 => Err(format!(
            "minute {m} in `{text}` is out of range 0–59; {hint}"
        )),
        (Some(h), Some(m)) if minute.len() == 2 => Ok((h, m)),
        _ => Err(format!("`{text}` is not a time; {hint}")),
    }
}

/// Split a command line into words: whitespace separates, single and double quotes group.
pub(crate) fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("command `{line}` has an unclosed {q} quote"));
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("command(\"\"): name the command to run, e.g. \"cache:prune\"".to_owned());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_bad_ones_say_why() {
        assert_eq!(parse_time("13:00"), Ok((13, 0)));
        assert_eq!(parse_time("8:05"), Ok((8, 5)));
        assert_eq!(parse_time("00:59"), Ok((0, 59)));
        assert!(parse_time("25:00").unwrap_err().contains("hour 25"));
        assert!(parse_time("12:60").unwrap_err().contains("minute 60"));
        for bad in [
            "", "13", "1300", "13:0", "ab:cd", "-1:00", "13:00:00", "1:2:3",
        ] {
            let err = parse_time(bad).unwrap_err();
            assert!(err.contains("HH:MM"), "{bad}: {err}");
        }
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(
            split_command("cache:prune --x").unwrap(),
            ["cache:prune", "--x"]
        );
        assert_eq!(
            split_command(r#"mail:send  "Ada Lovelace" --subject='Hi there'"#).unwrap(),
            ["mail:send", "Ada Lovelace", "--subject=Hi there"]
        );
        assert_eq!(split_command("a ''").unwrap(), ["a", ""]);
        assert!(
            split_command("a \"b")
                .unwrap_err()
                .contains("unclosed \" quote")
        );
        assert!(
            split_command("   ")
                .unwrap_err()
                .contains("name the command")
        );
    }

    #[test]
    fn time_spans_include_both_ends_and_wrap_past_midnight() {
        assert!(within(480, 480, 1020) && within(1020, 480, 1020));
        assert!(!within(479, 480, 1020) && !within(1021, 480, 1020));
        assert!(within(1380, 1320, 360) && within(0, 1320, 360) && within(360, 1320, 360));
        assert!(!within(720, 1320, 360));
    }

    #[test]
    fn lock_keys_are_stable_and_differ_per_tick() {
        let mut a = Task::new(
            Kind::Command {
                args: vec!["x".into()],
            },
            "x".into(),
        );
        let b = a.clone();
        assert_eq!(a.mutex_key(), b.mutex_key());
        let tick: DateTime<Utc> = "2026-11-22T09:00:42Z".parse().unwrap();
        assert!(a.one_server_key(tick).ends_with("-202611220900"));
        a.name("other");
        assert_ne!(a.mutex_key(), b.mutex_key());
        // FNV-1a of "" is its offset basis: the hash does not depend on the build.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
