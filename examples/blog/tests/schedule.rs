//! The blog's schedule in-process: its tasks and times, the stats task feeding `/api/stats`,
//! and the nightly prune running `posts:prune-trashed` as a child process of the blog binary.

use chrono::{DateTime, Utc};
use foundry::Kernel;
use foundry::config::ConfigLoader;
use foundry::db::Db;
use foundry::db::seed::Seeder;
use foundry::schedule::{Outcome, Schedule, Skip, Tick};
use foundry_testing::prelude::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn the_blog_schedules_its_stats_every_minute_and_its_prune_nightly() {
    let app = TestApp::builder::<blog::Blog>().sqlite().boot().await;
    let schedule = app.ctx().make::<Schedule>().unwrap();
    let tasks: Vec<(String, String, bool, bool)> = schedule
        .tasks()
        .iter()
        .map(|t| {
            (
                t.description().to_owned(),
                t.expression(),
                t.runs_on_one_server(),
                t.overlap_expiry().is_some(),
            )
        })
        .collect();
    assert_eq!(
        tasks,
        [
            ("blog:refresh-stats".into(), "* * * * *".into(), true, false),
            (
                "posts:prune-trashed --days=30".into(),
                "0 3 * * *".into(),
                false,
                true
            ),
        ]
    );
    let prune = &schedule.tasks()[1];
    assert_eq!(prune.command_name(), Some("posts:prune-trashed"));
    assert_eq!(
        prune.next_due(at("2026-11-22T09:30:00Z")),
        Some(at("2026-11-23T03:00:00Z"))
    );
    assert!(prune.is_due(at("2026-11-23T03:00:30Z")));
    assert!(!prune.is_due(at("2026-11-23T03:01:00Z")));
}

#[tokio::test]
async fn the_stats_task_refreshes_the_counts_that_api_stats_serves() {
    let app = TestApp::builder::<blog::Blog>().sqlite().boot().await;
    blog::seed::DatabaseSeeder.run(&app.db()).await.unwrap();
    let db: Db = app.db();
    let counts = blog::schedule::Stats::count(&db).await.unwrap();
    assert!(counts.posts > 0 && counts.comments > 0, "{counts:?}");

    let scheduler = foundry::schedule::scheduler(app.ctx()).unwrap();
    let report = scheduler.run(Tick::at(at("2026-11-22T09:31:00Z"))).await;
    assert_eq!(report.runs.len(), 1, "{report:?}");
    assert_eq!(
        report.of("blog:refresh-stats").unwrap().outcome,
        Outcome::Succeeded
    );
    let response = app.get("/api/stats").await;
    response.assert_ok();
    assert_eq!(
        response.json(),
        json!({"posts": counts.posts, "comments": counts.comments})
    );

    // A new comment shows once the next tick has counted it: requests read the cache.
    db.statement(
        "INSERT INTO comments (post_id, user_id, body) VALUES (1, 1, 'late')",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        app.get("/api/stats").await.json()["comments"],
        json!(counts.comments)
    );
    // The same minute again (a second scheduler, say) is claimed already: on one server.
    let again = scheduler.run(Tick::at(at("2026-11-22T09:31:00Z"))).await;
    assert_eq!(
        again.of("blog:refresh-stats").unwrap().outcome,
        Outcome::Skipped(Skip::OtherServer)
    );
    scheduler.run(Tick::at(at("2026-11-22T09:32:00Z"))).await;
    assert_eq!(
        app.get("/api/stats").await.json()["comments"],
        json!(counts.comments + 1)
    );
}

#[tokio::test]
async fn the_nightly_prune_runs_the_blog_command_as_a_child_process() {
    // The child process reads the same foundry.toml, so the database is a file there.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    std::fs::write(
        dir.path().join("foundry.toml"),
        format!(
            "[app]\nname = \"Pruned Blog\"\nenv = \"testing\"\n\n[database]\nurl = \"{url}\"\n"
        ),
    )
    .unwrap();
    let config = ConfigLoader::new(dir.path())
        .dotenv(false)
        .vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let kernel = Kernel::boot::<blog::Blog>(config).await.unwrap();
    let ctx = kernel.context();
    let db = ctx.make::<Db>().unwrap();
    blog::prepare_demo_database(&db).await.unwrap();
    let now = Utc::now();
    let trash = |id: i64, days: i64| {
        let db = db.clone();
        async move {
            db.statement(
                "UPDATE posts SET deleted_at = ? WHERE id = ?",
                vec![(now - chrono::Duration::days(days)).into(), id.into()],
            )
            .await
            .unwrap();
        }
    };
    trash(1, 40).await;
    trash(2, 5).await;
    let before: Vec<(i64,)> = db
        .select("SELECT id FROM posts ORDER BY id", vec![])
        .await
        .unwrap();

    let scheduler = foundry::schedule::scheduler(ctx)
        .unwrap()
        .program(env!("CARGO_BIN_EXE_blog"));
    let report = scheduler.run(Tick::at(at("2026-11-23T03:00:00Z"))).await;
    assert_eq!(
        report
            .of("posts:prune-trashed --days=30")
            .map(|r| &r.outcome),
        Some(&Outcome::Succeeded),
        "{report:?}"
    );
    let after: Vec<(i64,)> = db
        .select("SELECT id FROM posts ORDER BY id", vec![])
        .await
        .unwrap();
    let gone: Vec<i64> = before
        .iter()
        .filter(|b| !after.contains(b))
        .map(|(id,)| *id)
        .collect();
    assert_eq!(
        gone,
        [1],
        "only the post trashed 40 days ago is deleted for good"
    );

    // The command on its own, with a bad option: the exit status is the task's outcome.
    let mut bad = Schedule::new();
    bad.command("posts:prune-trashed --days=many");
    bad.validate().unwrap();
    let report = foundry::schedule::Scheduler::new(
        std::sync::Arc::new(bad),
        ctx.clone(),
        foundry::schedule::lock_store(ctx).unwrap(),
    )
    .program(env!("CARGO_BIN_EXE_blog"))
    .run(Tick::at(at("2026-11-23T03:00:00Z")))
    .await;
    let Outcome::Failed(error) = &report.runs[0].outcome else {
        panic!("{report:?}");
    };
    assert!(
        error.starts_with("exited with status 2: error: invalid value 'many' for '--days <N>'"),
        "{error}"
    );
}
