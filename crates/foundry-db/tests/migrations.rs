//! Migrations and the schema builder, on SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use foundry_db::migrate::{MigrateOptions, Migration, Migrator, RollbackOptions};
use foundry_db::schema::Schema;
use foundry_db::{Backend, Db, DbError};
use serde_json::json;

struct M {
    name: &'static str,
    up: fn(&mut Schema),
    down: fn(&mut Schema),
}

impl Migration for M {
    fn name(&self) -> &str {
        self.name
    }
    fn up(&self, schema: &mut Schema) {
        (self.up)(schema);
    }
    fn down(&self, schema: &mut Schema) {
        (self.down)(schema);
    }
}

fn blog_migrations() -> Vec<Arc<dyn Migration>> {
    vec![
        Arc::new(M {
            name: "2024_01_01_000000_create_users_table",
            up: |s| {
                s.create("users", |t| {
                    t.id();
                    t.string("name", 100);
                    t.string("email", 255).unique();
                    t.boolean("admin").default(false);
                    t.json("settings").nullable();
                    t.timestamps();
                });
            },
            down: |s| s.drop_if_exists("users"),
        }),
        Arc::new(M {
            name: "2024_01_02_000000_create_posts_table",
            up: |s| {
                s.create("posts", |t| {
                    t.id();
                    t.foreign_id("user_id").constrained().cascade_on_delete();
                    t.string("title", 200).index();
                    t.text("body").nullable();
                    t.enumeration("status", &["draft", "published"])
                        .default("draft");
                    t.integer("views").unsigned().default(0);
                    t.decimal("price", 8, 2).nullable();
                    t.double("score").default(0.5);
                    t.date("published_on").nullable();
                    t.datetime("reviewed_at").nullable();
                    t.time("slot").nullable();
                    t.uuid("uuid").nullable();
                    t.ulid("ulid").nullable();
                    t.binary("blob").nullable();
                    t.small_integer("rank").default(1);
                    t.big_integer("big").default(0);
                    t.jsonb("meta").nullable();
                    t.datetime_tz("created_at").use_current();
                    t.soft_deletes();
                });
            },
            down: |s| s.drop_if_exists("posts"),
        }),
        Arc::new(M {
            name: "2024_01_03_000000_alter_posts_table",
            up: |s| {
                s.table("posts", |t| {
                    t.string("slug", 200).nullable().unique();
                    t.rename_column("body", "content");
                    t.drop_column("title"); // indexed: SQLite needs its index dropped first
                });
            },
            down: |s| {
                s.table("posts", |t| {
                    t.drop_column("slug");
                    t.rename_column("content", "body");
                    t.string("title", 200).default("");
                });
            },
        }),
    ]
}

async fn tables(db: &Db) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        }
    };
    db.select(sql, vec![]).await.unwrap()
}

async fn columns(db: &Db, table: &str) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info(?) ORDER BY cid",
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
        }
    };
    db.select(sql, vec![table.into()]).await.unwrap()
}

async fn migrate_rollback_reset_refresh_fresh(db: Db) {
    let migrator = Migrator::new(db.clone(), blog_migrations());
    let status = migrator.status().await.unwrap();
    assert!(status.iter().all(|s| !s.ran()));

    let report = migrator.migrate(MigrateOptions::default()).await.unwrap();
    assert_eq!(report.migrations.len(), 3);
    assert_eq!(tables(&db).await, ["migrations", "posts", "users"]);
    let cols = columns(&db, "posts").await;
    assert!(cols.contains(&"slug".to_owned()) && cols.contains(&"content".to_owned()));
    assert!(!cols.contains(&"title".to_owned()) && !cols.contains(&"body".to_owned()));
    assert!(
        migrator
            .status()
            .await
            .unwrap()
            .iter()
            .all(|s| s.batch == Some(1))
    );
    // Idempotent: nothing pending.
    assert!(
        migrator
            .migrate(MigrateOptions::default())
            .await
            .unwrap()
            .migrations
            .is_empty()
    );

    // Defaults, checks, unique indexes and cascading foreign keys work for real.
    let user = db
        .table("users")
        .insert_get_id(json!({"name": "Ada", "email": "ada@example.com"}))
        .await
        .unwrap();
    db.table("posts")
        .insert(json!({"user_id": user, "slug": "hello"}))
        .await
        .unwrap();
    let post = db.table("posts").first().await.unwrap().unwrap();
    assert_eq!(post["status"], "draft");
    assert_eq!(post["views"], 0);
    assert!(!post["created_at"].is_null(), "use_current");
    assert!(
        db.table("posts")
            .insert(json!({"user_id": user, "status": "bogus"}))
            .await
            .is_err(),
        "enum check"
    );
    assert!(
        db.table("posts")
            .insert(json!({"user_id": user, "views": -1}))
            .await
            .is_err(),
        "unsigned"
    );
    assert!(
        db.table("posts")
            .insert(json!({"user_id": 999}))
            .await
            .is_err(),
        "foreign key"
    );
    assert!(
        db.table("users")
            .insert(json!({"name": "B", "email": "ada@example.com"}))
            .await
            .is_err(),
        "unique"
    );
    db.table("users")
        .where_eq("id", user)
        .delete()
        .await
        .unwrap();
    assert_eq!(
        db.table("posts").count().await.unwrap(),
        0,
        "cascade on delete"
    );

    // Rollback undoes the last batch (all three ran in batch 1).
    let report = migrator.rollback(RollbackOptions::default()).await.unwrap();
    assert_eq!(
        report.migrations[0], "2024_01_03_000000_alter_posts_table",
        "newest first"
    );
    assert_eq!(tables(&db).await, ["migrations"]);

    // --step gives one batch per migration; rollback --step 1 undoes only the last.
    migrator
        .migrate(MigrateOptions {
            step: true,
            pretend: false,
        })
        .await
        .unwrap();
    let batches: Vec<Option<i64>> = migrator
        .status()
        .await
        .unwrap()
        .iter()
        .map(|s| s.batch)
        .collect();
    assert_eq!(batches, [Some(1), Some(2), Some(3)]);
    migrator
        .rollback(RollbackOptions {
            step: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        columns(&db, "posts").await.contains(&"title".to_owned()),
        "alter undone"
    );
    let report = migrator
        .rollback(RollbackOptions {
            batch: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(report.migrations, ["2024_01_02_000000_create_posts_table"]);
    let batches: Vec<Option<i64>> = migrator
        .status()
        .await
        .unwrap()
        .iter()
        .map(|s| s.batch)
        .collect();
    assert_eq!(batches, [Some(1), None, None]);
    assert_eq!(tables(&db).await, ["migrations", "users"]);

    // reset undoes everything; refresh = reset + migrate.
    migrator.reset(false).await.unwrap();
    assert_eq!(tables(&db).await, ["migrations"]);
    let (down, up) = migrator.refresh().await.unwrap();
    assert!(down.migrations.is_empty());
    assert_eq!(up.migrations.len(), 3);

    // fresh drops every table, even ones no migration knows.
    db.statement("CREATE TABLE stray (x INTEGER)", vec![])
        .await
        .unwrap();
    let report = migrator.fresh().await.unwrap();
    assert!(report.dropped_tables.contains(&"stray".to_owned()));
    assert_eq!(tables(&db).await, ["migrations", "posts", "users"]);
}

async fn pretend_changes_nothing(db: Db) {
    let migrator = Migrator::new(db.clone(), blog_migrations());
    let report = migrator
        .migrate(MigrateOptions {
            step: false,
            pretend: true,
        })
        .await
        .unwrap();
    assert!(report.pretend);
    assert_eq!(report.statements.len(), 3);
    assert!(report.statements[0].1[0].starts_with("CREATE TABLE \"users\""));
    assert_eq!(
        report.statements[0].1[1],
        r#"CREATE UNIQUE INDEX "users_email_unique" ON "users" ("email")"#
    );
    assert_eq!(tables(&db).await, ["migrations"]);
    assert!(migrator.status().await.unwrap().iter().all(|s| !s.ran()));
}

async fn failing_migration_rolls_back_its_batch(db: Db) {
    let mut migrations = blog_migrations();
    migrations.truncate(1);
    migrations.push(Arc::new(M {
        name: "2024_02_01_000000_broken",
        up: |s| {
            s.create("half", |t| {
                t.id();
            });
            s.raw("THIS IS NOT SQL");
        },
        down: |_| {},
    }));
    let migrator = Migrator::new(db.clone(), migrations);
    let err = migrator
        .migrate(MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DbError::Migration { name, .. } if name == "2024_02_01_000000_broken"),
        "{err}"
    );
    let left = tables(&db).await;
    assert!(
        !left.contains(&"users".to_owned()) && !left.contains(&"half".to_owned()),
        "whole batch rolled back: {left:?}"
    );
    assert!(migrator.status().await.unwrap().iter().all(|s| !s.ran()));
}

async fn unknown_recorded_migration_is_a_clear_error(db: Db) {
    Migrator::new(db.clone(), blog_migrations())
        .migrate(MigrateOptions::default())
        .await
        .unwrap();
    let fewer = Migrator::new(db.clone(), blog_migrations().into_iter().take(1).collect());
    let err = fewer
        .rollback(RollbackOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not registered"), "{err}");
    let dup = Migrator::new(
        db.clone(),
        vec![blog_migrations().remove(0), blog_migrations().remove(0)],
    );
    assert!(
        dup.status()
            .await
            .unwrap_err()
            .to_string()
            .contains("registered twice")
    );
}

backend_tests!(
    migrate_rollback_reset_refresh_fresh,
    pretend_changes_nothing,
    failing_migration_rolls_back_its_batch,
    unknown_recorded_migration_is_a_clear_error,
);
