//! Each test's own database: isolation on SQLite and PostgreSQL, migrations once per process,
//! and the database assertions.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use foundry::db::{DatabaseConfig, Db, ModelExt};
use foundry_testing::prelude::*;
use futures_util::FutureExt;

use crate::support::{Note, NotesApp, SQLITE_MIGRATIONS};

async fn write(app: &TestApp, title: &str) {
    for n in 0..3 {
        app.post_json("/notes", &json!({"title": format!("{title} {n}")}))
            .await
            .assert_created()
            .assert_json_path("data.id", &json!(n + 1));
    }
}

/// Two apps writing the same table at the same time see only their own rows, numbered from 1.
async fn isolation(database: TestDatabase) {
    let boot = || {
        TestApp::builder::<NotesApp>()
            .database(database.clone())
            .boot()
    };
    let (left, right) = tokio::join!(boot(), boot());
    tokio::join!(write(&left, "left"), write(&right, "right"));
    for (app, mine, theirs) in [(&left, "left", "right"), (&right, "right", "left")] {
        app.assert_database_count("notes", 3).await;
        app.assert_database_has("notes", &json!({"title": format!("{mine} 2")}))
            .await;
        app.assert_database_missing("notes", &json!({"title": format!("{theirs} 0")}))
            .await;
        app.get("/notes").await.assert_json_count(3, "data");
    }
}

#[tokio::test]
async fn sqlite_tests_do_not_see_each_others_rows() {
    isolation(TestDatabase::Sqlite).await;
}

#[tokio::test]
async fn postgres_tests_do_not_see_each_others_rows() {
    let Some(url) = foundry_testing::postgres_url() else {
        return;
    };
    isolation(TestDatabase::Postgres(url)).await;
}

#[tokio::test]
async fn a_postgres_test_schema_is_dropped_with_its_app() {
    let Some(url) = foundry_testing::postgres_url() else {
        return;
    };
    let app = TestApp::builder::<NotesApp>().postgres(&url).boot().await;
    let settings: DatabaseConfig = app.ctx().config().section("database").unwrap();
    let schema = settings.search_path.expect("the test's schema");
    assert!(schema.starts_with("foundry_test_"), "{schema}");
    app.post_json("/notes", &json!({"title": "in postgres"}))
        .await
        .assert_created();
    app.assert_database_has(
        "notes",
        &json!({"title": "in postgres", "deleted_at": null}),
    )
    .await;
    let admin = Db::connect(&url).await.unwrap();
    let exists = || async {
        let found: Vec<i64> = admin
            .select(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
                vec![schema.clone().into()],
            )
            .await
            .unwrap();
        found[0]
    };
    assert_eq!(exists().await, 1);
    drop(app);
    assert_eq!(exists().await, 0, "schema {schema} is dropped");
}

#[tokio::test]
async fn migrations_run_once_per_process() {
    // The first boot builds the migrated image (the migrator may call `up` more than once
    // while planning); later boots copy it and run nothing.
    let first = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let after_first = SQLITE_MIGRATIONS.load(Ordering::SeqCst);
    assert!(after_first >= 1);
    drop(first);
    let apps = futures_util::future::join_all(
        (0..6).map(|_| TestApp::builder::<NotesApp>().sqlite().boot()),
    )
    .await;
    for app in &apps {
        app.get("/notes").await.assert_ok();
        app.assert_database_has(
            "migrations",
            &json!({"migration": "2026_01_01_000000_create_notes_table"}),
        )
        .await;
    }
    assert_eq!(SQLITE_MIGRATIONS.load(Ordering::SeqCst), after_first);
    assert!(foundry_testing::template_builds() >= 1);
    // A booted app's own database is already migrated: booting took no migration run.
    assert!(apps.iter().all(|app| app.boot_time().as_secs() < 5));
}

#[tokio::test]
async fn database_assertions_pass_and_fail_with_the_rows() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.assert_database_empty("notes").await;
    app.post_json("/notes", &json!({"title": "Kept"}))
        .await
        .assert_created();
    app.post_json("/notes", &json!({"title": "Trashed", "body": "soon"}))
        .await
        .assert_created();
    app.delete("/notes/2").await.assert_no_content();

    app.assert_database_has("notes", &json!({"title": "Kept", "body": null}))
        .await;
    app.assert_database_missing("notes", &json!({"title": "Never"}))
        .await;
    app.assert_database_count("notes", 2).await;
    app.assert_soft_deleted("notes", &json!({"title": "Trashed"}))
        .await;
    app.assert_not_soft_deleted("notes", &json!({"title": "Kept"}))
        .await;
    let kept = Note::find_or_fail(&app.db(), 1).await.unwrap();
    app.assert_model_exists(&kept).await;
    let mut gone = kept.clone();
    gone.force_delete(&app.db()).await.unwrap();
    app.assert_model_missing(&kept).await;

    let message = panic_message(app.assert_database_has("notes", &json!({"title": "Nope"}))).await;
    assert!(
        message.contains("no row in `notes` matches {\"title\":\"Nope\"}"),
        "{message}"
    );
    assert!(message.contains("rows in `notes` (1 of 1):"), "{message}");
    assert!(message.contains("\"title\":\"Trashed\""), "{message}");
    let message = panic_message(app.assert_database_count("notes", 5)).await;
    assert!(
        message.contains("expected 5 row(s) in `notes`, found 1"),
        "{message}"
    );
    let message = panic_message(app.assert_soft_deleted("notes", &json!({"title": "Kept"}))).await;
    assert!(message.contains("assert_soft_deleted failed"), "{message}");
    let message = panic_message(app.assert_model_exists(&kept)).await;
    assert!(
        message.contains("no `Note` row with id = 1 in `notes`"),
        "{message}"
    );
    let message = panic_message(app.assert_database_has("no_such_table", &json!({}))).await;
    assert!(message.contains("querying `no_such_table`"), "{message}");
}

async fn panic_message(assertion: impl std::future::Future<Output = ()>) -> String {
    let panic = AssertUnwindSafe(assertion)
        .catch_unwind()
        .await
        .expect_err("the assertion should fail");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .expect("a text panic")
}
