//! Real `queue:work` processes on a shared SQLite file: SIGTERM lets the running job finish
//! and takes no more; a worker killed with SIGKILL mid-job leaves the job reserved, and after
//! `retry_after` another worker runs it again (at-least-once delivery); `queue:restart`
//! (through the database cache store) stops workers after their running job; workers take no
//! jobs while the app is down, unless `--force`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use blog::jobs::Pause;
use foundry::Kernel;
use foundry::config::ConfigLoader;
use foundry::db::Db;
use foundry::queue::{JobStatus, QueueManager};
use support::{blog_in, wait_output};

struct App {
    dir: tempfile::TempDir,
    url: String,
    kernel: Kernel,
}

impl App {
    /// A root with its own foundry.toml (jobs and cache on the database, retry_after 2s) and
    /// database.
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("app.sqlite").display());
        std::fs::write(
            dir.path().join("foundry.toml"),
            "[app]\nname = \"Workers\"\n\n[queue]\ndefault = \"database\"\n\n\
             [queue.connections.database]\ndriver = \"database\"\nretry_after_secs = 2\n\n\
             [cache]\ndefault = \"database\"\n\n[cache.stores.database]\ndriver = \"database\"\n",
        )
        .unwrap();
        let config = ConfigLoader::new(dir.path())
            .dotenv(false)
            .vars([
                ("FOUNDRY_ENV", "testing"),
                ("FOUNDRY_DATABASE__URL", url.as_str()),
            ])
            .load()
            .unwrap();
        let kernel = Kernel::boot::<blog::Blog>(config).await.unwrap();
        blog::prepare_demo_database(&kernel.context().make::<Db>().unwrap())
            .await
            .unwrap();
        Self { dir, url, kernel }
    }

    fn queue(&self) -> QueueManager {
        (*self.kernel.context().make::<QueueManager>().unwrap()).clone()
    }

    fn done_file(&self) -> PathBuf {
        self.dir.path().join("done.txt")
    }

    fn done(&self) -> String {
        std::fs::read_to_string(self.done_file()).unwrap_or_default()
    }

    async fn dispatch_pause(&self, ms: u64) -> String {
        let job = Pause {
            ms,
            done_file: self.done_file().display().to_string(),
        };
        self.queue()
            .dispatch(job)
            .await
            .unwrap()
            .id()
            .unwrap()
            .to_owned()
    }

    fn worker(&self, extra: &[&str]) -> Child {
        let mut command = blog_in(self.dir.path());
        command
            .args(["queue:work", "--sleep", "1", "--tries", "3"])
            .args(extra)
            .env("FOUNDRY_ENV", "testing")
            .env("FOUNDRY_DATABASE__URL", &self.url)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("the worker starts")
    }

    /// Run a command of the app to completion.
    fn command(&self, args: &[&str]) -> Output {
        let mut command = blog_in(self.dir.path());
        command
            .args(args)
            .env("FOUNDRY_ENV", "testing")
            .env("FOUNDRY_DATABASE__URL", &self.url)
            .env("RUST_LOG", "info");
        support::run(command, Duration::from_secs(30))
    }

    async fn wait_for_status(&self, id: &str, status: JobStatus) {
        let started = Instant::now();
        while self.queue().status(id).await.unwrap() != Some(status) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "job {id} never became {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{name}");
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn sigterm_finishes_the_running_job_takes_no_more_and_exits_0() {
    let app = App::new().await;
    let first = app.dispatch_pause(4000).await;
    let second = app.dispatch_pause(10).await;
    let worker = app.worker(&[]);
    app.wait_for_status(&first, JobStatus::Running).await;
    signal(&worker, "TERM");
    let output = wait_output(worker, Duration::from_secs(30));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "exit status 0\n{logs}");
    assert!(logs.contains("received SIGTERM"), "{logs}");
    assert!(
        logs.contains("job processed") && logs.contains("name=pause") && logs.contains("attempt=1"),
        "{logs}"
    );
    assert_eq!(
        lines(&app.done_file()),
        [format!("{first} attempt 1")],
        "the running job finished"
    );
    assert_eq!(
        app.queue().status(&first).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
    assert_eq!(
        app.queue().status(&second).await.unwrap(),
        Some(JobStatus::Queued),
        "no new job was taken"
    );
}

#[tokio::test]
async fn a_job_whose_worker_was_killed_runs_again_after_retry_after() {
    let app = App::new().await;
    let id = app.dispatch_pause(4000).await;
    let doomed = app.worker(&[]);
    app.wait_for_status(&id, JobStatus::Running).await;
    let reserved_at = Instant::now();
    signal(&doomed, "KILL");
    let output = wait_output(doomed, Duration::from_secs(10));
    assert_eq!(output.status.code(), None, "killed by a signal");
    assert!(app.done().is_empty(), "the job never finished");
    assert_eq!(
        app.queue().status(&id).await.unwrap(),
        Some(JobStatus::Running),
        "still reserved"
    );

    // The reservation expires after retry_after (2s); then any worker may take the job.
    let wait = Duration::from_millis(2300).saturating_sub(reserved_at.elapsed());
    tokio::time::sleep(wait).await;
    let rescuer = app.worker(&["--stop-when-empty"]);
    let output = wait_output(rescuer, Duration::from_secs(30));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{logs}");
    assert!(
        logs.contains("attempt=2"),
        "the killed attempt counted: {logs}"
    );
    assert_eq!(lines(&app.done_file()), [format!("{id} attempt 2")]);
    assert_eq!(
        app.queue().status(&id).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
}

#[tokio::test]
async fn failed_jobs_are_listed_retried_and_flushed_from_the_command_line() {
    let app = App::new().await;
    // A payload of a job type the app does not know fails with a clear exception.
    let connection = app.queue().connection(None).await.unwrap();
    connection
        .driver()
        .push(vec![foundry::queue::NewJob {
            uuid: "11111111-2222-3333-4444-555555555555".to_owned(),
            queue: "default".to_owned(),
            payload:
                r#"{"uuid":"11111111-2222-3333-4444-555555555555","name":"gone_job","data":{}}"#
                    .to_owned(),
            available_at_ms: 0,
        }])
        .await
        .unwrap();
    let run = |args: &[&str]| app.command(args);
    let worked = run(&["queue:work", "--stop-when-empty"]);
    assert_eq!(worked.status.code(), Some(0));
    let listed = run(&["queue:failed"]);
    let (stdout, _) = support::texts(&listed);
    assert!(
        stdout.contains("11111111-2222-3333-4444-555555555555"),
        "{stdout}"
    );
    assert!(
        stdout.contains("gone_job") && stdout.contains("unknown job `gone_job`"),
        "{stdout}"
    );
    let retried = run(&["queue:retry", "all"]);
    let (stdout, _) = support::texts(&retried);
    assert!(
        stdout.starts_with("Retrying 11111111-2222-3333-4444-555555555555 as "),
        "{stdout}"
    );
    assert_eq!(
        connection.driver().size("default").await.unwrap(),
        1,
        "back on its queue"
    );
    let monitor = run(&["queue:monitor", "database:default", "--max", "0"]);
    assert_eq!(monitor.status.code(), Some(1), "one job is above --max 0");
    assert!(
        support::texts(&monitor)
            .0
            .contains("database:default  1  ALERT")
    );
    let cleared = run(&["queue:clear"]);
    assert!(
        support::texts(&cleared)
            .0
            .contains("Cleared 1 job(s) from database:default")
    );
    run(&["queue:work", "--stop-when-empty"]);
    let flushed = run(&["queue:flush"]);
    assert_eq!(
        support::texts(&flushed).0.trim(),
        "Deleted 0 failed job(s)."
    );
    let forgotten = run(&["queue:forget", "nope"]);
    assert_eq!(forgotten.status.code(), Some(1));
    assert!(
        support::texts(&forgotten)
            .1
            .contains("no failed job with id `nope`")
    );
}

#[tokio::test]
async fn queue_restart_stops_workers_once_their_running_job_is_done() {
    let app = App::new().await;
    let first = app.dispatch_pause(8000).await;
    let second = app.dispatch_pause(10).await;
    let worker = app.worker(&[]);
    app.wait_for_status(&first, JobStatus::Running).await;
    let restart = app.command(&["queue:restart"]);
    let (stdout, stderr) = support::texts(&restart);
    assert_eq!(restart.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("Workers will stop once their running jobs are done"),
        "{stdout}"
    );
    let output = wait_output(worker, Duration::from_secs(30));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "exit status 0\n{logs}");
    assert!(logs.contains("queue:restart was asked"), "{logs}");
    assert_eq!(
        lines(&app.done_file()),
        [format!("{first} attempt 1")],
        "the running job finished"
    );
    assert_eq!(
        app.queue().status(&second).await.unwrap(),
        Some(JobStatus::Queued),
        "no new job was taken"
    );

    // A cache each process keeps to itself cannot reach workers: refused, with the fix.
    let mut command = blog_in(app.dir.path());
    command
        .args(["queue:restart"])
        .env("FOUNDRY_ENV", "testing")
        .env("FOUNDRY_DATABASE__URL", &app.url)
        .env("FOUNDRY_CACHE__DEFAULT", "memory");
    let refused = support::run(command, Duration::from_secs(30));
    assert_eq!(refused.status.code(), Some(1));
    let (_, stderr) = support::texts(&refused);
    assert!(
        stderr.contains("the default cache store `memory` is a memory store"),
        "{stderr}"
    );
}

#[tokio::test]
async fn workers_take_no_jobs_while_the_app_is_down_unless_forced() {
    let app = App::new().await;
    assert_eq!(app.command(&["down"]).status.code(), Some(0));
    let id = app.dispatch_pause(10).await;

    // Paused: --stop-when-empty stops at once, the job stays queued.
    let paused = app.command(&["queue:work", "--stop-when-empty"]);
    let (logs, _) = support::texts(&paused);
    assert_eq!(paused.status.code(), Some(0), "{logs}");
    assert!(logs.contains("the app is down for maintenance"), "{logs}");
    assert_eq!(
        app.queue().status(&id).await.unwrap(),
        Some(JobStatus::Queued)
    );
    let forced = app.command(&["queue:work", "--stop-when-empty", "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(
        app.queue().status(&id).await.unwrap(),
        Some(JobStatus::Succeeded)
    );

    // A running worker waits while the app is down and takes the job once it is up.
    let second = app.dispatch_pause(10).await;
    let log_file = app.dir.path().join("worker.log");
    let mut command = blog_in(app.dir.path());
    command
        .args(["queue:work", "--sleep", "1"])
        .env("FOUNDRY_ENV", "testing")
        .env("FOUNDRY_DATABASE__URL", &app.url)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&log_file).unwrap())
        .stderr(Stdio::null());
    let worker = command.spawn().expect("the worker starts");
    let started = Instant::now();
    while !std::fs::read_to_string(&log_file)
        .unwrap_or_default()
        .contains("the app is down for maintenance")
    {
        assert!(started.elapsed() < Duration::from_secs(30), "never paused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.queue().status(&second).await.unwrap(),
        Some(JobStatus::Queued)
    );
    assert_eq!(app.command(&["up"]).status.code(), Some(0));
    app.wait_for_status(&second, JobStatus::Succeeded).await;
    signal(&worker, "TERM");
    let output = wait_output(worker, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0));
    let logs = std::fs::read_to_string(&log_file).unwrap();
    assert!(logs.contains("the app is up again"), "{logs}");
}
