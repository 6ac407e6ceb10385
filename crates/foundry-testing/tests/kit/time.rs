//! Time: freezing and travelling move the app's one clock, model timestamps included.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use foundry::db::ModelExt;
use foundry_testing::prelude::*;

use crate::support::{Note, NotesApp};

#[tokio::test]
async fn a_model_created_after_travel_has_the_travelled_created_at() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let start = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    app.freeze_time_at(start);
    assert_eq!(app.clock().now(), start);
    app.travel(Duration::from_secs(86_400));
    app.post_json("/notes", &json!({"title": "Tomorrow"}))
        .await
        .assert_created();
    let note = Note::find_or_fail(&app.db(), 1).await.unwrap();
    assert_eq!(note.created_at, Some(start + chrono::Duration::days(1)));
    app.get("/notes/1")
        .await
        .assert_json_path("data.created_at", &json!("2030-01-02T12:00:00Z"));
    app.get("/now")
        .await
        .assert_json(&json!({"now": (start + chrono::Duration::days(1)).timestamp()}));

    // Deleting an hour later stamps deleted_at an hour later.
    app.travel(Duration::from_secs(3600));
    app.delete("/notes/1").await.assert_no_content();
    app.assert_soft_deleted("notes", &json!({"id": 1})).await;
    let trashed = Note::query(&app.db())
        .with_trashed()
        .first()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        trashed.deleted_at,
        Some(start + chrono::Duration::hours(25))
    );

    app.travel_back(Duration::from_secs(7200));
    assert_eq!(app.clock().now(), start + chrono::Duration::hours(23));
    app.resume_time();
    assert!((app.clock().now() - Utc::now()).num_seconds().abs() < 5);
}

#[tokio::test]
async fn each_test_app_has_its_own_clock() {
    let frozen = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let other = TestApp::builder::<NotesApp>().sqlite().boot().await;
    frozen.travel_to(Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap());
    frozen.freeze_time();
    assert!(
        other.clock().now().timestamp()
            > Utc
                .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp()
    );
    assert!(!other.clock().is_frozen());
}
