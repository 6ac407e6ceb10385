//! Job middleware (`rate_limited`, `without_overlapping`), `queue:restart` and pausing in
//! maintenance mode, with real workers, on the memory store (memory queue) and on Redis (Redis
//! queue and Redis cache store).
#![cfg(feature = "cache")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Callback, Harness, TestJob};
use foundry_cache::config::{CacheConfig, MemoryConfig, RedisStoreConfig, StoreConfig};
use foundry_cache::{Cache, CacheManager, Limit, RateLimiter};
use foundry_queue::{
    ConnectionConfig, JobStatus, QueueError, QueueEvent, RESTART_KEY, Worker, WorkerOptions,
};

/// A harness whose queue uses a cache of the same kind.
struct Case {
    h: Harness,
    cache: Cache,
    limiter: RateLimiter,
}

/// Memory store with the memory queue; a Redis store under the queue's key prefix (so the
/// harness's cleanup removes its keys) with the Redis queue.
async fn with_cache(h: Harness) -> Case {
    let (store, prefix) = match h.queue.config().connection("test") {
        Some(ConnectionConfig::Redis(redis)) => (
            StoreConfig::Redis(RedisStoreConfig {
                url: redis.url.clone(),
                ..RedisStoreConfig::default()
            }),
            format!("{}cache:", redis.prefix),
        ),
        _ => (StoreConfig::Memory(MemoryConfig::default()), String::new()),
    };
    let mut config = CacheConfig {
        default: "main".into(),
        ..CacheConfig::default()
    };
    config.stores.insert("main".into(), store);
    let manager = CacheManager::builder(&config, &prefix, h.clock.clone())
        .build()
        .await
        .expect("the cache builds");
    h.queue
        .use_cache(manager.cache.clone(), manager.limiter.clone());
    Case {
        h,
        cache: manager.cache,
        limiter: manager.limiter,
    }
}

macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                crate::common::on(crate::common::memory, |h| async move {
                    super::$case(crate::with_cache(h).await).await
                })
                .await;
            }
            #[cfg(feature = "redis")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                crate::common::on(crate::common::redis, |h| async move {
                    super::$case(crate::with_cache(h).await).await
                })
                .await;
            }
        }
    )*};
}

store_tests!(
    rate_limited_jobs_over_the_limit_wait_until_there_is_room,
    a_rate_limited_release_counts_toward_tries,
    rate_limited_can_drop_or_delay_jobs_over_the_limit,
    middleware_mistakes_fail_the_job_with_a_clear_message,
    without_overlapping_holds_back_a_job_whose_key_is_taken,
    without_overlapping_runs_one_job_per_key_at_a_time,
    an_overlap_lock_is_released_when_the_attempt_times_out,
    queue_restart_stops_every_worker_after_its_running_job,
);

/// The delays of the `Released` events, in order.
fn release_delays(h: &Harness) -> Vec<Duration> {
    h.events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event {
            QueueEvent::Released { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect()
}

async fn dispatch(h: &Harness, job: TestJob) -> String {
    h.queue
        .dispatch(job)
        .await
        .expect("dispatch")
        .id()
        .expect("queued")
        .to_owned()
}

/// Wait (up to 30 s, then fail) until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn limited(h: &Harness, label: &str, limiter: &str) -> TestJob {
    TestJob {
        rate_limiter: Some(limiter.to_owned()),
        ..h.job(label)
    }
}

async fn rate_limited_jobs_over_the_limit_wait_until_there_is_room(c: Case) {
    let h = &c.h;
    c.limiter.define_for("reports", |job: &TestJob| {
        Limit::per_minute(2).by(job.tag.clone())
    });
    for label in ["a", "b", "c"] {
        let job = TestJob {
            tries: Some(3),
            ..limited(h, label, "reports")
        };
        dispatch(h, job).await;
    }
    let report = h.work().await;
    assert_eq!((report.succeeded, report.released), (2, 1), "{report:?}");
    assert_eq!(h.log(), ["a#1", "b#1"]);
    // Released until the limiter's window resets.
    let delays = release_delays(h);
    assert_eq!(delays.len(), 1);
    assert!(
        delays[0] > Duration::ZERO && delays[0] <= Duration::from_secs(60),
        "{delays:?}"
    );
    assert!(h.queue.failed_jobs(None).await.unwrap().is_empty());

    // The window passes (Redis times its windows itself: forget the count instead).
    c.limiter
        .clear(&format!("job:reports:{}", h.tag))
        .await
        .unwrap();
    h.travel(61);
    let report = h.work().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(h.log(), ["a#1", "b#1", "c#2"]);
}

async fn a_rate_limited_release_counts_toward_tries(c: Case) {
    let h = &c.h;
    c.limiter.define_for("once", |job: &TestJob| {
        Limit::per_minute(1).by(job.tag.clone())
    });
    dispatch(h, limited(h, "a", "once")).await;
    dispatch(h, limited(h, "b", "once")).await;
    let report = h.work().await;
    assert_eq!((report.succeeded, report.released), (1, 1), "{report:?}");

    // As in Laravel, the release used b's only try: its next reservation fails it.
    c.limiter
        .clear(&format!("job:once:{}", h.tag))
        .await
        .unwrap();
    h.travel(61);
    let report = h.work().await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(h.log()[0], "a#1");
    assert!(
        h.log()[1].starts_with("failed(b)"),
        "b never ran: {:?}",
        h.log()
    );
    let failed = h.queue.failed_jobs(None).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].exception.contains("attempted too many times")
            && failed[0]
                .exception
                .contains("released (by the job or its middleware)"),
        "{}",
        failed[0].exception
    );
}

async fn rate_limited_can_drop_or_delay_jobs_over_the_limit(c: Case) {
    let h = &c.h;
    c.limiter.define_for("mail", |job: &TestJob| {
        Limit::per_minute(1).by(job.tag.clone())
    });
    dispatch(h, limited(h, "a", "mail")).await;
    let dropped = dispatch(
        h,
        TestJob {
            dont_release: true,
            ..limited(h, "b", "mail")
        },
    )
    .await;
    let delayed = dispatch(
        h,
        TestJob {
            release_after_ms: Some(5_000),
            tries: Some(2),
            ..limited(h, "c", "mail")
        },
    )
    .await;
    let report = h.work().await;
    assert_eq!(
        (report.succeeded, report.skipped, report.released),
        (1, 1, 1),
        "{report:?}"
    );
    assert_eq!(h.log(), ["a#1"]);
    // Dropped without running, and not a failure.
    assert_eq!(
        h.queue.status(&dropped).await.unwrap(),
        Some(JobStatus::Cancelled)
    );
    assert!(h.queue.failed_jobs(None).await.unwrap().is_empty());
    // Released with the middleware's own delay.
    assert_eq!(release_delays(h), [Duration::from_secs(5)]);
    assert_eq!(
        h.queue.status(&delayed).await.unwrap(),
        Some(JobStatus::Queued)
    );
}

async fn middleware_mistakes_fail_the_job_with_a_clear_message(c: Case) {
    let h = &c.h;
    c.limiter
        .define_for("callbacks", |_: &Callback| Limit::per_minute(1));
    dispatch(h, limited(h, "a", "missing")).await;
    dispatch(h, limited(h, "b", "callbacks")).await;
    let report = h.work().await;
    assert_eq!(report.failed, 2, "{report:?}");
    assert!(h.log().iter().all(|line| line.starts_with("failed(")));
    let mut exceptions: Vec<String> = h
        .queue
        .failed_jobs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.exception)
        .collect();
    exceptions.sort();
    assert!(
        exceptions[0].contains("job `test_job` uses rate_limited(\"missing\")")
            && exceptions[0].contains("no rate limiter `missing` is defined for jobs")
            && exceptions[0].contains("RateLimiter::define_for"),
        "{}",
        exceptions[0]
    );
    assert!(
        exceptions[1].contains("the rate limiter `callbacks` is defined for `")
            && exceptions[1].contains("Callback`")
            && exceptions[1].contains("not for `test_job`"),
        "{}",
        exceptions[1]
    );
}

fn overlap_key(h: &Harness) -> String {
    format!("foundry:queue:overlap:test_job:{}", h.tag)
}

/// Whether the test's overlap key can be locked now (nobody holds it).
async fn key_is_free(c: &Case) -> bool {
    c.cache
        .lock(&overlap_key(&c.h), Duration::from_secs(10))
        .get()
        .await
        .unwrap()
}

fn overlapping(h: &Harness, label: &str) -> TestJob {
    TestJob {
        overlap: Some(h.tag.clone()),
        ..h.job(label)
    }
}

async fn without_overlapping_holds_back_a_job_whose_key_is_taken(c: Case) {
    let h = &c.h;
    // Another worker holds the key.
    let other = c.cache.lock(&overlap_key(h), Duration::from_secs(120));
    assert!(other.get().await.unwrap());
    let waiting = dispatch(
        h,
        TestJob {
            release_after_ms: Some(30_000),
            tries: Some(3),
            ..overlapping(h, "a")
        },
    )
    .await;
    let dropped = dispatch(
        h,
        TestJob {
            dont_release: true,
            ..overlapping(h, "b")
        },
    )
    .await;
    let report = h.work().await;
    assert_eq!((report.released, report.skipped), (1, 1), "{report:?}");
    assert!(h.log().is_empty(), "{:?}", h.log());
    assert_eq!(release_delays(h), [Duration::from_secs(30)]);
    assert_eq!(
        h.queue.status(&dropped).await.unwrap(),
        Some(JobStatus::Cancelled)
    );
    assert_eq!(
        h.queue.status(&waiting).await.unwrap(),
        Some(JobStatus::Queued)
    );

    // The other run is over: the job runs, and gives the key back when done.
    assert!(other.release().await.unwrap());
    h.travel(31);
    let report = h.work().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(h.log(), ["a#2"]);
    assert!(
        key_is_free(&c).await,
        "the worker released the overlap lock"
    );
}

async fn without_overlapping_runs_one_job_per_key_at_a_time(c: Case) {
    let h = &c.h;
    let labels = ["a", "b", "c", "d"];
    for label in labels {
        let job = TestJob {
            sleep_ms: 300,
            record_end: true,
            tries: Some(0),
            release_after_ms: Some(10),
            ..overlapping(h, label)
        };
        dispatch(h, job).await;
    }
    let tag = h.tag.clone();
    let all_done = async move {
        while common::log(&tag)
            .iter()
            .filter(|line| line.ends_with(" end"))
            .count()
            < labels.len()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let worker = Worker::new(
        h.queue.clone(),
        WorkerOptions {
            concurrency: 4,
            sleep: Duration::from_millis(20),
            ..WorkerOptions::default()
        },
    );
    let report = tokio::time::timeout(Duration::from_secs(60), worker.run(all_done))
        .await
        .expect("the jobs finish")
        .unwrap();
    assert_eq!(report.succeeded, 4, "{report:?}");
    // Four taken at once: three met the lock.
    assert!(report.released >= 3, "{report:?}");
    // Every run ends before the next starts.
    let log = h.log();
    assert_eq!(log.len(), 8, "{log:?}");
    let mut ran: Vec<&str> = Vec::new();
    for pair in log.chunks(2) {
        let (label, _) = pair[0].split_once('#').expect("a start");
        assert_eq!(pair[1], format!("{label} end"), "{log:?}");
        ran.push(label);
    }
    ran.sort_unstable();
    assert_eq!(ran, labels);
}

async fn an_overlap_lock_is_released_when_the_attempt_times_out(c: Case) {
    let h = &c.h;
    let job = TestJob {
        sleep_ms: 10_000,
        timeout_ms: Some(50),
        // Longer than the test: only the worker's release can free the key.
        expire_after_ms: Some(600_000),
        ..overlapping(h, "slow")
    };
    dispatch(h, job).await;
    let report = h.work().await;
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = h.queue.failed_jobs(None).await.unwrap();
    assert!(failed[0].exception.contains("timed out"), "{failed:?}");
    assert!(
        key_is_free(&c).await,
        "the timed-out attempt's lock was released"
    );
}

async fn queue_restart_stops_every_worker_after_its_running_job(c: Case) {
    let h = &c.h;
    // One job per worker (each runs long enough that one worker cannot take both): a worker
    // that has taken a job has read the restart value it compares against, so the restart
    // below cannot land before a worker is watching.
    let mut ids = Vec::new();
    for label in ["long", "other"] {
        let job = TestJob {
            sleep_ms: 3000,
            record_end: true,
            ..h.job(label)
        };
        ids.push(dispatch(h, job).await);
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let worker = Worker::new(
                h.queue.clone(),
                WorkerOptions {
                    sleep: Duration::from_millis(20),
                    ..WorkerOptions::default()
                },
            );
            tokio::spawn(async move { worker.run(std::future::pending()).await })
        })
        .collect();
    let tag = h.tag.clone();
    wait_until("both jobs start", || {
        let log = common::log(&tag);
        log.contains(&"long#1".to_owned()) && log.contains(&"other#1".to_owned())
    })
    .await;
    let first = h.queue.restart_workers().await.unwrap();
    assert_eq!(c.cache.get::<i64>(RESTART_KEY).await.unwrap(), Some(first));
    let mut succeeded = 0;
    for worker in workers {
        let report = tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("the worker stops")
            .unwrap()
            .unwrap();
        succeeded += report.succeeded;
    }
    // Each running job finished before its worker stopped.
    assert_eq!(succeeded, 2);
    let mut log = h.log();
    log.sort_unstable();
    assert_eq!(log, ["long end", "long#1", "other end", "other#1"]);
    for id in &ids {
        assert_eq!(
            h.queue.status(id).await.unwrap(),
            Some(JobStatus::Succeeded)
        );
    }
    // Every restart writes a new value, even within one millisecond.
    let second = h.queue.restart_workers().await.unwrap();
    assert!(second > first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_middleware_and_restart_say_what_is_missing() {
    common::on(common::memory, |h| async move {
        dispatch(&h, limited(&h, "a", "reports")).await;
        let report = h.work().await;
        assert_eq!(report.failed, 1, "{report:?}");
        let failed = h.queue.failed_jobs(None).await.unwrap();
        assert!(
            failed[0]
                .exception
                .contains("the job middleware of `test_job` needs the app's cache"),
            "{}",
            failed[0].exception
        );
        let err = h.queue.restart_workers().await.unwrap_err();
        assert!(matches!(err, QueueError::NoCache(_)), "{err}");
        assert!(
            err.to_string()
                .contains("queue:restart needs the app's cache")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_takes_no_jobs_until_the_app_is_up() {
    common::on(common::memory, |h| async move {
        let down = Arc::new(AtomicBool::new(true));
        let id = dispatch(&h, h.job("a")).await;
        let options = WorkerOptions {
            sleep: Duration::from_millis(20),
            ..WorkerOptions::default()
        };

        // With --stop-when-empty a paused worker stops at once.
        let is_down = down.clone();
        let report = Worker::new(
            h.queue.clone(),
            WorkerOptions {
                stop_when_empty: true,
                ..options.clone()
            },
        )
        .pause_while(move || is_down.load(Ordering::SeqCst))
        .run(std::future::pending())
        .await
        .unwrap();
        assert_eq!(report.total(), 0);

        // A running worker looks again and again, takes nothing while down…
        let checks = Arc::new(AtomicU64::new(0));
        let (is_down, counted) = (down.clone(), checks.clone());
        let worker = Worker::new(h.queue.clone(), options).pause_while(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            is_down.load(Ordering::SeqCst)
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
        });
        wait_until("three looks at the maintenance state", || {
            checks.load(Ordering::SeqCst) >= 3
        })
        .await;
        assert_eq!(h.queue.status(&id).await.unwrap(), Some(JobStatus::Queued));
        assert!(h.log().is_empty());

        // …and takes the job once the app is up.
        down.store(false, Ordering::SeqCst);
        let started = Instant::now();
        while h.queue.status(&id).await.unwrap() != Some(JobStatus::Succeeded) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the job never ran"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(()).unwrap();
        let report = running.await.unwrap().unwrap();
        assert_eq!(report.succeeded, 1);
        assert_eq!(h.log(), ["a#1"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlap_lock_lasts_as_long_as_the_attempts_timeout() {
    common::on(common::memory, |h| async move {
        let c = with_cache(h).await;
        let h = &c.h;
        let job = TestJob {
            sleep_ms: 3000,
            timeout_ms: Some(30_000),
            ..overlapping(h, "slow")
        };
        dispatch(h, job).await;
        let worker = Worker::new(
            h.queue.clone(),
            WorkerOptions {
                stop_when_empty: true,
                sleep: Duration::from_millis(20),
                ..WorkerOptions::default()
            },
        );
        let running = tokio::spawn(async move { worker.run(std::future::pending()).await });
        let tag = h.tag.clone();
        wait_until("the job starts", || common::log(&tag) == ["slow#1"]).await;
        assert!(!key_is_free(&c).await, "held while the job runs");
        // Were the worker dead, the lock would not outlive the attempt's timeout.
        h.travel(31);
        assert!(key_is_free(&c).await, "expired with the timeout");
        assert_eq!(running.await.unwrap().unwrap().succeeded, 1);
    })
    .await;
}
