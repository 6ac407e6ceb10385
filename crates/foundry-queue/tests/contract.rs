//! The queue's behaviour, the same on every driver: memory, database on SQLite, database on
//! PostgreSQL and Redis.

mod common;

use std::time::Duration;

use common::Harness;
use foundry_queue::{
    Backoff, Dispatched, JobStatus, NewJob, QueueError, QueueEvent, Worker, WorkerOptions,
};

driver_tests!(
    dispatch_runs_jobs_in_order,
    delay_holds_a_job_until_its_time,
    strict_priority_across_queues,
    tries_with_fixed_backoff_then_success,
    exhausted_tries_fail_into_failed_jobs,
    exponential_backoff_delays_retries,
    timeout_cancels_the_attempt_and_counts_it,
    release_puts_the_job_back_and_counts_the_attempt,
    fail_stops_retries,
    unacknowledged_jobs_come_back_after_retry_after,
    failed_jobs_can_be_retried_forgotten_and_flushed,
    unreadable_and_unknown_payloads_fail_with_a_clear_exception,
    unique_jobs_are_dispatched_once_while_pending,
    chains_run_in_order_and_stop_at_the_first_failure,
    batches_run_callbacks_and_track_progress,
    a_failing_batch_cancels_the_rest_unless_failures_are_allowed,
    status_and_cancellation,
    size_and_clear,
    concurrency_runs_jobs_in_parallel,
    bulk_dispatch_and_worker_limits,
    finish_and_pop_acknowledges_and_reserves_in_one_go,
    a_finished_job_is_acknowledged_while_slow_ones_run,
    fast_jobs_never_run_more_than_concurrency_at_once,
    a_stopping_worker_runs_every_job_it_reserved,
);

async fn dispatch_runs_jobs_in_order(h: Harness) {
    let mut ids = Vec::new();
    for label in ["a", "b", "c"] {
        let dispatched = h.queue.dispatch(h.job(label)).await.unwrap();
        ids.push(dispatched.id().unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(
            h.queue.status(id).await.unwrap(),
            Some(JobStatus::Queued),
            "{}",
            h.driver
        );
    }
    let report = h.work().await;
    assert_eq!(report.succeeded, 3);
    assert_eq!(h.log(), ["a#1", "b#1", "c#1"]);
    for id in &ids {
        assert_eq!(
            h.queue.status(id).await.unwrap(),
            Some(JobStatus::Succeeded)
        );
    }
    let events = h.events.lock().unwrap().clone();
    let processed: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            QueueEvent::Processed {
                id, name, attempt, ..
            } => {
                assert_eq!((name.as_str(), *attempt), ("test_job", 1));
                Some(id.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        processed,
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let connection = h.queue.connection(None).await.unwrap();
    assert_eq!(connection.driver().size("default").await.unwrap(), 0);
}

async fn delay_holds_a_job_until_its_time(h: Harness) {
    h.queue
        .dispatch(h.job("later"))
        .delay(Duration::from_secs(60))
        .await
        .unwrap();
    h.queue.dispatch(h.job("now")).await.unwrap();
    h.work().await;
    assert_eq!(h.log(), ["now#1"]);
    h.travel(59);
    h.work().await;
    assert_eq!(h.log(), ["now#1"], "not yet");
    h.travel(2);
    h.work().await;
    assert_eq!(h.log(), ["now#1", "later#1"]);
}

async fn strict_priority_across_queues(h: Harness) {
    for (label, queue) in [
        ("low1", "low"),
        ("high1", "high"),
        ("default1", "default"),
        ("low2", "low"),
        ("high2", "high"),
    ] {
        h.queue
            .dispatch(h.job(label))
            .on_queue(queue)
            .await
            .unwrap();
    }
    h.work_with(WorkerOptions {
        queues: vec!["high".into(), "default".into(), "low".into()],
        ..WorkerOptions::default()
    })
    .await;
    assert_eq!(
        h.log(),
        ["high1#1", "high2#1", "default1#1", "low1#1", "low2#1"]
    );
}

async fn tries_with_fixed_backoff_then_success(h: Harness) {
    let job = common::TestJob {
        fail_first: 2,
        tries: Some(3),
        backoff: Some(Backoff::Fixed(vec![10, 30])),
        ..h.job("flaky")
    };
    let id = h
        .queue
        .dispatch(job)
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let report = h.work().await;
    assert_eq!((report.released, report.succeeded), (1, 0));
    assert_eq!(h.queue.status(&id).await.unwrap(), Some(JobStatus::Queued));
    h.travel(9);
    h.work().await;
    assert_eq!(h.log(), ["flaky#1"], "the first backoff is 10s");
    h.travel(2);
    h.work().await;
    assert_eq!(h.log(), ["flaky#1", "flaky#2"]);
    h.travel(29);
    h.work().await;
    assert_eq!(h.log().len(), 2, "the second backoff is 30s");
    h.travel(2);
    let report = h.work().await;
    assert_eq!(report.succeeded, 1);
    assert_eq!(h.log(), ["flaky#1", "flaky#2", "flaky#3"]);
    assert_eq!(
        h.queue.status(&id).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
    assert!(h.queue.failed_jobs(None).await.unwrap().is_empty());
}

async fn exhausted_tries_fail_into_failed_jobs(h: Harness) {
    let job = common::TestJob {
        fail_first: 10,
        tries: Some(2),
        ..h.job("doomed")
    };
    let id = h
        .queue
        .dispatch(job)
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let report = h.work().await;
    assert_eq!(
        (report.released, report.failed),
        (1, 1),
        "retried at once, then failed"
    );
    assert_eq!(
        h.log(),
        [
            "doomed#1",
            "doomed#2",
            "failed(doomed): doomed broke on attempt 2"
        ]
    );
    assert_eq!(h.queue.status(&id).await.unwrap(), Some(JobStatus::Failed));
    let failed = h.queue.failed_jobs(None).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].uuid, id);
    assert_eq!(failed[0].connection, "test");
    assert_eq!(failed[0].queue, "default");
    assert!(
        failed[0].exception.contains("doomed broke on attempt 2"),
        "{}",
        failed[0].exception
    );
    assert!(failed[0].payload.contains("\"doomed\""));
    assert!(failed[0].failed_at_ms > 0);
    let events = h.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, QueueEvent::Failed { id: failed, .. } if *failed == id))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, QueueEvent::Released { attempt: 1, .. }))
    );
}

async fn exponential_backoff_delays_retries(h: Harness) {
    let job = common::TestJob {
        fail_first: 2,
        tries: Some(3),
        backoff: Some(Backoff::Exponential {
            base_ms: 4_000,
            max_ms: 60_000,
            jitter: 0.0,
        }),
        ..h.job("exp")
    };
    h.queue.dispatch(job).await.unwrap();
    h.work().await;
    h.travel(3);
    h.work().await;
    assert_eq!(h.log().len(), 1, "first retry after 4s");
    h.travel(2);
    h.work().await;
    assert_eq!(h.log().len(), 2);
    h.travel(7);
    h.work().await;
    assert_eq!(h.log().len(), 2, "second retry after 8s");
    h.travel(2);
    h.work().await;
    assert_eq!(h.log(), ["exp#1", "exp#2", "exp#3"]);
    // Jitter only ever shortens a delay, never below (1 - jitter).
    let jittered = Backoff::Exponential {
        base_ms: 1000,
        max_ms: 5000,
        jitter: 0.5,
    };
    for attempt in 1..6 {
        let delay = jittered.delay(attempt).as_millis() as u64;
        let full = (1000u64 << (attempt - 1)).min(5000);
        assert!(delay <= full && delay >= full / 2, "{attempt}: {delay}");
    }
}

async fn timeout_cancels_the_attempt_and_counts_it(h: Harness) {
    let job = common::TestJob {
        sleep_ms: 5_000,
        timeout_ms: Some(100),
        tries: Some(2),
        ..h.job("slow")
    };
    let started = std::time::Instant::now();
    let id = h
        .queue
        .dispatch(job)
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let report = h.work().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the attempts were cut short"
    );
    assert_eq!((report.released, report.failed), (1, 1));
    assert_eq!(
        h.log(),
        [
            "slow#1",
            "slow#2",
            "failed(slow): the job timed out after 0.1s and was cancelled; raise its timeout (Job::timeout or --timeout) if it needs longer"
        ]
    );
    assert_eq!(h.queue.status(&id).await.unwrap(), Some(JobStatus::Failed));
}

async fn release_puts_the_job_back_and_counts_the_attempt(h: Harness) {
    let job = common::TestJob {
        release_first: 1,
        tries: Some(2),
        ..h.job("again")
    };
    h.queue.dispatch(job).await.unwrap();
    let report = h.work().await;
    assert_eq!((report.released, report.succeeded), (1, 1));
    assert_eq!(h.log(), ["again#1", "again#2"]);
    // Released more often than its tries allow: the next reservation fails it.
    let job = common::TestJob {
        release_first: 5,
        tries: Some(2),
        ..h.job("stuck")
    };
    let id = h
        .queue
        .dispatch(job)
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    h.work().await;
    assert_eq!(h.queue.status(&id).await.unwrap(), Some(JobStatus::Failed));
    let failed = h.queue.failed_jobs(None).await.unwrap();
    assert!(
        failed[0].exception.contains("attempted too many times"),
        "{}",
        failed[0].exception
    );
}

async fn fail_stops_retries(h: Harness) {
    let job = common::TestJob {
        fail_now: true,
        tries: Some(5),
        ..h.job("quit")
    };
    let report = {
        h.queue.dispatch(job).await.unwrap();
        h.work().await
    };
    assert_eq!(report.failed, 1);
    assert_eq!(h.log(), ["quit#1", "failed(quit): quit gave up"]);
    assert_eq!(
        h.queue.failed_jobs(None).await.unwrap()[0].exception,
        "quit gave up"
    );
}

async fn unacknowledged_jobs_come_back_after_retry_after(h: Harness) {
    let id = h
        .queue
        .dispatch(h.job("crash"))
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let connection = h.queue.connection(None).await.unwrap();
    // A worker reserves the job and dies without finishing or releasing it.
    let taken = connection
        .driver()
        .pop(&["default".to_owned()], 1)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].attempts, 1);
    assert_eq!(h.queue.status(&id).await.unwrap(), Some(JobStatus::Running));
    h.work().await;
    assert!(h.log().is_empty(), "reserved jobs are invisible");
    h.travel(91);
    let report = h
        .work_with(WorkerOptions {
            tries: 3,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.succeeded, 1);
    assert_eq!(
        h.log(),
        ["crash#2"],
        "the attempt of the dead worker counts"
    );
    assert_eq!(
        h.queue.status(&id).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
}

async fn failed_jobs_can_be_retried_forgotten_and_flushed(h: Harness) {
    for label in ["x", "y", "z"] {
        let job = common::TestJob {
            fail_now: true,
            ..h.job(label)
        };
        h.queue.dispatch(job).await.unwrap();
    }
    h.work().await;
    let failed = h.queue.failed_jobs(None).await.unwrap();
    assert_eq!(failed.len(), 3);
    assert!(failed[0].payload.contains("\"z\""), "newest first");
    let x = failed[2].uuid.clone();
    let new_id = h.queue.retry_failed(None, &x).await.unwrap();
    assert_ne!(new_id, x);
    assert_eq!(h.queue.failed_jobs(None).await.unwrap().len(), 2);
    assert_eq!(
        h.queue.status(&new_id).await.unwrap(),
        Some(JobStatus::Queued)
    );
    h.work().await;
    assert_eq!(
        h.log().iter().filter(|l| l.starts_with("x#")).count(),
        2,
        "x ran again"
    );
    let connection = h.queue.connection(None).await.unwrap();
    let y = h.queue.failed_jobs(None).await.unwrap()[1].uuid.clone();
    assert!(connection.driver().forget_failed(&y).await.unwrap());
    assert!(!connection.driver().forget_failed(&y).await.unwrap());
    let err = h.queue.retry_failed(None, "no-such-id").await.unwrap_err();
    assert!(matches!(err, QueueError::FailedJobNotFound(_)), "{err}");
    assert_eq!(connection.driver().flush_failed().await.unwrap(), 2);
    assert!(h.queue.failed_jobs(None).await.unwrap().is_empty());
}

async fn unreadable_and_unknown_payloads_fail_with_a_clear_exception(h: Harness) {
    let connection = h.queue.connection(None).await.unwrap();
    let job = |uuid: &str, payload: &str| NewJob {
        uuid: uuid.to_owned(),
        queue: "default".to_owned(),
        payload: payload.to_owned(),
        available_at_ms: 0,
    };
    connection
        .driver()
        .push(vec![
            job("00000000-0000-0000-0000-000000000001", r#"{"uuid":"00000000-0000-0000-0000-000000000001","name":"test_job","data":{"label":7}}"#),
            job("00000000-0000-0000-0000-000000000002", r#"{"uuid":"00000000-0000-0000-0000-000000000002","name":"renamed_job","data":{}}"#),
            job("00000000-0000-0000-0000-000000000003", "this is not json"),
        ])
        .await
        .unwrap();
    let report = h
        .work_with(WorkerOptions {
            tries: 3,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.failed, 3, "none of them is retried");
    let failed = h.queue.failed_jobs(None).await.unwrap();
    let exception = |uuid: &str| {
        failed
            .iter()
            .find(|f| f.uuid.ends_with(uuid))
            .unwrap()
            .exception
            .clone()
    };
    let e = exception("1");
    assert!(
        e.contains("no longer deserializes into `")
            && e.contains("TestJob")
            && e.contains("missing field `tag`")
            || e.contains("invalid type"),
        "{e}"
    );
    let e = exception("2");
    assert!(
        e.contains("unknown job `renamed_job`") && e.contains("App::jobs"),
        "{e}"
    );
    let e = exception("3");
    assert!(e.contains("not valid JSON"), "{e}");
}

async fn unique_jobs_are_dispatched_once_while_pending(h: Harness) {
    let job = common::TestJob {
        unique: Some("user-7".into()),
        ..h.job("u")
    };
    let first = h.queue.dispatch(job.clone()).await.unwrap();
    assert!(matches!(first, Dispatched::Queued(_)));
    assert_eq!(
        h.queue.dispatch(job.clone()).await.unwrap(),
        Dispatched::Duplicate
    );
    let other = common::TestJob {
        unique: Some("user-8".into()),
        ..h.job("v")
    };
    assert!(matches!(
        h.queue.dispatch(other).await.unwrap(),
        Dispatched::Queued(_)
    ));
    h.work().await;
    assert_eq!(h.log(), ["u#1", "v#1"]);
    assert!(
        matches!(h.queue.dispatch(job).await.unwrap(), Dispatched::Queued(_)),
        "free again once done"
    );
}

async fn chains_run_in_order_and_stop_at_the_first_failure(h: Harness) {
    h.queue
        .chain()
        .job(h.job("one"))
        .job(h.job("two"))
        .job(h.job("three"))
        .dispatch()
        .await
        .unwrap();
    h.work_with(WorkerOptions {
        concurrency: 4,
        ..WorkerOptions::default()
    })
    .await;
    assert_eq!(h.log(), ["one#1", "two#1", "three#1"]);

    let failing = common::TestJob {
        fail_now: true,
        ..h.job("broken")
    };
    h.queue
        .chain()
        .job(h.job("first"))
        .job(failing)
        .job(h.job("never"))
        .catch(h.callback("caught"))
        .dispatch()
        .await
        .unwrap();
    h.work().await;
    let log = h.log();
    assert_eq!(
        log[3..],
        [
            "first#1",
            "broken#1",
            "failed(broken): broken gave up",
            "caught after test_job: broken gave up"
        ]
    );
}

async fn batches_run_callbacks_and_track_progress(h: Harness) {
    let batch = h
        .queue
        .batch()
        .name("import")
        .job(h.job("b1"))
        .job(h.job("b2"))
        .job(h.job("b3"))
        .then(h.callback("then"))
        .catch(h.callback("catch"))
        .finally(h.callback("finally"))
        .dispatch()
        .await
        .unwrap();
    assert_eq!(
        (
            batch.name(),
            batch.total_jobs(),
            batch.pending_jobs(),
            batch.progress()
        ),
        ("import", 3, 3, 0)
    );
    assert!(!batch.finished());
    h.work_with(WorkerOptions {
        concurrency: 3,
        ..WorkerOptions::default()
    })
    .await;
    let mut log = h.log();
    log.sort();
    assert_eq!(log, ["b1#1", "b2#1", "b3#1", "finally", "then"]);
    let batch = h.queue.find_batch(batch.id()).await.unwrap().unwrap();
    assert_eq!(
        (batch.pending_jobs(), batch.failed_jobs(), batch.progress()),
        (0, 0, 100)
    );
    assert!(batch.finished() && !batch.cancelled());
    assert!(h.queue.find_batch("no-such-batch").await.unwrap().is_none());
}

async fn a_failing_batch_cancels_the_rest_unless_failures_are_allowed(h: Harness) {
    let broken = common::TestJob {
        fail_now: true,
        ..h.job("bad")
    };
    let batch = h
        .queue
        .batch()
        .job(broken.clone())
        .job(h.job("skipped1"))
        .job(h.job("skipped2"))
        .then(h.callback("then"))
        .catch(h.callback("catch"))
        .finally(h.callback("finally"))
        .dispatch()
        .await
        .unwrap();
    h.work().await;
    assert_eq!(
        h.log(),
        [
            "bad#1",
            "failed(bad): bad gave up",
            "catch after test_job: bad gave up",
            "finally"
        ],
        "the others were skipped (counted as run), then finally ran once; then did not"
    );
    let batch = h.queue.find_batch(batch.id()).await.unwrap().unwrap();
    assert!(batch.cancelled());
    assert_eq!(
        (
            batch.pending_jobs(),
            batch.failed_jobs(),
            batch.failed_job_ids().len()
        ),
        (1, 1, 1)
    );
    assert!(batch.finished());

    let tolerant = h
        .queue
        .batch()
        .allow_failures()
        .job(broken)
        .job(h.job("ok"))
        .finally(h.callback("finally2"))
        .dispatch()
        .await
        .unwrap();
    h.work().await;
    let log = h.log();
    assert!(log.contains(&"ok#1".to_owned()), "{log:?}");
    assert_eq!(
        log.last().unwrap(),
        "finally2",
        "after the last job, which succeeded"
    );
    let tolerant = h.queue.find_batch(tolerant.id()).await.unwrap().unwrap();
    assert!(!tolerant.cancelled());
    assert_eq!(tolerant.progress(), 50, "one of two succeeded");
}

async fn status_and_cancellation(h: Harness) {
    let id = h
        .queue
        .dispatch(h.job("cancel-me"))
        .delay(Duration::from_secs(5))
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let ready = h
        .queue
        .dispatch(h.job("cancel-me-too"))
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    assert!(h.queue.cancel(&id).await.unwrap());
    assert!(h.queue.cancel(&ready).await.unwrap());
    assert!(!h.queue.cancel(&id).await.unwrap(), "already cancelled");
    assert_eq!(
        h.queue.status(&id).await.unwrap(),
        Some(JobStatus::Cancelled)
    );
    h.travel(10);
    h.queue.dispatch(h.job("runs")).await.unwrap();
    h.work().await;
    assert_eq!(h.log(), ["runs#1"]);
    assert_eq!(
        h.queue.status(&ready).await.unwrap(),
        Some(JobStatus::Cancelled)
    );
    assert_eq!(
        h.queue
            .status("00000000-0000-0000-0000-00000000dead")
            .await
            .unwrap(),
        None
    );
    let done = h
        .queue
        .dispatch(h.job("done"))
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    h.work().await;
    assert!(
        !h.queue.cancel(&done).await.unwrap(),
        "finished jobs cannot be cancelled"
    );
}

async fn size_and_clear(h: Harness) {
    for label in ["s1", "s2"] {
        h.queue
            .dispatch(h.job(label))
            .on_queue("mail")
            .await
            .unwrap();
    }
    h.queue
        .dispatch(h.job("s3"))
        .on_queue("mail")
        .delay(Duration::from_secs(30))
        .await
        .unwrap();
    let connection = h.queue.connection(None).await.unwrap();
    assert_eq!(connection.driver().size("mail").await.unwrap(), 3);
    assert_eq!(connection.driver().size("other").await.unwrap(), 0);
    assert_eq!(connection.driver().clear("mail").await.unwrap(), 3);
    assert_eq!(connection.driver().size("mail").await.unwrap(), 0);
    h.travel(60);
    h.work_with(WorkerOptions {
        queues: vec!["mail".into()],
        ..WorkerOptions::default()
    })
    .await;
    assert!(h.log().is_empty());
}

async fn concurrency_runs_jobs_in_parallel(h: Harness) {
    for i in 0..4 {
        let job = common::TestJob {
            sleep_ms: 500,
            record_end: true,
            ..h.job(&format!("p{i}"))
        };
        h.queue.dispatch(job).await.unwrap();
    }
    let report = h
        .work_with(WorkerOptions {
            concurrency: 4,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.succeeded, 4);
    // In parallel, every job starts before the first one ends.
    let log = h.log();
    assert_eq!(log.len(), 8, "{log:?}");
    assert!(
        log[..4].iter().all(|entry| entry.ends_with("#1")),
        "{}: {log:?}",
        h.driver
    );
}

async fn bulk_dispatch_and_worker_limits(h: Harness) {
    let jobs = (0..5).map(|i| h.job(&format!("bulk{i}")));
    let ids = h.queue.bulk(None, jobs).await.unwrap();
    assert_eq!(ids.len(), 5);
    let report = h
        .work_with(WorkerOptions {
            once: true,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.total(), 1, "--once runs one job");
    let report = h
        .work_with(WorkerOptions {
            max_jobs: 2,
            concurrency: 4,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.total(), 2, "--max-jobs stops after two");
    h.work().await;
    let mut log = h.log();
    log.sort();
    assert_eq!(log, ["bulk0#1", "bulk1#1", "bulk2#1", "bulk3#1", "bulk4#1"]);
    for id in ids {
        assert_eq!(
            h.queue.status(&id).await.unwrap(),
            Some(JobStatus::Succeeded)
        );
    }
}

async fn finish_and_pop_acknowledges_and_reserves_in_one_go(h: Harness) {
    let jobs = ["a", "b", "c"].map(|label| h.job(label));
    let ids = h.queue.bulk(None, jobs).await.unwrap();
    let connection = h.queue.connection(None).await.unwrap();
    let driver = connection.driver();
    let queues = ["default".to_owned()];
    let first = driver.pop(&queues, 2).await.unwrap();
    let uuids: Vec<&str> = first.iter().map(|j| j.uuid.as_str()).collect();
    assert_eq!(uuids, [ids[0].as_str(), ids[1].as_str()]);

    let rest = driver.finish_and_pop(&first, &queues, 5).await.unwrap();
    assert_eq!(rest.len(), 1, "the finished jobs are not reserved again");
    assert_eq!(rest[0].uuid, ids[2]);
    assert_eq!(rest[0].attempts, 1);
    for id in &ids[..2] {
        assert_eq!(
            h.queue.status(id).await.unwrap(),
            Some(JobStatus::Succeeded)
        );
    }
    assert_eq!(
        h.queue.status(&ids[2]).await.unwrap(),
        Some(JobStatus::Running)
    );

    let again = driver.finish_and_pop(&first, &queues, 5).await.unwrap();
    assert!(again.is_empty(), "finishing twice is harmless: {again:?}");
    assert_eq!(
        h.queue.status(&ids[0]).await.unwrap(),
        Some(JobStatus::Succeeded)
    );

    // Acknowledged after its reservation expired: finished, not handed out again.
    h.travel(91);
    let late = driver.finish_and_pop(&rest, &queues, 5).await.unwrap();
    assert!(late.is_empty(), "{late:?}");
    assert_eq!(
        h.queue.status(&ids[2]).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
    assert_eq!(driver.size("default").await.unwrap(), 0);
    h.work().await;
    assert!(h.log().is_empty(), "no job ran twice: {:?}", h.log());
}

async fn a_finished_job_is_acknowledged_while_slow_ones_run(h: Harness) {
    let id = h
        .queue
        .dispatch(h.job("fast"))
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    // Three jobs that only finish once they see the fast one acknowledged: the worker's other
    // slots stay busy, so no pop carries the acknowledgement.
    for i in 0..3 {
        let waiter = common::AwaitSuccess {
            tag: h.tag.clone(),
            label: format!("w{i}"),
            id: id.clone(),
        };
        h.queue.dispatch(waiter).await.unwrap();
    }
    let report = h
        .work_with(WorkerOptions {
            concurrency: 4,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.succeeded, 4);
    let mut log = h.log();
    log.sort();
    assert_eq!(
        log,
        [
            "fast#1",
            "w0 saw it succeed",
            "w1 saw it succeed",
            "w2 saw it succeed"
        ]
    );
}

/// Fast jobs make the worker reserve ahead of its free slots: still never more than
/// `concurrency` run at once, and each runs once.
async fn fast_jobs_never_run_more_than_concurrency_at_once(h: Harness) {
    let labels: Vec<String> = (0..60).map(|i| format!("f{i}")).collect();
    h.queue
        .bulk(
            None,
            labels.iter().map(|label| common::TestJob {
                record_end: true,
                ..h.job(label)
            }),
        )
        .await
        .unwrap();
    let report = h
        .work_with(WorkerOptions {
            concurrency: 3,
            ..WorkerOptions::default()
        })
        .await;
    assert_eq!(report.succeeded, 60, "{report:?}");
    let log = h.log();
    let mut running = 0;
    let mut started = Vec::new();
    for line in &log {
        if line.ends_with(" end") {
            running -= 1;
        } else {
            running += 1;
            assert!(running <= 3, "more than 3 at once: {log:?}");
            started.push(line.trim_end_matches("#1").to_owned());
        }
    }
    started.sort_unstable();
    let mut expected = labels.clone();
    expected.sort_unstable();
    assert_eq!(started, expected, "each job ran once");
}

/// A worker asked to stop runs the jobs it has reserved (running or reserved ahead) before it
/// returns: none is left reserved, to wait for `retry_after`.
async fn a_stopping_worker_runs_every_job_it_reserved(h: Harness) {
    let jobs: Vec<common::TestJob> = (0..80).map(|i| h.job(&format!("s{i}"))).collect();
    let ids = h.queue.bulk(None, jobs).await.unwrap();
    assert_eq!(ids.len(), 80);
    let tag = h.tag.clone();
    // Stop once some jobs ran: the worker is then mid-stream, with jobs reserved.
    let stop = async move {
        while common::log(&tag).len() < 10 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let report = Worker::new(
        h.queue.clone(),
        WorkerOptions {
            concurrency: 4,
            sleep: Duration::from_millis(20),
            ..WorkerOptions::default()
        },
    )
    .run(stop)
    .await
    .unwrap();
    let mut succeeded = 0;
    for id in &ids {
        match h.queue.status(id).await.unwrap() {
            Some(JobStatus::Succeeded) => succeeded += 1,
            Some(JobStatus::Queued) => {}
            other => panic!(
                "job {id} left {other:?} after the worker stopped ({})",
                h.driver
            ),
        }
    }
    assert_eq!(succeeded, report.succeeded, "{report:?}");
    assert_eq!(h.log().len() as u64, report.succeeded);
}
