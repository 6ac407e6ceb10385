//! Two real processes run `migrate` at the same time; each migration is applied exactly once.
//!
//! The parent tests re-run this test binary twice concurrently, filtered to
//! `child_process_entry`, with `FOUNDRY_MIGRATE_CHILD_URL` telling the child what to migrate.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;

use foundry_db::migrate::{MigrateOptions, Migration, Migrator};
use foundry_db::schema::Schema;
use foundry_db::{Backend, ConnectionConfig, Db};

struct CreateLog;
impl Migration for CreateLog {
    fn name(&self) -> &str {
        "2024_01_01_000000_create_log_table"
    }
    fn up(&self, s: &mut Schema) {
        s.create("log", |t| {
            t.id();
            t.string("entry", 50);
        });
    }
    fn down(&self, s: &mut Schema) {
        s.drop("log");
    }
}

/// Takes about a second, then writes a row: applied twice, it would leave two rows.
struct SlowInsert;
impl Migration for SlowInsert {
    fn name(&self) -> &str {
        "2024_01_02_000000_slow_insert"
    }
    fn up(&self, s: &mut Schema) {
        match s.backend() {
            Backend::Postgres => s.raw("SELECT pg_sleep(1)"),
            Backend::Sqlite => s.raw(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c",
            ),
        }
        s.raw("INSERT INTO \"log\" (\"entry\") VALUES ('slow')");
    }
    fn down(&self, s: &mut Schema) {
        s.raw("DELETE FROM \"log\" WHERE \"entry\" = 'slow'");
    }
}

fn migrations() -> Vec<Arc<dyn Migration>> {
    vec![Arc::new(CreateLog), Arc::new(SlowInsert)]
}

async fn connect(url: &str, schema: Option<String>) -> Db {
    let mut config = ConnectionConfig::new(url);
    config.search_path = schema;
    Db::connect_with("default", &config, std::path::Path::new("."))
        .await
        .unwrap()
}

/// The child side: does nothing unless started by the tests below.
#[tokio::test]
async fn child_process_entry() {
    let Ok(url) = std::env::var("FOUNDRY_MIGRATE_CHILD_URL") else {
        return;
    };
    let schema = std::env::var("FOUNDRY_MIGRATE_CHILD_SCHEMA").ok();
    let db = connect(&url, schema).await;
    let report = Migrator::new(db, migrations())
        .migrate(MigrateOptions::default())
        .await
        .unwrap();
    println!("CHILD_RAN {}", report.migrations.len());
}

fn spawn_children(url: &str, schema: Option<&str>) -> Vec<usize> {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            cmd.args([
                "--exact",
                "child_process_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FOUNDRY_MIGRATE_CHILD_URL", url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            if let Some(schema) = schema {
                cmd.env("FOUNDRY_MIGRATE_CHILD_SCHEMA", schema);
            }
            cmd.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "child failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
                .lines()
                .find_map(|l| l.split_once("CHILD_RAN ").map(|(_, n)| n))
                .and_then(|n| n.split_whitespace().next()?.parse().ok())
                .expect("child printed its report")
        })
        .collect()
}

async fn assert_applied_once(db: &Db, ran: &[usize]) {
    let mut ran = ran.to_vec();
    ran.sort_unstable();
    assert_eq!(
        ran,
        [0, 2],
        "one process applied both migrations, the other found nothing to do"
    );
    assert_eq!(
        db.table("log")
            .where_eq("entry", "slow")
            .count()
            .await
            .unwrap(),
        1
    );
    assert_eq!(db.table("migrations").count().await.unwrap(), 2);
}

#[tokio::test]
async fn two_processes_migrating_sqlite_apply_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("race.sqlite").display());
    let ran = tokio::task::spawn_blocking({
        let url = url.clone();
        move || spawn_children(&url, None)
    })
    .await
    .unwrap();
    assert_applied_once(&connect(&url, None).await, &ran).await;
}

#[tokio::test]
async fn two_processes_migrating_postgres_apply_each_migration_once() {
    let Some((db, admin, schema)) = common::postgres().await else {
        return;
    };
    let url = common::postgres_url().unwrap();
    let outcome = {
        use futures_util::FutureExt;
        let (db, schema) = (db.clone(), schema.clone());
        std::panic::AssertUnwindSafe(async move {
            let ran = tokio::task::spawn_blocking(move || spawn_children(&url, Some(&schema)))
                .await
                .unwrap();
            assert_applied_once(&db, &ran).await;
        })
        .catch_unwind()
        .await
    };
    db.close().await;
    admin
        .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
