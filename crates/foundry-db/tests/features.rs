//! Pagination, transactions, raw SQL and factories, on SQLite and PostgreSQL.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fake::Fake;
use foundry_db::factory::HasFactory;
use foundry_db::pagination::PageRequest;
use foundry_db::transaction::{IsolationLevel, TransactionOptions};
use foundry_db::{
    Backend, Db, DbError, Model, ModelExt, ModelHooks, Relation, RelationExt, Relations, has_many,
};
use serde_json::json;

async fn setup(db: &Db) {
    let id = match db.backend() {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    db.statement(
        &format!("CREATE TABLE authors (id {id}, name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL UNIQUE, admin BOOLEAN NOT NULL DEFAULT FALSE)"),
        vec![],
    )
    .await
    .unwrap();
    db.statement(
        &format!("CREATE TABLE articles (id {id}, author_id BIGINT NOT NULL REFERENCES authors (id), title VARCHAR(200) NOT NULL)"),
        vec![],
    )
    .await
    .unwrap();
}

#[derive(Model, Debug, Clone)]
#[model(fillable(name, email, admin), hooks)]
struct Author {
    id: i64,
    name: String,
    email: String,
    admin: bool,
    relations: Relations,
}

impl ModelHooks for Author {
    fn relation(name: &str) -> Option<Relation<Self>> {
        (name == "articles").then(|| has_many::<Self, Article>("author_id"))
    }
}

impl HasFactory for Author {
    fn definition(index: usize) -> serde_json::Value {
        json!({
            "name": fake::faker::name::en::Name().fake::<String>(),
            "email": format!("author{index}-{}@example.com", fake::faker::number::en::NumberWithFormat("#####").fake::<String>()),
            "admin": false,
        })
    }
}

#[derive(Model, Debug, Clone)]
#[model(fillable(author_id, title))]
struct Article {
    id: i64,
    author_id: i64,
    title: String,
}

impl HasFactory for Article {
    fn definition(_: usize) -> serde_json::Value {
        json!({ "title": fake::faker::lorem::en::Sentence(2..5).fake::<String>() })
    }
}

async fn seed(db: &Db, n: usize) -> Author {
    let author = Author::factory().create_one(db).await.unwrap();
    Article::factory()
        .count(n)
        .for_model(&author, "author_id")
        .create(db)
        .await
        .unwrap();
    author
}

async fn paginate_like_laravel(db: Db) {
    setup(&db).await;
    seed(&db, 7).await;
    let request = PageRequest::from_uri("http://localhost/articles?page=2");
    let page = Article::query(&db)
        .order_by_asc("id")
        .paginate(3, &request)
        .await
        .unwrap();
    let json = serde_json::to_value(&page).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "current_page",
            "data",
            "first_page_url",
            "from",
            "last_page",
            "last_page_url",
            "links",
            "next_page_url",
            "path",
            "per_page",
            "prev_page_url",
            "to",
            "total"
        ]
    );
    assert_eq!(json["current_page"], 2);
    assert_eq!(json["total"], 7);
    assert_eq!(json["last_page"], 3);
    assert_eq!(
        (json["from"].clone(), json["to"].clone()),
        (json!(4), json!(6))
    );
    assert_eq!(json["data"][0]["id"], 4);
    assert_eq!(json["first_page_url"], "http://localhost/articles?page=1");
    assert_eq!(json["next_page_url"], "http://localhost/articles?page=3");
    assert_eq!(json["prev_page_url"], "http://localhost/articles?page=1");
    assert_eq!(json["path"], "http://localhost/articles");
    assert_eq!(json["links"][0]["label"], "&laquo; Previous");
    assert_eq!(json["links"][2]["active"], true);
    // Bad or out-of-range pages never fail.
    for uri in ["/a?page=abc", "/a?page=-1", "/a?page=0", "/a"] {
        let p = Article::query(&db)
            .paginate(3, &PageRequest::from_uri(uri))
            .await
            .unwrap();
        assert_eq!(p.current_page, 1, "{uri}");
    }
    let far = Article::query(&db)
        .paginate(3, &PageRequest::from_uri("/a?page=999"))
        .await
        .unwrap();
    let far = serde_json::to_value(&far).unwrap();
    assert_eq!(far["data"], json!([]));
    assert_eq!(far["from"], json!(null));
    let huge = Article::query(&db)
        .paginate(3, &PageRequest::from_uri("/a?page=18446744073709551615"))
        .await
        .unwrap();
    assert!(huge.data.is_empty());

    // simple_paginate: no total.
    let simple = Article::query(&db)
        .simple_paginate(5, &PageRequest::from_uri("/a?page=2"))
        .await
        .unwrap();
    let simple = serde_json::to_value(&simple).unwrap();
    assert!(simple.get("total").is_none());
    assert_eq!(simple["current_page_url"], "/a?page=2");
    assert_eq!(simple["next_page_url"], json!(null));
    assert_eq!(simple["data"].as_array().unwrap().len(), 2);

    // Query builder pagination.
    let records = db
        .table("articles")
        .order_by_asc("id")
        .paginate(5, &PageRequest::new("/r"))
        .await
        .unwrap();
    assert_eq!(records.total, 7);
    assert_eq!(records.data.len(), 5);
}

async fn cursor_pagination(db: Db) {
    setup(&db).await;
    seed(&db, 5).await;
    let first = Article::query(&db)
        .cursor_paginate(2, &PageRequest::new("/c"))
        .await
        .unwrap();
    assert_eq!(first.data.iter().map(|a| a.id).collect::<Vec<_>>(), [1, 2]);
    assert!(first.prev_cursor.is_none());
    let next = first.next_cursor.clone().unwrap();
    let second = Article::query(&db)
        .cursor_paginate(2, &PageRequest::from_uri(&format!("/c?cursor={next}")))
        .await
        .unwrap();
    assert_eq!(second.data.iter().map(|a| a.id).collect::<Vec<_>>(), [3, 4]);
    // The serializer writes Laravel's key order (a `Value` would sort the keys).
    let text = serde_json::to_string(&second).unwrap();
    let positions: Vec<usize> = [
        "data",
        "path",
        "per_page",
        "next_cursor",
        "next_page_url",
        "prev_cursor",
        "prev_page_url",
    ]
    .iter()
    .map(|key| text.find(&format!("\"{key}\":")).unwrap())
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        serde_json::to_string(&second)
            .unwrap()
            .starts_with("{\"data\":")
    );
    let back = Article::query(&db)
        .cursor_paginate(
            2,
            &PageRequest::from_uri(&format!(
                "/c?cursor={}",
                second.prev_cursor.clone().unwrap()
            )),
        )
        .await
        .unwrap();
    assert_eq!(back.data.iter().map(|a| a.id).collect::<Vec<_>>(), [1, 2]);
    let last = Article::query(&db)
        .cursor_paginate(
            2,
            &PageRequest::from_uri(&format!(
                "/c?cursor={}",
                second.next_cursor.clone().unwrap()
            )),
        )
        .await
        .unwrap();
    assert_eq!(last.data.iter().map(|a| a.id).collect::<Vec<_>>(), [5]);
    assert!(last.next_cursor.is_none());
    // Garbage cursors mean the first page, never an error.
    for bad in [
        "%%%",
        "bm90IGpzb24",
        "eyJpZCI6eyJ4IjoxfX0",
        "'; DROP TABLE articles; --",
    ] {
        let p = Article::query(&db)
            .cursor_paginate(2, &PageRequest::from_uri(&format!("/c?cursor={bad}")))
            .await
            .unwrap();
        assert_eq!(p.data[0].id, 1, "{bad}");
    }
}

async fn transactions(db: Db) {
    setup(&db).await;
    // Commit on Ok.
    let id = db
        .transaction(|tx| async move {
            let a = Author::create(&tx, json!({"name": "A", "email": "a@x.test"})).await?;
            Ok::<_, DbError>(a.id)
        })
        .await
        .unwrap();
    assert!(Author::find(&db, id).await.unwrap().is_some());
    // Roll back on Err.
    let failed: Result<(), DbError> = db
        .transaction(|tx| async move {
            Author::create(&tx, json!({"name": "B", "email": "b@x.test"})).await?;
            Err(DbError::InvalidQuery("abort".into()))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(Author::query(&db).count().await.unwrap(), 1);
    // Roll back on panic, and the panic continues.
    let db2 = db.clone();
    let panicked = tokio::spawn(async move {
        let _: Result<(), DbError> = db2
            .transaction(|tx| async move {
                Author::create(&tx, json!({"name": "C", "email": "c@x.test"})).await?;
                panic!("boom");
            })
            .await;
    })
    .await;
    assert!(panicked.is_err(), "panic propagated");
    assert_eq!(Author::query(&db).count().await.unwrap(), 1, "rolled back");
    // Nested: the inner failure rolls back to its savepoint only.
    db.transaction(|tx| async move {
        Author::create(&tx, json!({"name": "D", "email": "d@x.test"})).await?;
        let inner: Result<(), DbError> = tx
            .transaction(|tx2| async move {
                Author::create(&tx2, json!({"name": "E", "email": "e@x.test"})).await?;
                Err(DbError::InvalidQuery("inner abort".into()))
            })
            .await;
        assert!(inner.is_err());
        tx.transaction(|tx2| async move {
            Author::create(&tx2, json!({"name": "F", "email": "f@x.test"})).await?;
            Ok::<_, DbError>(())
        })
        .await?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let mut names: Vec<String> = Author::query(&db).pluck("name").await.unwrap();
    names.sort();
    assert_eq!(names, ["A", "D", "F"]);
    // After-commit callbacks: run after commit, dropped on rollback, immediate outside.
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    db.transaction(|tx| {
        let l = l.clone();
        async move {
            let inner = l.clone();
            tx.after_commit(move || async move { inner.lock().unwrap().push("committed") })
                .await;
            assert!(l.lock().unwrap().is_empty(), "not before commit");
            Ok::<_, DbError>(())
        }
    })
    .await
    .unwrap();
    let l = log.clone();
    let _: Result<(), DbError> = db
        .transaction(|tx| {
            let l = l.clone();
            async move {
                tx.after_commit(move || async move { l.lock().unwrap().push("rolled back") })
                    .await;
                Err(DbError::InvalidQuery("no".into()))
            }
        })
        .await;
    let l = log.clone();
    db.after_commit(move || async move { l.lock().unwrap().push("immediate") })
        .await;
    assert_eq!(*log.lock().unwrap(), ["committed", "immediate"]);
    // A user error type that wraps DbError works too.
    let err: Result<(), foundry_core::Error> = db
        .transaction(|tx| async move {
            Author::find_or_fail(&tx, 999).await?;
            Ok(())
        })
        .await;
    assert_eq!(err.unwrap_err().status().as_u16(), 404);
}

async fn retries_and_isolation(db: Db) {
    setup(&db).await;
    if db.backend() != Backend::Postgres {
        // SQLite's retryable errors (BUSY) need real lock contention; the classification is
        // covered by the SQLite BEGIN IMMEDIATE migration race test. Isolation levels do not
        // apply: SQLite transactions are serializable.
        let level: Result<(), DbError> = db
            .transaction_with(
                TransactionOptions::isolation(IsolationLevel::Serializable),
                |_tx| async { Ok(()) },
            )
            .await;
        assert!(level.is_ok());
        return;
    }
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = attempts.clone();
    let result = db
        .transaction_with(TransactionOptions::default().attempts(3), move |tx| {
            let a = a.clone();
            async move {
                Author::create(&tx, json!({"name": "R", "email": "r@x.test"})).await?;
                if a.fetch_add(1, Ordering::SeqCst) < 2 {
                    // A real serialization failure (SQLSTATE 40001) from the server.
                    tx.statement(
                        "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                        vec![],
                    )
                    .await?;
                }
                Ok::<_, DbError>(())
            }
        })
        .await;
    result.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(
        Author::query(&db).count().await.unwrap(),
        1,
        "failed attempts rolled back"
    );
    // Out of attempts: the error comes back.
    let result: Result<(), DbError> = db
        .transaction_with(TransactionOptions::default().attempts(2), |tx| async move {
            tx.statement(
                "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$",
                vec![],
            )
            .await?;
            Ok(())
        })
        .await;
    assert!(result.unwrap_err().is_retryable());
    let level: String = db
        .transaction_with(
            TransactionOptions::isolation(IsolationLevel::Serializable),
            |tx| async move {
                let level: Vec<String> = tx.select("SHOW transaction_isolation", vec![]).await?;
                Ok::<_, DbError>(level[0].clone())
            },
        )
        .await
        .unwrap();
    assert_eq!(level, "serializable");
}

async fn raw_sql(db: Db) {
    setup(&db).await;
    let author = seed(&db, 3).await;
    let rows: Vec<(i64, String)> = db
        .select(
            "SELECT id, title FROM articles WHERE author_id = ? AND id > ? ORDER BY id",
            vec![author.id.into(), 1i64.into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
    let models: Vec<Article> = db
        .select("SELECT * FROM articles WHERE id = ?", vec![2i64.into()])
        .await
        .unwrap();
    assert_eq!(models[0].id, 2);
    let n: Vec<i64> = db
        .select(
            "SELECT COUNT(*) FROM articles WHERE title LIKE '%?%' OR id = ?",
            vec![1i64.into()],
        )
        .await
        .unwrap();
    assert_eq!(n, [1], "a `?` inside quotes is not a placeholder");
    let records = db
        .select_records("SELECT id, title FROM articles ORDER BY id", vec![])
        .await
        .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        db.statement(
            "UPDATE articles SET title = ? WHERE id = ?",
            vec!["x".into(), 1i64.into()]
        )
        .await
        .unwrap(),
        1
    );
    let injected: Vec<i64> = db
        .select(
            "SELECT COUNT(*) FROM articles WHERE title = ?",
            vec!["x' OR '1'='1".into()],
        )
        .await
        .unwrap();
    assert_eq!(injected, [0]);
    assert!(db.select::<i64>("SELEC nonsense", vec![]).await.is_err());
}

async fn factories(db: Db) {
    setup(&db).await;
    let made = Author::factory().count(2).make().unwrap();
    assert_eq!(made.len(), 2);
    assert!(made.iter().all(|a| a.id == 0));
    assert_eq!(
        Author::query(&db).count().await.unwrap(),
        0,
        "make saves nothing"
    );
    let admins = Author::factory()
        .count(3)
        .state(json!({"admin": true}))
        .create(&db)
        .await
        .unwrap();
    assert!(admins.iter().all(|a| a.admin && a.id > 0));
    let seq = Author::factory()
        .count(4)
        .sequence(vec![json!({"name": "Even"}), json!({"name": "Odd"})])
        .create(&db)
        .await
        .unwrap();
    assert_eq!(
        seq.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["Even", "Odd", "Even", "Odd"]
    );
    let numbered = Author::factory()
        .count(2)
        .state_fn(|i, mut attrs| {
            attrs.insert("name".into(), json!(format!("Author #{i}")));
            attrs
        })
        .create(&db)
        .await
        .unwrap();
    assert_eq!(numbered[1].name, "Author #1");
    // has(children): each author gets 2 articles.
    let with_articles = Author::factory()
        .count(2)
        .has(Article::factory().count(2), "author_id")
        .create(&db)
        .await
        .unwrap();
    for mut a in with_articles {
        a.load(&db, &["articles"]).await.unwrap();
        assert_eq!(a.loaded_many::<Article>("articles").unwrap().len(), 2);
    }
    // for_(parent factory): one new parent shared by all.
    let articles = Article::factory()
        .count(3)
        .for_(
            Author::factory().state(json!({"name": "Parent"})),
            "author_id",
        )
        .create(&db)
        .await
        .unwrap();
    assert!(
        articles
            .iter()
            .all(|a| a.author_id == articles[0].author_id)
    );
    assert_eq!(
        Author::find_or_fail(&db, articles[0].author_id)
            .await
            .unwrap()
            .name,
        "Parent"
    );
    // make with a missing required attribute names it.
    let err = Article::factory().make().unwrap_err();
    assert!(
        err.to_string().contains("attribute `author_id` is missing"),
        "{err}"
    );
}

backend_tests!(
    paginate_like_laravel,
    cursor_pagination,
    transactions,
    retries_and_isolation,
    raw_sql,
    factories
);

/// SQLite reports lock contention as BUSY; a transaction that hits it is retried.
#[tokio::test]
async fn sqlite_busy_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("busy.sqlite").display());
    let mut config = foundry_db::ConnectionConfig::new(url);
    config.busy_timeout_ms = 20;
    let holder = Db::connect_with("a", &config, dir.path()).await.unwrap();
    let writer = Db::connect_with("b", &config, dir.path()).await.unwrap();
    holder
        .statement("CREATE TABLE t (n INTEGER)", vec![])
        .await
        .unwrap();

    // The holder takes the write lock and keeps it until told to let go.
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let locked_tx = Arc::new(Mutex::new(Some(locked_tx)));
    let let_go = Arc::new(tokio::sync::Notify::new());
    let holder_let_go = let_go.clone();
    let hold = tokio::spawn(async move {
        holder
            .transaction_with(
                TransactionOptions {
                    immediate: true,
                    ..Default::default()
                },
                move |tx| {
                    let locked_tx = locked_tx.clone();
                    let let_go = holder_let_go.clone();
                    async move {
                        tx.statement("INSERT INTO t VALUES (1)", vec![]).await?;
                        if let Some(s) = locked_tx.lock().unwrap().take() {
                            let _ = s.send(());
                        }
                        let_go.notified().await;
                        Ok::<_, DbError>(())
                    }
                },
            )
            .await
    });
    locked_rx.await.unwrap();

    // With one attempt the writer fails with a retryable BUSY error …
    let once: Result<(), DbError> = writer
        .transaction_with(TransactionOptions::default().attempts(1), |tx| async move {
            tx.statement("INSERT INTO t VALUES (2)", vec![]).await?;
            Ok(())
        })
        .await;
    assert!(once.unwrap_err().is_retryable());
    // … with many attempts it gets through once the holder commits.
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = attempts.clone();
    let retrying_writer = writer.clone();
    let retrying = tokio::spawn(async move {
        retrying_writer
            .transaction_with(TransactionOptions::default().attempts(1000), move |tx| {
                let a = a.clone();
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    tx.statement("INSERT INTO t VALUES (3)", vec![]).await?;
                    Ok::<_, DbError>(())
                }
            })
            .await
    });
    // Let go only once the writer has met the lock and tried again.
    while attempts.load(Ordering::SeqCst) < 2 && !retrying.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let_go.notify_one();
    retrying.await.unwrap().unwrap();
    hold.await.unwrap().unwrap();
    assert!(attempts.load(Ordering::SeqCst) > 1, "it was retried");
    assert_eq!(writer.table("t").count().await.unwrap(), 2);
}

/// `synchronous` sets SQLite's `PRAGMA synchronous` on the pool's connections; a value SQLite
/// does not know is a config error naming the value and the connection.
#[tokio::test]
async fn sqlite_synchronous_option() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sync.sqlite").display());
    let mut config = foundry_db::ConnectionConfig::new(url);
    let level = |db: Db| async move {
        let level: Vec<i64> = db.select("PRAGMA synchronous", vec![]).await.unwrap();
        level
    };
    let db = Db::connect_with("app", &config, dir.path()).await.unwrap();
    assert_eq!(level(db).await, [2], "FULL unless configured");
    config.synchronous = Some("Normal".to_owned());
    let db = Db::connect_with("queue", &config, dir.path())
        .await
        .unwrap();
    assert_eq!(level(db).await, [1]);
    config.synchronous = Some("sometimes".to_owned());
    let err = Db::connect_with("queue", &config, dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("synchronous = \"sometimes\"") && err.contains("`queue`"),
        "{err}"
    );
}
