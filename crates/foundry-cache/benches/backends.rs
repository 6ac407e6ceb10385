//! Cache get/put through `Cache` vs the raw client on the same connection, interleaved in
//! the same run, and the rate limiter's cost per request.
//!
//! Prints `RESULT <metric> <value> <unit>` lines. `*_ratio` is raw time / `Cache` time
//! (1.0 = the cache API costs nothing over the raw client). Memory is compared with a plain
//! `Mutex<HashMap>`, the database store with hand-written sqlx on the same pool (SQLite
//! always, PostgreSQL when `FOUNDRY_TEST_DATABASE_URL` is set), Redis with redis-rs `GET`/`SET`
//! on the same `ConnectionManager` (when `FOUNDRY_TEST_REDIS_URL` is set).
#![allow(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foundry_cache::database::DatabaseStore;
use foundry_cache::redis::{RedisConnection, RedisStore};
use foundry_cache::{Algorithm, Cache, Limit, RateLimiter};
use foundry_core::Clock;
use foundry_db::{Db, Pool};

const ROUNDS: usize = 5;

fn ops() -> usize {
    std::env::var("OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Mean time per call of `f`, over `n` calls.
async fn time<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    for i in 0..n {
        f(i).await;
    }
    started.elapsed() / u32::try_from(n).unwrap_or(u32::MAX)
}

/// Interleave `ours` and `raw` for `ROUNDS` rounds; the best round of each, in µs.
async fn compare<A, AF, B, BF>(n: usize, mut ours: A, mut raw: B) -> (f64, f64)
where
    A: FnMut(usize) -> AF,
    AF: Future<Output = ()>,
    B: FnMut(usize) -> BF,
    BF: Future<Output = ()>,
{
    let (mut best_ours, mut best_raw) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        best_ours = best_ours.min(time(n, &mut ours).await);
        best_raw = best_raw.min(time(n, &mut raw).await);
    }
    (best_ours.as_secs_f64() * 1e6, best_raw.as_secs_f64() * 1e6)
}

fn report(store: &str, op: &str, (ours, raw): (f64, f64)) {
    println!("RESULT cache_{store}_{op}_us {ours:.3} us");
    println!("RESULT raw_{store}_{op}_us {raw:.3} us");
    println!("RESULT cache_{store}_{op}_ratio {:.3} x", raw / ours);
}

async fn bench_memory(n: usize) {
    let cache = Cache::memory(Clock::system());
    let raw: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let put = compare(
        n,
        |i| {
            let cache = &cache;
            async move {
                cache
                    .put(&format!("k{}", i % 100), &i, Duration::from_secs(60))
                    .await
                    .unwrap();
            }
        },
        |i| {
            let raw = &raw;
            async move {
                let value = serde_json::to_string(&i).unwrap();
                raw.lock().unwrap().insert(format!("k{}", i % 100), value);
            }
        },
    )
    .await;
    report("memory", "put", put);
    let get = compare(
        n,
        |i| {
            let cache = &cache;
            async move {
                black_box(cache.get::<usize>(&format!("k{}", i % 100)).await.unwrap());
            }
        },
        |i| {
            let raw = &raw;
            async move {
                let text = raw.lock().unwrap().get(&format!("k{}", i % 100)).cloned();
                black_box(text.map(|t| serde_json::from_str::<usize>(&t).unwrap()));
            }
        },
    )
    .await;
    report("memory", "get", get);
}

async fn bench_database(name: &str, db: Db, n: usize) {
    foundry_db::Migrator::new(
        db.clone(),
        vec![Arc::new(foundry_cache::migrations::CreateCacheTable)],
    )
    .migrate(Default::default())
    .await
    .unwrap();
    let cache = Cache::single(
        "db",
        DatabaseStore::new(
            "db",
            db.clone(),
            "bench_",
            "cache",
            "cache_locks",
            Clock::system(),
        ),
    );
    let now = || Clock::system().unix_millis();
    let put_sql_sqlite = "INSERT INTO \"cache\" (\"key\", \"value\", \"expiration\") VALUES (?, ?, ?) \
        ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\", \"expiration\" = excluded.\"expiration\"";
    let put_sql_pg = "INSERT INTO \"cache\" (\"key\", \"value\", \"expiration\") VALUES ($1, $2, $3) \
        ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\", \"expiration\" = excluded.\"expiration\"";
    let get_sql_sqlite = "SELECT \"value\" FROM \"cache\" WHERE \"key\" = ? AND NOT (\"expiration\" IS NOT NULL AND \"expiration\" <= ?)";
    let get_sql_pg = "SELECT \"value\" FROM \"cache\" WHERE \"key\" = $1 AND NOT (\"expiration\" IS NOT NULL AND \"expiration\" <= $2)";
    let raw_put = |i: usize| {
        let db = db.clone();
        async move {
            let key = format!("bench_raw{}", i % 100);
            let value = serde_json::to_string(&i).unwrap();
            let expiration = now() + 60_000;
            match db.pool() {
                Pool::Sqlite(pool) => {
                    sqlx::query(put_sql_sqlite)
                        .bind(key)
                        .bind(value)
                        .bind(expiration)
                        .execute(pool)
                        .await
                        .unwrap();
                }
                Pool::Postgres(pool) => {
                    sqlx::query(put_sql_pg)
                        .bind(key)
                        .bind(value)
                        .bind(expiration)
                        .execute(pool)
                        .await
                        .unwrap();
                }
                _ => panic!("no raw baseline for this backend"),
            }
        }
    };
    let put = compare(
        n,
        |i| {
            let cache = &cache;
            async move {
                cache
                    .put(&format!("k{}", i % 100), &i, Duration::from_secs(60))
                    .await
                    .unwrap();
            }
        },
        raw_put,
    )
    .await;
    report(name, "put", put);
    let get = compare(
        n,
        |i| {
            let cache = &cache;
            async move {
                black_box(cache.get::<usize>(&format!("k{}", i % 100)).await.unwrap());
            }
        },
        |i| {
            let db = db.clone();
            async move {
                let key = format!("bench_raw{}", i % 100);
                let text: Option<String> = match db.pool() {
                    Pool::Sqlite(pool) => sqlx::query_scalar(get_sql_sqlite)
                        .bind(key)
                        .bind(now())
                        .fetch_optional(pool)
                        .await
                        .unwrap(),
                    Pool::Postgres(pool) => sqlx::query_scalar(get_sql_pg)
                        .bind(key)
                        .bind(now())
                        .fetch_optional(pool)
                        .await
                        .unwrap(),
                    _ => panic!("no raw baseline for this backend"),
                };
                black_box(text.map(|t| serde_json::from_str::<usize>(&t).unwrap()));
            }
        },
    )
    .await;
    report(name, "get", get);
}

async fn bench_redis(url: &str, n: usize) {
    let connection = RedisConnection::connect("bench", url, Duration::from_secs(2))
        .await
        .unwrap();
    let prefix = format!("bench_{}:", std::process::id());
    let cache = Cache::single(
        "redis",
        RedisStore::new("redis", connection.clone(), &prefix),
    );
    let manager = connection.manager();
    let put = compare(
        n,
        |i| {
            let cache = &cache;
            async move {
                cache
                    .put(&format!("k{}", i % 100), &i, Duration::from_secs(60))
                    .await
                    .unwrap();
            }
        },
        |i| {
            let mut con = manager.clone();
            let key = format!("{prefix}raw{}", i % 100);
            async move {
                let value = serde_json::to_string(&i).unwrap();
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(60_000)
                    .query_async::<()>(&mut con)
                    .await
                    .unwrap();
            }
        },
    )
    .await;
    report("redis", "put", put);
    let get = compare(
        n,
        |i| {
            let cache = &cache;
            async move {
                black_box(cache.get::<usize>(&format!("k{}", i % 100)).await.unwrap());
            }
        },
        |i| {
            let mut con = manager.clone();
            let key = format!("{prefix}raw{}", i % 100);
            async move {
                let text: Option<String> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                black_box(text.map(|t| serde_json::from_str::<usize>(&t).unwrap()));
            }
        },
    )
    .await;
    report("redis", "get", get);
    cache.flush().await.unwrap();
    let limiter = RateLimiter::redis(connection, &prefix);
    bench_limiter("redis", &limiter, n).await;
}

/// The limiter's cost per request (one acquire), per algorithm.
async fn bench_limiter(backend: &str, limiter: &RateLimiter, n: usize) {
    for algorithm in Algorithm::ALL {
        let limit = Limit::per_minute(1_000_000_000).algorithm(algorithm);
        let mut best = Duration::MAX;
        for _ in 0..ROUNDS {
            best = best.min(
                time(n, |i| {
                    let limit = &limit;
                    async move {
                        black_box(
                            limiter
                                .acquire(&format!("client{}", i % 100), limit)
                                .await
                                .unwrap(),
                        );
                    }
                })
                .await,
            );
        }
        println!(
            "RESULT limiter_{backend}_{}_us {:.3} us",
            algorithm.name(),
            best.as_secs_f64() * 1e6
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let n = ops();
        bench_memory(n * 10).await;
        bench_limiter("memory", &RateLimiter::memory(Clock::system()), n * 10).await;
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Db::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.sqlite").display()
        ))
        .await
        .unwrap();
        bench_database("sqlite", sqlite, n / 2).await;
        if let Ok(url) = std::env::var("FOUNDRY_TEST_DATABASE_URL") {
            let admin = Db::connect(&url).await.unwrap();
            let schema = format!("bench_cache_{}", std::process::id());
            admin
                .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
                .await
                .unwrap();
            let mut config = foundry_db::ConnectionConfig::new(url);
            config.search_path = Some(schema.clone());
            let pg = Db::connect_with("bench", &config, std::path::Path::new("."))
                .await
                .unwrap();
            bench_database("postgres", pg.clone(), n / 2).await;
            pg.close().await;
            admin
                .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
                .await
                .unwrap();
        }
        if let Ok(url) = std::env::var("FOUNDRY_TEST_REDIS_URL") {
            bench_redis(&url, n).await;
        }
    });
}
