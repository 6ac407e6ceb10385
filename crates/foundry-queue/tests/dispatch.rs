//! Dispatching outside the driver matrix: the sync connection, `dispatch_sync`,
//! `after_commit` with database transactions, configuration mistakes, a dead Redis.

mod common;

use std::collections::BTreeMap;

use foundry_core::Clock;
use foundry_db::Db;
use foundry_queue::{
    ConnectionConfig, JobStatus, MemoryConfig, QueueConfig, QueueError, QueueManager,
};

fn manager(default: &str) -> QueueManager {
    QueueManager::new(
        QueueConfig {
            default: default.to_owned(),
            connections: BTreeMap::from([(
                "jobs".to_owned(),
                ConnectionConfig::Memory(MemoryConfig::default()),
            )]),
        },
        common::registry(),
        Clock::system(),
    )
}

fn job(tag: &str, label: &str) -> common::TestJob {
    common::TestJob {
        tag: tag.to_owned(),
        label: label.to_owned(),
        ..common::TestJob::default()
    }
}

#[tokio::test]
async fn the_sync_connection_runs_jobs_at_once_and_returns_their_failure() {
    let tag = common::unique_name("sync");
    let queue = manager("sync");
    let id = queue
        .dispatch(job(&tag, "now"))
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    assert_eq!(common::log(&tag), ["now#1"]);
    assert_eq!(queue.status(&id).await.unwrap(), Some(JobStatus::Succeeded));
    let failing = common::TestJob {
        fail_first: 1,
        tries: Some(3),
        ..job(&tag, "bad")
    };
    let err = queue.dispatch(failing).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::JobFailed { job, message } if job == "test_job" && message == "bad broke on attempt 1"),
        "{err}"
    );
    assert!(
        queue.failed_jobs(None).await.unwrap().is_empty(),
        "sync failures are not stored"
    );
    queue
        .chain()
        .job(job(&tag, "c1"))
        .job(job(&tag, "c2"))
        .dispatch()
        .await
        .unwrap();
    assert_eq!(common::log(&tag)[3..], ["c1#1", "c2#1"]);
}

#[tokio::test]
async fn dispatch_sync_runs_now_whatever_the_default_connection() {
    let tag = common::unique_name("dispatch_sync");
    let queue = manager("jobs");
    queue.dispatch_sync(job(&tag, "inline")).await.unwrap();
    assert_eq!(common::log(&tag), ["inline#1"]);
    queue.dispatch(job(&tag, "queued")).await.unwrap();
    assert_eq!(
        common::log(&tag),
        ["inline#1"],
        "the default connection queues"
    );
}

#[tokio::test]
async fn after_commit_dispatches_only_when_the_transaction_commits() {
    let tag = common::unique_name("after_commit");
    let queue = manager("jobs");
    let db = Db::connect("sqlite::memory:").await.unwrap();
    let rolled_back: Result<(), foundry_db::DbError> = db
        .transaction(|tx| {
            let queue = queue.clone();
            let job = job(&tag, "ghost");
            async move {
                queue.dispatch(job).after_commit(&tx).await;
                Err(foundry_db::DbError::InvalidQuery("roll back".into()))
            }
        })
        .await;
    assert!(rolled_back.is_err());
    let connection = queue.connection(None).await.unwrap();
    assert_eq!(
        connection.driver().size("default").await.unwrap(),
        0,
        "nothing for a rollback"
    );
    db.transaction(|tx| {
        let queue = queue.clone();
        let job = job(&tag, "real");
        async move {
            queue.dispatch(job).after_commit(&tx).await;
            assert_eq!(
                queue
                    .connection(None)
                    .await
                    .unwrap()
                    .driver()
                    .size("default")
                    .await
                    .unwrap(),
                0,
                "not before the commit"
            );
            Ok::<_, foundry_db::DbError>(())
        }
    })
    .await
    .unwrap();
    assert_eq!(connection.driver().size("default").await.unwrap(), 1);
}

#[tokio::test]
async fn unknown_connections_and_missing_databases_are_clear_errors() {
    let queue = manager("jobs");
    let err = queue
        .dispatch(job("x", "x"))
        .on_connection("nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("queue connection `nope` is not configured"),
        "{err}"
    );
    assert!(
        err.contains("jobs") && err.contains("[queue.connections.nope]"),
        "{err}"
    );
    let err = queue
        .connection(Some("database"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("database connection `default`, which is not configured"),
        "{err}"
    );
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_dead_redis_is_an_error_naming_the_host() {
    let queue = QueueManager::new(
        QueueConfig {
            default: "redis".to_owned(),
            connections: BTreeMap::from([(
                "redis".to_owned(),
                ConnectionConfig::Redis(foundry_queue::RedisConfig {
                    url: "redis://127.0.0.1:1".to_owned(),
                    connect_timeout_secs: 1,
                    ..foundry_queue::RedisConfig::default()
                }),
            )]),
        },
        common::registry(),
        Clock::system(),
    );
    let started = std::time::Instant::now();
    let err = queue.dispatch(job("x", "x")).await.unwrap_err().to_string();
    assert!(
        err.starts_with("redis queue at 127.0.0.1:1: cannot connect"),
        "{err}"
    );
    assert!(err.contains("is redis-server running"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
