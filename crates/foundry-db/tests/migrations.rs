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

/// Dropping columns that carry foreign keys and unique indexes, and dropping foreign keys,
/// keeps every row — including the rows of other tables pointing at the altered one, which a
/// careless SQLite table rebuild would cascade-delete.
async fn dropping_constrained_columns_and_foreign_keys_keeps_data(db: Db) {
    let mut migrations = blog_migrations();
    migrations.truncate(2);
    migrations.push(Arc::new(M {
        name: "2024_01_04_000000_create_comments_table",
        up: |s| {
            s.create("comments", |t| {
                t.id();
                t.foreign_id("post_id").constrained().cascade_on_delete();
                t.text("body");
            });
            s.table("posts", |t| {
                t.foreign_id("editor_id")
                    .nullable()
                    .constrained_on("users")
                    .null_on_delete();
                t.string("code", 20).nullable().unique();
            });
        },
        down: |s| s.drop_if_exists("comments"),
    }));
    let migrator = Migrator::new(db.clone(), migrations.clone());
    migrator.migrate(MigrateOptions::default()).await.unwrap();
    db.statement(
        "INSERT INTO users (name, email, admin) VALUES ('Ada', 'ada@example.com', ?)",
        vec![false.into()],
    )
    .await
    .unwrap();
    db.statement(
        "INSERT INTO posts (user_id, title, editor_id, code) VALUES (1, 'Hello', 1, 'H1')",
        vec![],
    )
    .await
    .unwrap();
    db.statement(
        "INSERT INTO comments (post_id, body) VALUES (1, 'First!')",
        vec![],
    )
    .await
    .unwrap();

    migrations.push(Arc::new(M {
        name: "2024_01_05_000000_drop_constrained_columns",
        up: |s| {
            s.table("posts", |t| {
                t.drop_foreign("editor_id");
                t.drop_column("user_id");
                t.drop_column("code");
            });
        },
        down: |_| {},
    }));
    let migrator = Migrator::new(db.clone(), migrations);
    migrator.migrate(MigrateOptions::default()).await.unwrap();

    let cols = columns(&db, "posts").await;
    assert!(!cols.contains(&"user_id".to_owned()), "{cols:?}");
    assert!(!cols.contains(&"code".to_owned()), "{cols:?}");
    assert!(cols.contains(&"editor_id".to_owned()), "{cols:?}");
    let titles: Vec<String> = db.select("SELECT title FROM posts", vec![]).await.unwrap();
    assert_eq!(titles, ["Hello"]);
    let comments: Vec<String> = db
        .select("SELECT body FROM comments", vec![])
        .await
        .unwrap();
    assert_eq!(
        comments,
        ["First!"],
        "the rebuild must not cascade into comments"
    );
    // The editor foreign key is gone: a dangling editor id is accepted now…
    db.statement("UPDATE posts SET editor_id = 999", vec![])
        .await
        .unwrap();
    // …while comments still point at posts for real, and the title index is still there.
    let err = db
        .statement(
            "INSERT INTO comments (post_id, body) VALUES (42, 'orphan')",
            vec![],
        )
        .await;
    assert!(err.is_err(), "comments.post_id must still be a foreign key");
    let explain: Vec<String> = match db.backend() {
        Backend::Sqlite => db
            .select(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'posts' AND name = 'posts_title_index'",
                vec![],
            )
            .await
            .unwrap(),
        Backend::Postgres => db
            .select(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'posts_title_index'",
                vec![],
            )
            .await
            .unwrap(),
    };
    assert_eq!(explain, ["posts_title_index"]);
    // A new post gets the next id (the AUTOINCREMENT sequence survived the rebuild).
    db.statement("INSERT INTO posts (title) VALUES ('Second')", vec![])
        .await
        .unwrap();
    let ids: Vec<i64> = db
        .select("SELECT id FROM posts ORDER BY id", vec![])
        .await
        .unwrap();
    assert_eq!(ids, [1, 2]);
}

/// A rebuild that would leave rows pointing nowhere, or that names a missing foreign key,
/// fails and changes nothing.
async fn a_bad_rebuild_changes_nothing(db: Db) {
    let mut migrations = blog_migrations();
    migrations.truncate(2);
    Migrator::new(db.clone(), migrations.clone())
        .migrate(MigrateOptions::default())
        .await
        .unwrap();
    migrations.push(Arc::new(M {
        name: "2024_01_05_000000_drop_missing_foreign_key",
        up: |s| {
            s.table("posts", |t| {
                t.drop_column("title");
                t.drop_foreign("nope");
            });
        },
        down: |_| {},
    }));
    let err = Migrator::new(db.clone(), migrations)
        .migrate(MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(columns(&db, "posts").await.contains(&"title".to_owned()));
}

backend_tests!(
    dropping_constrained_columns_and_foreign_keys_keeps_data,
    a_bad_rebuild_changes_nothing,
    migrate_rollback_reset_refresh_fresh,
    pretend_changes_nothing,
    failing_migration_rolls_back_its_batch,
    unknown_recorded_migration_is_a_clear_error,
);
