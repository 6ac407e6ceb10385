//! Connections and the query builder, on SQLite and PostgreSQL.

mod common;

#[cfg(feature = "postgres")]
use std::time::{Duration, Instant};

use foundry_db::{Backend, ConnectionConfig, Db, DbError, Query};
use futures_util::StreamExt;
use serde_json::json;

async fn setup(db: &Db) {
    let id = match db.backend() {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    db.statement(
        &format!("CREATE TABLE users (id {id}, name TEXT NOT NULL, email TEXT UNIQUE, votes BIGINT NOT NULL DEFAULT 0, deleted_at TEXT)"),
        vec![],
    )
    .await
    .unwrap();
    db.statement(
        &format!("CREATE TABLE posts (id {id}, user_id BIGINT NOT NULL, title TEXT NOT NULL, views BIGINT NOT NULL DEFAULT 0)"),
        vec![],
    )
    .await
    .unwrap();
    let users = vec![
        json!({"name": "Ada", "email": "ada@example.com", "votes": 10, "deleted_at": null}),
        json!({"name": "Bob", "email": "bob@example.com", "votes": 3, "deleted_at": null}),
        json!({"name": "Cy", "email": "cy@example.com", "votes": 7, "deleted_at": "2024-01-01"}),
        json!({"name": "Di", "email": null, "votes": 0, "deleted_at": null}),
    ];
    assert_eq!(db.table("users").insert_many(users).await.unwrap(), 4);
    for (user, title, views) in [(1, "Rust", 100), (1, "SQL", 50), (2, "Axum", 10)] {
        db.table("posts")
            .insert(json!({"user_id": user, "title": title, "views": views}))
            .await
            .unwrap();
    }
}

fn names(rows: &[foundry_db::Record]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn where_clauses(db: Db) {
    setup(&db).await;
    let users = || db.table("users").order_by_asc("id");
    assert_eq!(
        names(&users().where_eq("name", "Ada").get().await.unwrap()),
        ["Ada"]
    );
    assert_eq!(
        names(&users().where_op("votes", ">", 5).get().await.unwrap()),
        ["Ada", "Cy"]
    );
    assert_eq!(
        names(&users().where_op("votes", "<", 5).get().await.unwrap()),
        ["Bob", "Di"]
    );
    assert_eq!(
        names(&users().where_op("votes", "!=", 3).get().await.unwrap()),
        ["Ada", "Cy", "Di"]
    );
    assert_eq!(
        names(&users().where_like("email", "%b@%").get().await.unwrap()),
        ["Bob"]
    );
    assert_eq!(
        names(&users().where_in("name", ["Bob", "Di"]).get().await.unwrap()),
        ["Bob", "Di"]
    );
    assert_eq!(
        names(
            &users()
                .where_not_in("name", ["Bob", "Di"])
                .get()
                .await
                .unwrap()
        ),
        ["Ada", "Cy"]
    );
    assert!(
        users()
            .where_in("name", Vec::<String>::new())
            .get()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        users()
            .where_not_in("name", Vec::<String>::new())
            .count()
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        names(&users().where_null("email").get().await.unwrap()),
        ["Di"]
    );
    assert_eq!(
        users().where_not_null("deleted_at").count().await.unwrap(),
        1
    );
    assert_eq!(
        names(&users().where_between("votes", 3, 7).get().await.unwrap()),
        ["Bob", "Cy"]
    );
    assert_eq!(
        names(
            &users()
                .where_not_between("votes", 3, 7)
                .get()
                .await
                .unwrap()
        ),
        ["Ada", "Di"]
    );
    // a AND b OR c  ==  (a AND b) OR c
    let rows = users()
        .where_eq("name", "Ada")
        .where_op("votes", ">", 100)
        .or_where_eq("name", "Bob")
        .get()
        .await
        .unwrap();
    assert_eq!(names(&rows), ["Bob"]);
    // Nested group: votes > 0 AND (name = Ada OR name = Cy)
    let rows = users()
        .where_op("votes", ">", 0)
        .where_group(|q| q.where_eq("name", "Ada").or_where_eq("name", "Cy"))
        .get()
        .await
        .unwrap();
    assert_eq!(names(&rows), ["Ada", "Cy"]);
    // EXISTS with a correlated subquery.
    let with_posts = users()
        .where_exists(Query::new("posts").select_raw("1").where_column(
            "posts.user_id",
            "=",
            "users.id",
        ))
        .get()
        .await
        .unwrap();
    assert_eq!(names(&with_posts), ["Ada", "Bob"]);
    let without = users()
        .where_not_exists(Query::new("posts").select_raw("1").where_column(
            "posts.user_id",
            "=",
            "users.id",
        ))
        .count()
        .await
        .unwrap();
    assert_eq!(without, 2);
    assert_eq!(
        users()
            .where_raw("lower(name) = ?", ["ada"])
            .count()
            .await
            .unwrap(),
        1
    );
    let mismatch = users()
        .where_raw("name = ? AND votes = ?", ["Ada"])
        .get()
        .await
        .unwrap_err();
    assert!(
        mismatch
            .to_string()
            .contains("2 `?` placeholder(s) but 1 value(s)"),
        "{mismatch}"
    );
    assert_eq!(
        users()
            .when(false, |q| q.where_eq("name", "x"))
            .count()
            .await
            .unwrap(),
        4
    );
}

async fn joins_order_group_limit(db: Db) {
    setup(&db).await;
    let rows = db
        .table("posts")
        .join("users", "users.id", "=", "posts.user_id")
        .select(["posts.title", "users.name as author"])
        .order_by_desc("posts.views")
        .get()
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["title"], "Rust");
    assert_eq!(rows[0]["author"], "Ada");
    let left = db
        .table("users")
        .left_join("posts", "posts.user_id", "=", "users.id")
        .where_null("posts.id")
        .select(["users.name"])
        .order_by_asc("users.name")
        .get()
        .await
        .unwrap();
    assert_eq!(names(&left), ["Cy", "Di"]);
    let grouped = db
        .table("posts")
        .select(["user_id"])
        .select_raw("COUNT(*) AS n")
        .group_by(["user_id"])
        .having_raw("COUNT(*) > ?", [1])
        .get()
        .await
        .unwrap();
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0]["user_id"], 1);
    assert_eq!(grouped[0]["n"], 2);
    let page = db
        .table("users")
        .order_by_asc("id")
        .limit(2)
        .offset(1)
        .get()
        .await
        .unwrap();
    assert_eq!(names(&page), ["Bob", "Cy"]);
    assert!(
        db.table("users")
            .order_by("id", "sideways")
            .get()
            .await
            .is_err()
    );
}

async fn aggregates_pluck_first_exists(db: Db) {
    setup(&db).await;
    let users = || db.table("users");
    assert_eq!(users().count().await.unwrap(), 4);
    assert_eq!(users().sum("votes").await.unwrap(), Some(20.0));
    assert_eq!(users().avg("votes").await.unwrap(), Some(5.0));
    assert_eq!(users().min("votes").await.unwrap(), json!(0));
    assert_eq!(users().max("name").await.unwrap(), json!("Di"));
    assert_eq!(
        users()
            .where_eq("name", "nobody")
            .sum("votes")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        users()
            .where_eq("name", "nobody")
            .max("votes")
            .await
            .unwrap(),
        json!(null)
    );
    assert_eq!(
        users().order_by_asc("id").pluck("name").await.unwrap(),
        vec![json!("Ada"), json!("Bob"), json!("Cy"), json!("Di")]
    );
    let votes: Vec<i64> = users()
        .order_by_desc("votes")
        .pluck_as("votes")
        .await
        .unwrap();
    assert_eq!(votes, [10, 7, 3, 0]);
    assert_eq!(
        users()
            .order_by_desc("votes")
            .first()
            .await
            .unwrap()
            .unwrap()["name"],
        "Ada"
    );
    assert!(
        users()
            .where_eq("name", "nobody")
            .first()
            .await
            .unwrap()
            .is_none()
    );
    let err = users()
        .where_eq("name", "nobody")
        .first_or_fail()
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::NotFound { .. }), "{err}");
    assert!(users().where_eq("name", "Bob").exists().await.unwrap());
    assert!(
        users()
            .where_eq("name", "nobody")
            .doesnt_exist()
            .await
            .unwrap()
    );
    // Count over a grouped query counts groups.
    assert_eq!(
        db.table("posts")
            .group_by(["user_id"])
            .select(["user_id"])
            .count()
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        db.table("users")
            .select(["votes"])
            .distinct()
            .count()
            .await
            .unwrap(),
        4
    );
}

async fn chunk_and_cursor(db: Db) {
    setup(&db).await;
    let mut seen = Vec::new();
    let mut chunks = 0;
    db.table("users")
        .chunk_by_id(3, "id", |rows| {
            chunks += 1;
            seen.extend(names(&rows));
            async { Ok(true) }
        })
        .await
        .unwrap();
    assert_eq!(chunks, 2);
    assert_eq!(seen, ["Ada", "Bob", "Cy", "Di"]);
    let mut stopped = 0;
    db.table("users")
        .chunk_by_id(1, "id", |_| {
            stopped += 1;
            async { Ok(false) }
        })
        .await
        .unwrap();
    assert_eq!(stopped, 1, "returning false stops");
    let mut stream = db.table("users").order_by_asc("id").cursor();
    let mut streamed = Vec::new();
    while let Some(row) = stream.next().await {
        streamed.push(row.unwrap()["name"].as_str().unwrap().to_owned());
    }
    assert_eq!(streamed, ["Ada", "Bob", "Cy", "Di"]);
    let mut bad = db.table("no_such_table").cursor();
    assert!(bad.next().await.unwrap().is_err());
}

async fn writes(db: Db) {
    setup(&db).await;
    let id = db
        .table("users")
        .insert_get_id(json!({"name": "Eve", "email": "eve@example.com"}))
        .await
        .unwrap();
    assert_eq!(id, 5);
    let changed = db
        .table("users")
        .where_eq("id", id)
        .update(json!({"votes": 42}))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(
        db.table("users")
            .where_eq("id", id)
            .pluck_as::<i64>("votes")
            .await
            .unwrap(),
        [42]
    );
    db.table("users")
        .where_eq("id", id)
        .increment("votes", 3)
        .await
        .unwrap();
    db.table("users")
        .where_eq("id", id)
        .decrement("votes", 1)
        .await
        .unwrap();
    assert_eq!(
        db.table("users")
            .where_eq("id", id)
            .pluck_as::<i64>("votes")
            .await
            .unwrap(),
        [44]
    );
    // Upsert: one update (email collides), one insert.
    db.table("users")
        .upsert(
            vec![
                json!({"name": "Ada Lovelace", "email": "ada@example.com", "votes": 11}),
                json!({"name": "Fay", "email": "fay@example.com", "votes": 1}),
            ],
            &["email"],
            &["name", "votes"],
        )
        .await
        .unwrap();
    assert_eq!(db.table("users").count().await.unwrap(), 6);
    let ada = db
        .table("users")
        .where_eq("email", "ada@example.com")
        .first()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada["name"], "Ada Lovelace");
    assert_eq!(ada["votes"], 11);
    assert_eq!(
        db.table("users")
            .where_op("votes", "<", 5)
            .delete()
            .await
            .unwrap(),
        3
    );
    assert_eq!(db.table("users").count().await.unwrap(), 3);
    // Unhappy paths.
    assert!(
        db.table("users").update(json!({})).await.is_err(),
        "empty update"
    );
    assert!(
        db.table("users").insert(json!([1, 2])).await.is_err(),
        "not an object"
    );
    let mixed = db
        .table("users")
        .insert_many(vec![json!({"name": "a"}), json!({"email": "b"})])
        .await;
    assert!(matches!(mixed, Err(DbError::InvalidQuery(_))));
    let dup = db
        .table("users")
        .insert(json!({"name": "X", "email": "ada@example.com"}))
        .await
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup}");
    assert!(
        db.table("users")
            .where_op("votes", "; DROP", 1)
            .get()
            .await
            .is_err(),
        "unknown operator"
    );
}

async fn lock_for_update_runs(db: Db) {
    setup(&db).await;
    let sql = db
        .table("users")
        .where_eq("id", 1)
        .lock_for_update()
        .to_sql();
    match db.backend() {
        Backend::Postgres => assert!(sql.ends_with("FOR UPDATE"), "{sql}"),
        Backend::Sqlite => assert!(!sql.contains("FOR UPDATE"), "{sql}"),
    }
    let locked: Result<i64, DbError> = db
        .transaction(|tx| async move {
            let row = tx
                .table("users")
                .where_eq("id", 1)
                .lock_for_update()
                .first()
                .await?
                .unwrap();
            Ok(row["votes"].as_i64().unwrap())
        })
        .await;
    assert_eq!(locked.unwrap(), 10);
}

async fn injection_fails_harmlessly(db: Db) {
    setup(&db).await;
    // Through values: the payload is data, compared literally.
    let payload = "x' OR '1'='1";
    assert_eq!(
        db.table("users")
            .where_eq("name", payload)
            .count()
            .await
            .unwrap(),
        0
    );
    let payload = "Ada'; DROP TABLE users; --";
    db.table("users")
        .insert(json!({"name": payload}))
        .await
        .unwrap();
    assert_eq!(
        db.table("users")
            .where_eq("name", payload)
            .count()
            .await
            .unwrap(),
        1
    );
    // Through column names: quoted as one identifier, so it is an unknown column, not SQL.
    let evil = "name\" = 'x' OR 1=1; DROP TABLE users; --";
    // PostgreSQL: unknown column. SQLite reads an unknown double-quoted identifier as a string
    // literal (its "DQS" quirk), so the whole payload is compared as text: no rows, no harm.
    match db.table("users").where_eq(evil, "x").get().await {
        Err(err) => assert!(matches!(err, DbError::Sqlx { .. }), "{err}"),
        Ok(rows) => assert!(rows.is_empty() && db.backend() == Backend::Sqlite),
    }
    if db.backend() == Backend::Postgres {
        assert!(db.table("users").select([evil]).get().await.is_err());
        assert!(db.table("users").order_by_asc(evil).get().await.is_err());
    } else {
        // The payload comes back as a constant string: proof that it was never executed as SQL.
        let rows = db
            .table("users")
            .select([evil])
            .limit(1)
            .get()
            .await
            .unwrap();
        assert_eq!(rows[0].values().next().unwrap(), evil);
    }
    assert!(db.table(evil).get().await.is_err());
    assert!(
        db.table("users")
            .insert(json!({ evil: "x" }))
            .await
            .is_err()
    );
    // The table is intact.
    assert_eq!(db.table("users").count().await.unwrap(), 5);
}

backend_tests!(
    where_clauses,
    joins_order_group_limit,
    aggregates_pluck_first_exists,
    chunk_and_cursor,
    writes,
    lock_for_update_runs,
    injection_fails_harmlessly,
);

#[test]
fn to_sql_quotes_identifiers_and_binds_values() {
    let q = Query::new("users")
        .where_eq("name", "Ada")
        .where_in("id", [1, 2])
        .order_by_desc("id")
        .limit(5);
    assert_eq!(
        q.to_sql_for(Backend::Sqlite),
        r#"SELECT * FROM "users" WHERE "name" = ? AND "id" IN (?, ?) ORDER BY "id" DESC LIMIT 5"#,
        "LIMIT is a literal (bound, SQLite re-prepares and PostgreSQL re-plans every time)"
    );
    assert_eq!(
        Query::new("users")
            .limit(20)
            .offset(40)
            .to_sql_for(Backend::Sqlite),
        r#"SELECT * FROM "users" LIMIT 20 OFFSET 40"#
    );
    assert_eq!(
        q.to_sql_for(Backend::Postgres),
        r#"SELECT * FROM "users" WHERE "name" = $1 AND "id" IN ($2, $3) ORDER BY "id" DESC LIMIT 5"#
    );
    assert_eq!(
        Query::new("users")
            .where_eq("name", "Ada")
            .limit(20)
            .offset(40)
            .to_sql_for(Backend::Postgres),
        r#"SELECT * FROM "users" WHERE "name" = $1 LIMIT 20 OFFSET 40"#
    );
    // Not at the end of the statement (a row lock follows): left bound.
    assert_eq!(
        Query::new("users")
            .limit(1)
            .lock_for_update()
            .to_sql_for(Backend::Postgres),
        r#"SELECT * FROM "users" LIMIT $1 FOR UPDATE"#
    );
    let (_, values) = q.to_sql_with_values();
    assert_eq!(values.0.len(), 3, "name, two ids; the limit is in the SQL");
    let evil = Query::new("users").where_eq("a\"b", 1).to_sql();
    assert_eq!(
        evil, r#"SELECT * FROM "users" WHERE "a""b" = ?"#,
        "embedded quotes are doubled"
    );
    assert!(
        Query::new("t")
            .where_op("a", "nope", 1)
            .to_sql()
            .starts_with("-- invalid query")
    );
    // Raw fragments: `?` inside quotes is text, `$` outside quotes is refused (never a panic).
    let quoted = Query::new("t").where_raw("name = '?' OR id = ?", [1]);
    assert_eq!(
        quoted.to_sql_for(Backend::Postgres),
        r#"SELECT * FROM "t" WHERE name = '?' OR id = $1"#
    );
    for bad in ["x = $5", "a $ b", "$$ body $$"] {
        let q = Query::new("t").where_raw(bad, Vec::<i64>::new());
        assert!(
            q.to_sql_for(Backend::Postgres)
                .starts_with("-- invalid query"),
            "{bad}"
        );
    }
    let ok = Query::new("t").where_raw("price = '$5'", Vec::<i64>::new());
    assert!(ok.to_sql_for(Backend::Postgres).ends_with("price = '$5'"));
}

#[tokio::test]
async fn detached_query_cannot_run() {
    let err = Query::new("users").get().await.unwrap_err();
    assert!(err.to_string().contains("no connection"), "{err}");
}

#[tokio::test]
async fn sqlite_file_database_is_created_under_storage() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect_with("default", &ConnectionConfig::default(), dir.path())
        .await
        .unwrap();
    db.ping().await.unwrap();
    assert!(dir.path().join("storage/database.sqlite").exists());
}

#[cfg(not(feature = "postgres"))]
#[tokio::test]
async fn postgres_urls_need_the_feature() {
    let err = Db::connect("postgres://postgres@127.0.0.1/blog")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("without the `postgres` feature"),
        "{err}"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let err = Db::connect("mysql://localhost/x").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("unsupported database URL scheme `mysql`"),
        "{err}"
    );
    let started = Instant::now();
    let err = Db::connect("postgres://postgres@127.0.0.1:1/blog")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:1") && msg.contains("blog"), "{msg}");
    assert!(
        !msg.contains("timed out"),
        "a refused connection says so at once: {msg}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn unreachable_server_times_out_naming_host_and_database() {
    let mut config = ConnectionConfig::new("postgres://postgres@10.255.255.1:5432/blog_prod");
    config.connect_timeout_secs = 1;
    let started = Instant::now();
    let err = Db::connect_with("default", &config, std::path::Path::new("."))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "never a hang");
    let msg = err.to_string();
    assert!(
        msg.contains("10.255.255.1:5432") && msg.contains("blog_prod"),
        "{msg}"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn missing_postgres_database_names_it() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let err = Db::connect(&format!("{base}/no_such_database_here"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no_such_database_here") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[tokio::test]
async fn manager_builds_named_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = foundry_db::DatabaseConfig {
        url: "sqlite::memory:".into(),
        ..Default::default()
    };
    config
        .connections
        .insert("reports".into(), ConnectionConfig::new("sqlite::memory:"));
    let manager =
        foundry_db::DbManager::connect(&config, dir.path(), foundry_core::Environment::Production)
            .await
            .unwrap();
    manager.ping_all().await.unwrap();
    assert_eq!(manager.connection("reports").unwrap().name(), "reports");
    assert_eq!(manager.default_db().name(), "default");
    assert!(
        !manager.default_db().prevents_lazy_loading(),
        "off in production"
    );
    let err = manager.connection("nope").unwrap_err();
    assert!(
        err.to_string().contains("configured: default, reports"),
        "{err}"
    );
}
