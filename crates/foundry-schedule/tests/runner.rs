//! Running ticks: due tasks run once, failures and panics stay in their task, filters and
//! maintenance mode skip, jobs reach the queue, commands run as child processes, and the
//! locks of `without_overlapping` and `on_one_server` hold on every cache store.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use foundry_core::{AppContext, Clock};
use foundry_queue::{Job, JobContext, JobRegistry, JobResult, QueueManager};
use foundry_schedule::{Outcome, Schedule, Scheduler, Skip, Tick};
use serde::{Deserialize, Serialize};

fn tick(text: &str) -> Tick {
    Tick::at(text.parse::<DateTime<Utc>>().unwrap())
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// A closure task body that counts its runs.
fn counting(
    runs: &Arc<AtomicUsize>,
) -> impl Fn(AppContext) -> std::future::Ready<foundry_schedule::TaskResult> + Send + Sync + 'static
{
    let runs = runs.clone();
    move |_| {
        runs.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(()))
    }
}

async fn scheduler(schedule: Schedule, env: &str) -> (Scheduler, AppContext, tempfile::TempDir) {
    let clock = Clock::system();
    let (ctx, dir) = common::context(env, &clock, JobRegistry::new());
    let store = common::memory(&clock).await.unwrap();
    let mut schedule = schedule;
    schedule.validate().unwrap();
    (
        Scheduler::new(Arc::new(schedule), ctx.clone(), store.cache),
        ctx,
        dir,
    )
}

#[tokio::test]
async fn due_tasks_run_once_and_a_failure_or_panic_does_not_stop_the_others() {
    let (hourly, minutely, late) = (counter(), counter(), counter());
    let mut schedule = Schedule::new();
    schedule.call("hourly", counting(&hourly)).hourly();
    schedule
        .call("fails", |_| async { Err("the mail server said no".into()) })
        .every_minute();
    schedule
        .call("panics", |_| async { panic!("index out of bounds") })
        .every_minute();
    schedule
        .call("minutely", counting(&minutely))
        .every_minute();
    schedule.call("not-due", counting(&late)).daily_at("23:00");
    let (scheduler, _ctx, _dir) = scheduler(schedule, "testing").await;

    let report = scheduler.run(tick("2026-11-22T10:00:42Z")).await;
    assert_eq!(
        report.tick,
        "2026-11-22T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    let names: Vec<&str> = report.runs.iter().map(|r| r.task.as_str()).collect();
    assert_eq!(names, ["hourly", "fails", "panics", "minutely"]);
    assert_eq!(report.of("hourly").unwrap().outcome, Outcome::Succeeded);
    assert_eq!(
        report.of("fails").unwrap().outcome,
        Outcome::Failed("the mail server said no".into())
    );
    assert_eq!(
        report.of("panics").unwrap().outcome,
        Outcome::Failed("panicked: index out of bounds".into())
    );
    assert_eq!(report.of("minutely").unwrap().outcome, Outcome::Succeeded);
    assert_eq!(
        (
            hourly.load(Ordering::SeqCst),
            minutely.load(Ordering::SeqCst),
            late.load(Ordering::SeqCst)
        ),
        (1, 1, 0)
    );

    // The next minute: the hourly task is not due.
    let report = scheduler.run(tick("2026-11-22T10:01:00Z")).await;
    assert!(report.of("hourly").is_none());
    assert_eq!(minutely.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn when_skip_and_environments_filter_at_the_tick() {
    let (when_yes, when_no, skipped, kept, prod, testing) = (
        counter(),
        counter(),
        counter(),
        counter(),
        counter(),
        counter(),
    );
    let mut schedule = Schedule::new();
    schedule
        .call("when-yes", counting(&when_yes))
        .when(|_| true);
    schedule.call("when-no", counting(&when_no)).when(|_| false);
    schedule.call("skip-yes", counting(&skipped)).skip(|_| true);
    schedule
        .call("skip-no", counting(&kept))
        .skip(|ctx| ctx.config().environment().as_str() == "production");
    schedule
        .call("prod", counting(&prod))
        .environments(&["production"]);
    schedule
        .call("testing", counting(&testing))
        .environments(&["staging", "testing"]);
    schedule
        .call("condition-panics", counting(&prod))
        .when(|_| panic!("the feature flag service is down"));
    let (scheduler, _ctx, _dir) = scheduler(schedule, "testing").await;
    let report = scheduler.run(tick("2026-11-22T10:00:00Z")).await;
    let names: Vec<&str> = report.runs.iter().map(|r| r.task.as_str()).collect();
    assert_eq!(names, ["when-yes", "skip-no", "testing"]);
    let counts: Vec<usize> = [&when_yes, &when_no, &skipped, &kept, &prod, &testing]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .collect();
    assert_eq!(counts, [1, 0, 0, 1, 0, 1]);
}

#[tokio::test]
async fn maintenance_mode_skips_tasks_unless_they_opt_in() {
    let (normal, always) = (counter(), counter());
    let mut schedule = Schedule::new();
    schedule.call("normal", counting(&normal));
    schedule
        .call("always", counting(&always))
        .even_in_maintenance_mode();
    let (scheduler, _ctx, _dir) = scheduler(schedule, "testing").await;
    let report = scheduler
        .run(tick("2026-11-22T10:00:00Z").in_maintenance(true))
        .await;
    assert_eq!(report.runs.len(), 1);
    assert_eq!(report.runs[0].task, "always");
    assert_eq!(
        (normal.load(Ordering::SeqCst), always.load(Ordering::SeqCst)),
        (0, 1)
    );
    scheduler.run(tick("2026-11-22T10:01:00Z")).await;
    assert_eq!(
        (normal.load(Ordering::SeqCst), always.load(Ordering::SeqCst)),
        (1, 2)
    );
}

#[tokio::test]
async fn a_task_runs_now_by_name_whatever_its_schedule() {
    let runs = counter();
    let mut schedule = Schedule::new();
    schedule
        .call("yearly-report", counting(&runs))
        .yearly()
        .when(|_| false)
        .on_one_server();
    schedule.call("fails", |_| async { Err("no".into()) });
    let (scheduler, _ctx, _dir) = scheduler(schedule, "testing").await;
    let run = scheduler.run_now("yearly-report").await.unwrap();
    assert_eq!(
        (run.task.as_str(), &run.outcome),
        ("yearly-report", &Outcome::Succeeded)
    );
    // Twice in the same minute: no tick claim, so it runs again.
    scheduler.run_now("yearly-report").await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        scheduler.run_now("fails").await.unwrap().outcome,
        Outcome::Failed("no".into())
    );
    let err = scheduler.run_now("yearly-reprt").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no scheduled task is named `yearly-reprt`; did you mean `yearly-report`?"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct PruneDrafts {
    days: u32,
}

impl Job for PruneDrafts {
    const NAME: &'static str = "prune_drafts";

    async fn handle(&self, _ctx: &JobContext) -> JobResult {
        Ok(())
    }
}

#[tokio::test]
async fn scheduled_jobs_are_dispatched_to_the_queue_each_tick() {
    let clock = Clock::system();
    let mut jobs = JobRegistry::new();
    jobs.register::<PruneDrafts>();
    let (ctx, _dir) = common::context("testing", &clock, jobs);
    let store = common::memory(&clock).await.unwrap();
    let mut schedule = Schedule::new();
    schedule.job(PruneDrafts { days: 30 }).every_five_minutes();
    schedule.validate().unwrap();
    assert_eq!(schedule.tasks()[0].description(), "prune_drafts");
    assert_eq!(schedule.tasks()[0].kind_name(), "job");
    let scheduler = Scheduler::new(Arc::new(schedule), ctx.clone(), store.cache);
    for minute in ["10:00", "10:01", "10:05"] {
        let report = scheduler
            .run(tick(&format!("2026-11-22T{minute}:00Z")))
            .await;
        assert!(
            report.runs.iter().all(|r| r.outcome == Outcome::Succeeded),
            "{report:?}"
        );
    }
    let queue = ctx.make::<QueueManager>().unwrap();
    let connection = queue.connection(None).await.unwrap();
    assert_eq!(connection.driver().size("default").await.unwrap(), 2);
    let reserved = connection
        .driver()
        .pop(&["default".to_owned()], 10)
        .await
        .unwrap();
    assert_eq!(reserved.len(), 2);
    let payload: foundry_queue::Payload = serde_json::from_str(&reserved[0].payload).unwrap();
    assert_eq!(payload.name, "prune_drafts");
    assert_eq!(payload.data, serde_json::json!({ "days": 30 }));
}

#[tokio::test]
async fn a_scheduled_job_without_a_queue_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = foundry_core::config::ConfigLoader::new(dir.path())
        .dotenv(false)
        .vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let ctx = AppContext::new(config, foundry_core::ServicesBuilder::new().build());
    let mut schedule = Schedule::new();
    schedule.job(PruneDrafts { days: 1 });
    schedule.validate().unwrap();
    let locks = common::memory(&Clock::system()).await.unwrap().cache;
    let report = Scheduler::new(Arc::new(schedule), ctx, locks)
        .run(tick("2026-11-22T10:00:00Z"))
        .await;
    let Outcome::Failed(error) = &report.runs[0].outcome else {
        panic!("{report:?}");
    };
    assert!(
        error.starts_with("a scheduled job needs the queue"),
        "{error}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn commands_run_as_child_processes_of_the_app_binary_and_their_exit_status_counts() {
    use std::os::unix::fs::PermissionsExt;
    let (scheduler_base, ctx, dir) = {
        let mut schedule = Schedule::new();
        schedule.command("report:send --to='Ada Lovelace'");
        schedule.command("report:fail");
        scheduler(schedule, "testing").await
    };
    // A stand-in for the app's binary: it records its arguments and root, and fails on
    // `report:fail` with a message on stderr.
    let program = dir.path().join("app");
    let log = dir.path().join("calls.txt");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" >> {log}\necho \"root=$FOUNDRY_ROOT\" >> {log}\n\
             if [ \"$1\" = report:fail ]; then echo 'error: the report server is down' >&2; exit 3; fi\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scheduler = scheduler_base.program(&program);
    let report = scheduler.run(tick("2026-11-22T10:00:00Z")).await;
    assert_eq!(report.runs[0].outcome, Outcome::Succeeded);
    assert_eq!(
        report.runs[1].outcome,
        Outcome::Failed("exited with status 3: error: the report server is down".into())
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    let root = ctx.config().root().display().to_string();
    assert!(
        calls.contains(&format!("report:send|--to=Ada Lovelace|root={root}")),
        "{calls}"
    );
    assert!(calls.contains("report:fail|"), "{calls}");

    // A binary that does not exist is a failure naming it, not a panic.
    let missing = scheduler.program(dir.path().join("missing"));
    let report = missing.run(tick("2026-11-22T10:01:00Z")).await;
    let Outcome::Failed(error) = &report.runs[0].outcome else {
        panic!("{report:?}");
    };
    assert!(
        error.starts_with("cannot start `") && error.contains("missing"),
        "{error}"
    );
}

/// `without_overlapping`: a run that is still going holds the lock, the next tick skips,
/// and once it finishes the lock is free again.
async fn overlapping_runs_skip(store: common::Store) {
    let clock = Clock::system();
    let (ctx, _dir) = common::context("testing", &clock, JobRegistry::new());
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let runs = counter();
    let mut schedule = Schedule::new();
    {
        let (started, release, runs) = (started.clone(), release.clone(), runs.clone());
        schedule
            .call("long-report", move |_| {
                let (started, release, runs) = (started.clone(), release.clone(), runs.clone());
                async move {
                    let n = runs.fetch_add(1, Ordering::SeqCst);
                    if n == 0 {
                        started.notify_one();
                        release.notified().await;
                    }
                    Ok(())
                }
            })
            .without_overlapping();
    }
    schedule.validate().unwrap();
    let scheduler = Scheduler::new(Arc::new(schedule), ctx, store.cache.clone());
    let first = {
        let scheduler = scheduler.clone();
        tokio::spawn(async move { scheduler.run(tick("2026-11-22T10:00:00Z")).await })
    };
    started.notified().await;
    let second = scheduler.run(tick("2026-11-22T10:01:00Z")).await;
    assert_eq!(
        second.runs[0].outcome,
        Outcome::Skipped(Skip::StillRunning),
        "{}",
        store.driver
    );
    release.notify_one();
    let first = first.await.unwrap();
    assert_eq!(
        first.runs[0].outcome,
        Outcome::Succeeded,
        "{}",
        store.driver
    );
    let third = scheduler.run(tick("2026-11-22T10:02:00Z")).await;
    assert_eq!(
        third.runs[0].outcome,
        Outcome::Succeeded,
        "{}",
        store.driver
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // A lock held elsewhere (another server's run) also makes the task skip.
    let task_key = scheduler.schedule().tasks()[0].mutex_key();
    let other = store.cache.lock(&task_key, Duration::from_secs(60));
    assert!(other.get().await.unwrap());
    let fourth = scheduler.run(tick("2026-11-22T10:03:00Z")).await;
    assert_eq!(fourth.runs[0].outcome, Outcome::Skipped(Skip::StillRunning));
    other.release().await.unwrap();
}

/// `on_one_server`: three schedulers ("servers") sharing the lock store run the same tick;
/// exactly one runs the task, every tick.
async fn one_server_per_tick(store: common::Store) {
    let clock = Clock::system();
    let runs = counter();
    let everywhere = counter();
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..3 {
        let (ctx, dir) = common::context("testing", &clock, JobRegistry::new());
        dirs.push(dir);
        let mut schedule = Schedule::new();
        schedule
            .call("refresh-stats", counting(&runs))
            .on_one_server();
        schedule.call("local-cleanup", counting(&everywhere));
        schedule.validate().unwrap();
        servers.push(Scheduler::new(Arc::new(schedule), ctx, store.cache.clone()));
    }
    for (n, minute) in ["10:00", "10:01", "10:02"].into_iter().enumerate() {
        let at = tick(&format!("2026-11-22T{minute}:00Z"));
        let reports = futures_join(servers.iter().map(|s| {
            let s = s.clone();
            async move { s.run(at).await }
        }))
        .await;
        let ran = reports
            .iter()
            .filter(|r| r.of("refresh-stats").unwrap().outcome == Outcome::Succeeded)
            .count();
        let skipped = reports
            .iter()
            .filter(|r| {
                r.of("refresh-stats").unwrap().outcome == Outcome::Skipped(Skip::OtherServer)
            })
            .count();
        assert_eq!(
            (ran, skipped),
            (1, 2),
            "{} at {minute}: {reports:?}",
            store.driver
        );
        assert_eq!(runs.load(Ordering::SeqCst), n + 1, "{}", store.driver);
        assert_eq!(
            everywhere.load(Ordering::SeqCst),
            3 * (n + 1),
            "{}",
            store.driver
        );
    }
}

/// Run the futures concurrently on the runtime and collect their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

macro_rules! on_every_store {
    ($case:ident) => {
        mod $case {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$case(common::memory(&Clock::system()).await.unwrap()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(common::sqlite(&Clock::system()).await.unwrap()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(store) = common::postgres(&Clock::system()).await {
                    super::$case(store).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                if let Some(store) = common::redis(&Clock::system()).await {
                    super::$case(store).await;
                }
            }
        }
    };
}

on_every_store!(overlapping_runs_skip);
on_every_store!(one_server_per_tick);
