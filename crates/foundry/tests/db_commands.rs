//! The database commands through the app's real command line, on a SQLite file.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use foundry::BoxFuture;
use foundry::db::migrate::Migration;
use foundry::db::schema::Schema;
use foundry::db::seed::Seeder;
use foundry::db::{Db, DbResult};
use foundry::prelude::*;

static ROOT: OnceLock<PathBuf> = OnceLock::new();

struct CreateNotes;
impl Migration for CreateNotes {
    fn name(&self) -> &str {
        "2024_01_01_000000_create_notes_table"
    }
    fn up(&self, s: &mut Schema) {
        s.create("notes", |t| {
            t.id();
            t.string("body", 100);
        });
    }
    fn down(&self, s: &mut Schema) {
        s.drop("notes");
    }
}

/// A model used through the `foundry` facade only. It is only ever built from rows, inside
/// generic code the dead-code lint cannot see, hence the allow.
#[allow(dead_code)]
#[derive(foundry::db::Model, Debug, Clone)]
#[model(crate = "foundry::db", table = "notes", fillable(body))]
struct Note {
    id: i64,
    body: String,
}

struct NoteSeeder;
impl Seeder for NoteSeeder {
    fn name(&self) -> &str {
        "NoteSeeder"
    }
    fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            db.table("notes")
                .insert(serde_json::json!({"body": "seeded"}))
                .await?;
            Ok(())
        })
    }
}

struct NotesApp;
impl App for NotesApp {
    fn routes(routes: Routes) -> Routes {
        routes
    }
    fn root() -> Option<PathBuf> {
        ROOT.get().cloned()
    }
    fn migrations() -> Vec<Arc<dyn Migration>> {
        vec![Arc::new(CreateNotes)]
    }
    fn seeders() -> Vec<Box<dyn Seeder>> {
        vec![Box::new(NoteSeeder)]
    }
}

fn run(args: &[&str]) -> ExitCode {
    let mut argv: Vec<OsString> = vec!["notes".into()];
    argv.extend(args.iter().map(OsString::from));
    foundry::run_with_args::<NotesApp>(argv)
}

fn count_notes(path: &std::path::Path) -> Option<i64> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        db.table("notes").count().await.ok()
    })
}

#[test]
fn migrate_commands_run_against_the_configured_database() {
    let dir = tempfile::tempdir().unwrap();
    ROOT.set(dir.path().to_owned()).unwrap();
    let file = dir.path().join("storage/database.sqlite");
    std::fs::write(dir.path().join("foundry.toml"), "[app]\nname = \"Notes\"\n").unwrap();

    assert_eq!(run(&["migrate:status"]), ExitCode::SUCCESS);
    assert_eq!(run(&["migrate", "--pretend"]), ExitCode::SUCCESS);
    assert_eq!(count_notes(&file), None, "pretend changes nothing");
    assert_eq!(run(&["migrate", "--seed"]), ExitCode::SUCCESS);
    assert_eq!(count_notes(&file), Some(1));
    assert_eq!(
        run(&["db:seed", "--class", "NoteSeeder"]),
        ExitCode::SUCCESS
    );
    assert_eq!(count_notes(&file), Some(2));
    assert_eq!(run(&["db:seed", "--class", "Nope"]), ExitCode::FAILURE);
    assert_eq!(run(&["migrate:fresh", "--seed"]), ExitCode::SUCCESS);
    assert_eq!(count_notes(&file), Some(1));
    assert_eq!(run(&["migrate:refresh"]), ExitCode::SUCCESS);
    assert_eq!(count_notes(&file), Some(0));
    assert_eq!(run(&["migrate:rollback"]), ExitCode::SUCCESS);
    assert_eq!(count_notes(&file), None);
    assert_eq!(run(&["migrate", "--step"]), ExitCode::SUCCESS);
    assert_eq!(run(&["migrate:reset"]), ExitCode::SUCCESS);
    assert_eq!(count_notes(&file), None);
    assert_eq!(run(&["migrate", "--database", "nope"]), ExitCode::FAILURE);

    // Production: destructive commands need --force.
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[app]\nname = \"Notes\"\nenv = \"production\"\n",
    )
    .unwrap();
    assert_eq!(run(&["migrate"]), ExitCode::SUCCESS);
    assert_eq!(run(&["migrate:fresh"]), ExitCode::FAILURE);
    assert_eq!(count_notes(&file), Some(0), "refused: nothing dropped");
    assert_eq!(
        run(&["migrate:fresh", "--force", "--seed"]),
        ExitCode::SUCCESS
    );
    assert_eq!(count_notes(&file), Some(1));
}
