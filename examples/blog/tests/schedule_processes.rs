//! The schedule commands of the real blog binary: `schedule:list` output, `schedule:run`
//! running the due tasks once, `schedule:test` running one by name, bad `[schedule]`
//! settings failing clearly, and three `schedule:work` processes sharing a Redis or
//! PostgreSQL lock store, where each `on_one_server` task runs exactly once per tick and
//! SIGTERM ends each with status 0.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{blog_in, run, texts};

/// A root whose foundry.toml holds `extra` after an `[app]` section.
fn root_with(extra: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("foundry.toml"),
        format!("[app]\nname = \"Scheduled Blog\"\n\n{extra}"),
    )
    .unwrap();
    root
}

fn blog_cmd(root: &Path, database_url: &str) -> Command {
    let mut command = blog_in(root);
    command
        .env("FOUNDRY_ENV", "testing")
        .env("FOUNDRY_DATABASE__URL", database_url)
        .env("FOUNDRY_LOG__FORMAT", "json");
    command
}

fn migrate(root: &Path, database_url: &str) {
    let mut command = blog_cmd(root, database_url);
    command.arg("migrate");
    let output = run(command, Duration::from_secs(60));
    let (out, err) = texts(&output);
    assert!(output.status.success(), "migrate failed\n{out}\n{err}");
}

/// The log lines (JSON) whose message is `message` and whose task is `task`.
fn task_lines<'a>(lines: &'a [String], message: &str, task: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| l.contains(&format!("\"message\":\"{message}")))
        .filter(|l| l.contains(&format!("\"task\":\"{task}\"")))
        .collect()
}

#[test]
fn schedule_list_shows_each_task_with_its_next_due_time() {
    let root = root_with("[schedule]\ntimezone = \"Europe/Paris\"\n");
    let mut command = blog_in(root.path());
    command.env("FOUNDRY_ENV", "testing").arg("schedule:list");
    let output = run(command, Duration::from_secs(60));
    let (out, err) = texts(&output);
    assert!(output.status.success(), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("  EXPRESSION  TASK") && lines[0].ends_with("NEXT DUE"),
        "{out}"
    );
    let columns = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let stats = columns(lines[1]);
    assert_eq!(
        stats[..2],
        ["* * * * *", "closure blog:refresh-stats (on one server)"]
    );
    let prune = columns(lines[2]);
    assert_eq!(
        prune[..2],
        [
            "0 3 * * *",
            "command posts:prune-trashed --days=30 (without overlapping)"
        ]
    );
    // Next due in the app's zone: `2026-11-23 03:00:00 CET` (CEST in summer).
    for (row, time) in [(&stats, ":00 "), (&prune, " 03:00:00 ")] {
        let due = &row[2];
        assert!(due.contains(time), "{due}");
        assert!(due.ends_with("CET") || due.ends_with("CEST"), "{due}");
        assert_eq!(
            due.len(),
            "2026-11-23 03:00:00 CET".len() + usize::from(due.ends_with("CEST")),
            "{due}"
        );
    }
}

/// `schedule:run` on `root` with `database_url`: it exits 0; its stdout lines.
fn schedule_run(root: &Path, database_url: &str) -> Vec<String> {
    let mut command = blog_cmd(root, database_url);
    command.arg("schedule:run");
    let output = run(command, Duration::from_secs(60));
    let (out, err) = texts(&output);
    assert!(output.status.success(), "{out}\n{err}");
    out.lines().map(str::to_owned).collect()
}

#[test]
fn schedule_run_runs_the_due_tasks_once_and_logs_each() {
    let root = root_with("");
    let url = format!("sqlite://{}", root.path().join("blog.sqlite").display());
    migrate(root.path(), &url);
    let lines = schedule_run(root.path(), &url);
    let ran = task_lines(&lines, "scheduled task succeeded", "blog:refresh-stats");
    assert_eq!(ran.len(), 1, "{lines:#?}");
    assert!(ran[0].contains("\"duration_ms\":"), "{}", ran[0]);
    assert!(ran[0].contains("\"kind\":\"closure\""), "{}", ran[0]);
    // The memory cache store cannot share on_one_server claims: the run says so.
    assert!(
        lines.iter().any(|l| l.contains("memory cache store")),
        "{lines:#?}"
    );
}

#[test]
fn a_failing_task_is_logged_with_its_error_and_schedule_run_still_exits_0() {
    // No migrations: the stats task cannot count posts, and says why.
    let root = root_with("");
    let url = format!("sqlite://{}", root.path().join("empty.sqlite").display());
    let lines = schedule_run(root.path(), &url);
    let failed = task_lines(&lines, "scheduled task failed", "blog:refresh-stats");
    assert_eq!(failed.len(), 1, "{lines:#?}");
    assert!(
        failed[0].contains("posts"),
        "the error names the missing table: {}",
        failed[0]
    );
}

#[test]
fn schedule_test_runs_one_task_by_name_now() {
    let root = root_with("");
    let url = format!("sqlite://{}", root.path().join("blog.sqlite").display());
    migrate(root.path(), &url);
    let test = |args: &[&str]| {
        let mut command = blog_cmd(root.path(), &url);
        command.arg("schedule:test").args(args);
        let output = run(command, Duration::from_secs(60));
        let (out, err) = texts(&output);
        (output.status.code(), out, err)
    };
    let (code, out, err) = test(&["--name", "blog:refresh-stats"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("`blog:refresh-stats` succeeded in "), "{out}");

    let (code, out, err) = test(&["--name", "blog:refresh-stat"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains(
            "no scheduled task is named `blog:refresh-stat`; did you mean `blog:refresh-stats`?"
        ),
        "{err}"
    );

    let (code, _, err) = test(&[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("name the task to run with --name"), "{err}");
    assert!(err.contains("  posts:prune-trashed --days=30"), "{err}");
}

#[test]
fn bad_schedule_settings_fail_every_command_with_a_clear_error() {
    for (extra, expected) in [
        (
            "[schedule]\ntimezone = \"Europe/Pari\"\n",
            "[schedule] timezone: unknown time zone `Europe/Pari`; did you mean `Europe/Paris`?",
        ),
        (
            "[schedule]\ncache = \"shared\"\n",
            "[schedule] cache: cache store `shared` is not defined",
        ),
        ("[schedule]\nzone = \"UTC\"\n", "zone"),
    ] {
        let root = root_with(extra);
        let mut command = blog_in(root.path());
        command.env("FOUNDRY_ENV", "testing").arg("schedule:list");
        let output = run(command, Duration::from_secs(60));
        let (out, err) = texts(&output);
        assert_eq!(output.status.code(), Some(1), "{extra}\n{out}\n{err}");
        assert!(err.contains(expected), "{extra}: {err}");
    }
}

/// A `schedule:work` process and the lines it printed so far.
struct Worker {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .arg("schedule:work")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the blog starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait (at most `limit`) for a line containing `needle`; return it.
    fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                started.elapsed() < limit,
                "no line with {needle:?} after {limit:?}:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "schedule:work still running 30s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `first_tick` of a worker's start line.
fn first_tick(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    value["fields"]["first_tick"]
        .as_str()
        .expect("the start line names the first tick")
        .to_owned()
}

/// Three `schedule:work` processes on `root`: wait for one tick they all reach, check the
/// on_one_server task ran on exactly one of them and the others skipped it, then stop them.
fn three_schedulers_run_each_tick_once(root: &Path, database_url: &str) {
    let mut attempt = 0;
    let workers = loop {
        // Start early in a minute so every process waits for the same first tick; a boot
        // that straddles a minute gets another attempt.
        while chrono::Utc::now().timestamp() % 60 > 40 {
            std::thread::sleep(Duration::from_millis(200));
        }
        let workers: Vec<Worker> = (0..3)
            .map(|_| Worker::spawn(blog_cmd(root, database_url)))
            .collect();
        let ticks: Vec<String> = workers
            .iter()
            .map(|w| {
                first_tick(&w.wait_for("running the scheduled tasks", Duration::from_secs(60)))
            })
            .collect();
        if ticks.iter().all(|t| *t == ticks[0]) {
            break workers;
        }
        attempt += 1;
        assert!(
            attempt < 3,
            "the schedulers never agreed on a first tick: {ticks:?}"
        );
    };
    // The first tick comes within a minute of the start line.
    let outcomes: Vec<String> = workers
        .iter()
        .map(|w| {
            let needle = "\"task\":\"blog:refresh-stats\"";
            w.wait_for(needle, Duration::from_secs(90))
        })
        .collect();
    let ran = outcomes
        .iter()
        .filter(|l| l.contains("scheduled task succeeded"))
        .count();
    let skipped = outcomes
        .iter()
        .filter(|l| l.contains("another server runs this tick"))
        .count();
    assert_eq!((ran, skipped), (1, 2), "{outcomes:#?}");
    for mut worker in workers {
        let status = worker.terminate();
        let lines = worker.lines();
        assert_eq!(status.code(), Some(0), "{}", lines.join("\n"));
        assert!(
            lines.iter().any(|l| l.contains("scheduler stopped")),
            "{}",
            lines.join("\n")
        );
        // Each tick has exactly one line for the task per process.
        let per_tick = lines
            .iter()
            .filter(|l| l.contains("\"task\":\"blog:refresh-stats\""))
            .count();
        assert!(per_tick <= 2, "{}", lines.join("\n"));
    }
}

fn redis_url() -> Option<String> {
    service_url("FOUNDRY_TEST_REDIS_URL")
}

fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FOUNDRY_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FOUNDRY_REQUIRE_SERVICES=1 but {var} is not set"
            );
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[test]
fn three_schedule_workers_sharing_redis_run_each_on_one_server_task_once_per_tick() {
    let Some(redis) = redis_url() else {
        return;
    };
    let prefix = format!("{}:", unique("blog_schedule"));
    let root = root_with(&format!(
        "[cache]\ndefault = \"memory\"\nprefix = \"{prefix}\"\n\n\
         [cache.stores.redis]\ndriver = \"redis\"\nurl = \"{redis}\"\n\n\
         [schedule]\ncache = \"redis\"\n"
    ));
    let url = format!("sqlite://{}", root.path().join("blog.sqlite").display());
    migrate(root.path(), &url);
    three_schedulers_run_each_tick_once(root.path(), &url);
}

#[test]
fn three_schedule_workers_sharing_the_postgres_cache_run_each_on_one_server_task_once_per_tick() {
    let Some(base) = service_url("FOUNDRY_TEST_DATABASE_URL") else {
        return;
    };
    let schema = unique("blog_schedule");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let admin = foundry::db::Db::connect(&base)
            .await
            .expect("PostgreSQL answers");
        admin
            .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
            .await
            .expect("a schema of its own");
    });
    let root = root_with(&format!(
        "[database]\nsearch_path = \"{schema}\"\n\n\
         [cache]\ndefault = \"database\"\n\n\
         [cache.stores.database]\ndriver = \"database\"\n"
    ));
    migrate(root.path(), &base);
    three_schedulers_run_each_tick_once(root.path(), &base);
}
