//! A new comment queues `notify_post_author` (after the transaction commits), and a worker
//! runs it against the blog's own database.

use std::time::Duration;

use foundry::db::Db;
use foundry::db::seed::Seeder;
use foundry::queue::{JobStatus, QueueManager, Worker, WorkerOptions};
use foundry_testing::prelude::*;
use serde_json::Value;

async fn seeded() -> TestApp {
    let app = TestApp::builder::<blog::Blog>().sqlite().boot().await;
    blog::seed::DatabaseSeeder
        .run(&app.db())
        .await
        .expect("the demo data seeds");
    app
}

async fn post_comment(app: &TestApp, post: i64, body: Value) -> (u16, Value) {
    let response = app
        .post_json(&format!("/api/posts/{post}/comments"), &body)
        .await;
    (response.status(), response.json())
}

#[tokio::test]
async fn a_new_comment_queues_the_authors_notification_and_a_worker_sends_it() {
    let app = seeded().await;
    let db: Db = app.db();
    let queue = app.ctx().make::<QueueManager>().unwrap();
    let (status, body) = post_comment(&app, 1, json!({"user_id": 2, "body": "Nice post"})).await;
    assert_eq!(status, 201, "{body}");
    let comment_id = body["data"]["id"].as_i64().unwrap();
    assert!(body["data"]["notified_at"].is_null());

    let queued: Vec<(String, String)> = db
        .select("SELECT uuid, payload FROM jobs", vec![])
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "one job in the jobs table");
    assert!(
        queued[0].1.contains("notify_post_author"),
        "{}",
        queued[0].1
    );
    assert!(
        queued[0]
            .1
            .contains(&format!("\"comment_id\":{comment_id}"))
    );
    assert_eq!(
        queue.status(&queued[0].0).await.unwrap(),
        Some(JobStatus::Queued)
    );

    let report = Worker::new(
        (*queue).clone(),
        WorkerOptions {
            stop_when_empty: true,
            sleep: Duration::from_millis(10),
            ..WorkerOptions::default()
        },
    )
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(report.succeeded, 1);
    assert_eq!(
        queue.status(&queued[0].0).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
    let notified: Vec<(Option<String>,)> = db
        .select(
            "SELECT notified_at FROM comments WHERE id = ?",
            vec![comment_id.into()],
        )
        .await
        .unwrap();
    assert!(notified[0].0.is_some(), "the job stamped the comment");
}

#[tokio::test]
async fn an_invalid_comment_queues_nothing() {
    let app = seeded().await;
    let db = app.db();
    let (status, body) = post_comment(&app, 1, json!({"user_id": 999, "body": ""})).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = post_comment(&app, 4242, json!({"user_id": 2, "body": "hello"})).await;
    assert_eq!(status, 404);
    let jobs: Vec<i64> = db
        .select("SELECT COUNT(*) FROM jobs", vec![])
        .await
        .unwrap();
    assert_eq!(jobs, [0]);
}
