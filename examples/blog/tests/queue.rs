//! A new comment queues `notify_post_author` (after the transaction commits), and a worker
//! runs it against the blog's own database.

use std::time::Duration;

use axum::body::Body;
use foundry::Kernel;
use foundry::config::ConfigLoader;
use foundry::db::Db;
use foundry::queue::{JobStatus, QueueManager, Worker, WorkerOptions};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn kernel() -> Kernel {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ConfigLoader::new(root)
        .dotenv(false)
        .vars([
            ("FOUNDRY_ENV", "testing"),
            ("FOUNDRY_DATABASE__URL", "sqlite::memory:"),
        ])
        .load()
        .unwrap();
    let kernel = Kernel::boot::<blog::Blog>(config).await.unwrap();
    let db = kernel.context().make::<Db>().unwrap();
    blog::prepare_demo_database(&db).await.unwrap();
    kernel
}

async fn post_comment(kernel: &Kernel, post: i64, body: Value) -> (StatusCode, Value) {
    let request = Request::post(format!("/api/posts/{post}/comments"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_new_comment_queues_the_authors_notification_and_a_worker_sends_it() {
    let kernel = kernel().await;
    let db = kernel.context().make::<Db>().unwrap();
    let queue = kernel.context().make::<QueueManager>().unwrap();
    let (status, body) = post_comment(&kernel, 1, json!({"user_id": 2, "body": "Nice post"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
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
    let kernel = kernel().await;
    let db = kernel.context().make::<Db>().unwrap();
    let (status, body) = post_comment(&kernel, 1, json!({"user_id": 999, "body": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post_comment(&kernel, 4242, json!({"user_id": 2, "body": "hello"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let jobs: Vec<i64> = db
        .select("SELECT COUNT(*) FROM jobs", vec![])
        .await
        .unwrap();
    assert_eq!(jobs, [0]);
}
