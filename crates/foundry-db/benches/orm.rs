//! Model API vs the same queries hand-written with sqlx, on the same pool, interleaved.
//!
//! Prints `RESULT <metric> <value> <unit>` lines: per-operation times and the model API's
//! throughput as a fraction of hand-written sqlx (1.0 = as fast; the target is ≥ 0.9).
//! SQLite always; PostgreSQL when `FOUNDRY_TEST_DATABASE_URL` is set (in its own schema).
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use foundry_db::{
    Backend, ConnectionConfig, Db, Model, ModelExt, ModelHooks, Pool, Relation, RelationExt,
    Relations, belongs_to,
};
use serde_json::json;
use sqlx::Row as _;

#[derive(Model, Debug, Clone)]
#[model(fillable(name, email))]
struct User {
    id: i64,
    name: String,
    email: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Model, Debug, Clone)]
#[model(fillable(user_id, title, body), hooks)]
struct Post {
    id: i64,
    user_id: i64,
    title: String,
    body: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    relations: Relations,
}

impl ModelHooks for Post {
    fn relation(name: &str) -> Option<Relation<Self>> {
        (name == "author").then(|| belongs_to::<Self, User>("user_id"))
    }
}

/// What hand-written code decodes into.
#[derive(Debug, Clone)]
#[allow(dead_code)]
struct RawPost {
    id: i64,
    user_id: i64,
    title: String,
    body: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    author: Option<RawUser>,
}

#[derive(Debug, Clone)]
#[allow(dead_code)]
struct RawUser {
    id: i64,
    name: String,
    email: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

macro_rules! raw_post {
    ($r:expr) => {
        RawPost {
            id: $r.try_get("id")?,
            user_id: $r.try_get("user_id")?,
            title: $r.try_get("title")?,
            body: $r.try_get("body")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
            author: None,
        }
    };
}

macro_rules! raw_user {
    ($r:expr) => {
        RawUser {
            id: $r.try_get("id")?,
            name: $r.try_get("name")?,
            email: $r.try_get("email")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

const USER_COLS: &str = "id, name, email, created_at, updated_at";

async fn raw_find(pool: &Pool, id: i64) -> Result<Option<RawPost>, sqlx::Error> {
    Ok(match pool {
        Pool::Sqlite(p) => match sqlx::query("SELECT id, user_id, title, body, created_at, updated_at FROM posts WHERE id = ? LIMIT 1")
            .bind(id)
            .fetch_optional(p)
            .await?
        {
            Some(r) => Some(raw_post!(r)),
            None => None,
        },
        Pool::Postgres(p) => match sqlx::query("SELECT id, user_id, title, body, created_at, updated_at FROM posts WHERE id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(p)
            .await?
        {
            Some(r) => Some(raw_post!(r)),
            None => None,
        },
        _ => None,
    })
}

async fn raw_twenty(pool: &Pool) -> Result<Vec<RawPost>, sqlx::Error> {
    let mut out = Vec::with_capacity(20);
    match pool {
        Pool::Sqlite(p) => {
            for r in sqlx::query("SELECT id, user_id, title, body, created_at, updated_at FROM posts ORDER BY id DESC LIMIT 20")
                .fetch_all(p)
                .await?
            {
                out.push(raw_post!(r));
            }
        }
        Pool::Postgres(p) => {
            for r in sqlx::query("SELECT id, user_id, title, body, created_at, updated_at FROM posts ORDER BY id DESC LIMIT 20")
                .fetch_all(p)
                .await?
            {
                out.push(raw_post!(r));
            }
        }
        _ => {}
    }
    Ok(out)
}

async fn raw_page_with_authors(pool: &Pool) -> Result<Vec<RawPost>, sqlx::Error> {
    let mut posts = raw_twenty(pool).await?;
    let mut ids: Vec<i64> = posts.iter().map(|p| p.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut users = std::collections::HashMap::new();
    match pool {
        Pool::Sqlite(p) => {
            // SQLite has no array binding: build the placeholder list, as hand-written code does.
            let sql = format!(
                "SELECT {USER_COLS} FROM users WHERE id IN ({})",
                vec!["?"; ids.len()].join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            for r in q.fetch_all(p).await? {
                let u = raw_user!(r);
                users.insert(u.id, u);
            }
        }
        Pool::Postgres(p) => {
            for r in sqlx::query(
                "SELECT id, name, email, created_at, updated_at FROM users WHERE id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(p)
            .await?
            {
                let u = raw_user!(r);
                users.insert(u.id, u);
            }
        }
        _ => {}
    }
    for p in &mut posts {
        p.author = users.get(&p.user_id).cloned();
    }
    Ok(posts)
}

async fn setup(db: &Db) {
    let id = match db.backend() {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    let ts = match db.backend() {
        Backend::Sqlite => "DATETIME",
        Backend::Postgres => "TIMESTAMPTZ",
    };
    db.statement(&format!("CREATE TABLE users (id {id}, name TEXT NOT NULL, email TEXT NOT NULL, created_at {ts}, updated_at {ts})"), vec![])
        .await
        .unwrap();
    db.statement(
        &format!("CREATE TABLE posts (id {id}, user_id BIGINT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, created_at {ts}, updated_at {ts})"),
        vec![],
    )
    .await
    .unwrap();
    for u in 0..50 {
        User::create(
            db,
            json!({"name": format!("User {u}"), "email": format!("u{u}@example.com")}),
        )
        .await
        .unwrap();
    }
    let rows: Vec<serde_json::Value> = (0..1000)
        .map(|i| json!({"user_id": (i % 50) + 1, "title": format!("Post {i}"), "body": "Lorem ipsum dolor sit amet. ".repeat(8)}))
        .collect();
    for chunk in rows.chunks(200) {
        db.table("posts").insert_many(chunk.to_vec()).await.unwrap();
    }
}

async fn time<F, Fut>(n: u32, mut f: F) -> Duration
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    for i in 0..n {
        f(i).await;
    }
    start.elapsed()
}

async fn compare<M, MF, R, RF>(
    label: &str,
    backend: &str,
    n: u32,
    rounds: u32,
    mut model: M,
    mut raw: R,
) where
    M: FnMut(u32) -> MF,
    MF: Future<Output = ()>,
    R: FnMut(u32) -> RF,
    RF: Future<Output = ()>,
{
    // Warm up both (statement caches, pool).
    time(n / 10 + 1, &mut model).await;
    time(n / 10 + 1, &mut raw).await;
    // Profiling (`BENCH_PROFILE=find_by_id:model:2000`, under callgrind): one side only, a
    // given number of times; two counts with different numbers give instructions per op.
    if let Ok(profile) = std::env::var("BENCH_PROFILE") {
        let mut parts = profile.split(':');
        if parts.next() == Some(label) {
            let side = parts.next().unwrap_or("model");
            let times = parts.next().and_then(|t| t.parse().ok()).unwrap_or(n);
            if side == "model" {
                time(times, &mut model).await;
            } else {
                time(times, &mut raw).await;
            }
        }
        return;
    }
    // Many short interleaved rounds; the ratio is the median of per-round ratios, so a burst of
    // other work on the machine moves single rounds, not the result.
    let chunk = (n / 10).max(1);
    let (mut model_total, mut raw_total) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::new();
    for round in 0..rounds * 10 {
        let (m, r) = if round % 2 == 0 {
            let m = time(chunk, &mut model).await;
            (m, time(chunk, &mut raw).await)
        } else {
            let r = time(chunk, &mut raw).await;
            (time(chunk, &mut model).await, r)
        };
        model_total += m;
        raw_total += r;
        ratios.push(r.as_secs_f64() / m.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let ops = f64::from(chunk * rounds * 10);
    let model_us = model_total.as_secs_f64() * 1e6 / ops;
    let raw_us = raw_total.as_secs_f64() * 1e6 / ops;
    println!("RESULT orm_{backend}_{label}_model_us {model_us:.1} us");
    println!("RESULT orm_{backend}_{label}_sqlx_us {raw_us:.1} us");
    println!("RESULT orm_{backend}_{label}_ratio {median:.3} ratio");
}

async fn run(db: Db, backend: &str, rounds: u32) {
    setup(&db).await;
    if std::env::var("BENCH_DEBUG").is_ok() {
        let start = Instant::now();
        for i in 0..20_000i64 {
            black_box(Post::query(&db).where_key(i).limit(1).to_sql());
        }
        println!(
            "DEBUG build_find_sql {:.2} us",
            start.elapsed().as_secs_f64() * 1e6 / 20_000.0
        );
        let start = Instant::now();
        for i in 0..2000i64 {
            black_box(db.select_rows("SELECT id, user_id, title, body, created_at, updated_at FROM posts WHERE id = ? LIMIT 1", vec![(i % 1000 + 1).into()]).await.unwrap());
        }
        println!(
            "DEBUG exec_raw_find {:.2} us",
            start.elapsed().as_secs_f64() * 1e6 / 2000.0
        );
        let pool = db.pool().clone();
        let start = Instant::now();
        for i in 0..2000i64 {
            black_box(raw_find(&pool, i % 1000 + 1).await.unwrap());
        }
        println!(
            "DEBUG sqlx_raw_find {:.2} us",
            start.elapsed().as_secs_f64() * 1e6 / 2000.0
        );
        let start = Instant::now();
        for i in 0..2000i64 {
            black_box(Post::find(&db, i % 1000 + 1).await.unwrap());
        }
        println!(
            "DEBUG model_find {:.2} us",
            start.elapsed().as_secs_f64() * 1e6 / 2000.0
        );
    }
    let pool = db.pool().clone();
    db.prevent_lazy_loading(true);
    compare(
        "find_by_id",
        backend,
        2000,
        rounds,
        |i| {
            let db = db.clone();
            async move {
                black_box(Post::find(&db, i64::from(i % 1000) + 1).await.unwrap());
            }
        },
        |i| {
            let pool = pool.clone();
            async move {
                black_box(raw_find(&pool, i64::from(i % 1000) + 1).await.unwrap());
            }
        },
    )
    .await;
    compare(
        "fetch_20",
        backend,
        1000,
        rounds,
        |_| {
            let db = db.clone();
            async move {
                black_box(
                    Post::query(&db)
                        .order_by_desc("id")
                        .limit(20)
                        .get()
                        .await
                        .unwrap(),
                );
            }
        },
        |_| {
            let pool = pool.clone();
            async move {
                black_box(raw_twenty(&pool).await.unwrap());
            }
        },
    )
    .await;
    compare(
        "page_20_with_authors",
        backend,
        500,
        rounds,
        |_| {
            let db = db.clone();
            async move {
                let posts = Post::query(&db)
                    .with(["author"])
                    .order_by_desc("id")
                    .limit(20)
                    .get()
                    .await
                    .unwrap();
                assert!(posts[0].loaded_one::<User>("author").unwrap().is_some());
                black_box(posts);
            }
        },
        |_| {
            let pool = pool.clone();
            async move {
                let posts = raw_page_with_authors(&pool).await.unwrap();
                assert!(posts[0].author.is_some());
                black_box(posts);
            }
        },
    )
    .await;
}

fn main() {
    let rounds: u32 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(6);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Db::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.sqlite").display()
        ))
        .await
        .unwrap();
        run(sqlite, "sqlite", rounds).await;
        if let Ok(url) = std::env::var("FOUNDRY_TEST_DATABASE_URL") {
            let admin = Db::connect(&url).await.unwrap();
            let schema = format!("foundry_bench_{}", std::process::id());
            admin
                .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
                .await
                .unwrap();
            let mut config = ConnectionConfig::new(url);
            config.search_path = Some(schema.clone());
            let pg = Db::connect_with("bench", &config, dir.path())
                .await
                .unwrap();
            run(pg.clone(), "postgres", rounds).await;
            pg.close().await;
            admin
                .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
                .await
                .unwrap();
        }
    });
}
