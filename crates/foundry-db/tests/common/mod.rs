//! One behavioural suite, every backend: `backend_tests!(case)` makes `case::sqlite` and
//! `case::postgres` tests from one `async fn case(db: Db)`.
//!
//! PostgreSQL runs when `FOUNDRY_TEST_DATABASE_URL` is set, each test in its own schema (set as
//! the pool's `search_path`) so tests run in parallel. With `FOUNDRY_REQUIRE_SERVICES=1`, a
//! missing or unreachable server fails the test instead of skipping it.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use foundry_db::{ConnectionConfig, Db};
use futures_util::FutureExt;

pub async fn sqlite() -> Db {
    Db::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite")
}

fn require_services() -> bool {
    std::env::var("FOUNDRY_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

pub fn postgres_url() -> Option<String> {
    match std::env::var("FOUNDRY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !require_services(),
                "FOUNDRY_REQUIRE_SERVICES=1 but FOUNDRY_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipping PostgreSQL test: FOUNDRY_TEST_DATABASE_URL is not set");
            None
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh schema name, unique across processes and tests.
pub fn unique_schema() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "foundry_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos
    )
}

/// A PostgreSQL handle on a fresh schema, and the admin handle that drops it.
pub async fn postgres() -> Option<(Db, Db, String)> {
    let url = postgres_url()?;
    let admin = match Db::connect(&url).await {
        Ok(db) => db,
        Err(e) => {
            assert!(
                !require_services(),
                "FOUNDRY_REQUIRE_SERVICES=1 but PostgreSQL is unreachable: {e}"
            );
            eprintln!("skipping PostgreSQL test: {e}");
            return None;
        }
    };
    let schema = unique_schema();
    admin
        .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
        .await
        .expect("create test schema");
    let mut config = ConnectionConfig::new(url);
    config.search_path = Some(schema.clone());
    config.max_connections = 5;
    let db = Db::connect_with("default", &config, std::path::Path::new("."))
        .await
        .expect("connect to test schema");
    Some((db, admin, schema))
}

pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    case(sqlite().await).await;
}

pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((db, admin, schema)) = postgres().await else {
        return;
    };
    let outcome = AssertUnwindSafe(case(db.clone())).catch_unwind().await;
    db.close().await;
    admin
        .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
        .await
        .expect("drop test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Generate `sqlite` and `postgres` tests for each case.
#[macro_export]
macro_rules! backend_tests {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn sqlite() {
                $crate::common::on_sqlite(super::$case).await;
            }
            #[tokio::test]
            async fn postgres() {
                $crate::common::on_postgres(super::$case).await;
            }
        }
    )*};
}
