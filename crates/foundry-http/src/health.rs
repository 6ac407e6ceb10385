//! `GET /health` (liveness) and `GET /ready` (readiness) endpoints.
//!
//! `/health` answers 200 `{"status":"ok"}` whenever the process serves requests. `/ready` runs
//! every readiness check the app and its components registered
//! ([`AppContext::add_readiness_check`]) — the database, Redis, … — concurrently, each bounded
//! by two seconds, and answers 200 when all pass or 503 naming what failed:
//!
//! ```text
//! {"status":"unavailable","checks":{"database":"connection refused (127.0.0.1:5432)"}}
//! ```

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use foundry_core::AppContext;
use serde_json::{Map, Value, json};

/// How long one readiness check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process is up.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: every registered dependency answers.
pub async fn ready(State(ctx): State<AppContext>) -> (StatusCode, Json<Value>) {
    let checks = ctx.readiness_checks();
    let runs = checks.iter().map(|(name, check)| async move {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(reason),
            Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        };
        (name.clone(), outcome)
    });
    let outcomes = futures_util::future::join_all(runs).await;
    let mut report = Map::new();
    let mut healthy = true;
    for (name, outcome) in outcomes {
        let value = match outcome {
            Ok(()) => Value::from("ok"),
            Err(reason) => {
                healthy = false;
                tracing::warn!(check = %name, %reason, "readiness check failed");
                Value::from(reason)
            }
        };
        report.insert(name, value);
    }
    let (status, word) = if healthy {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (status, Json(json!({ "status": word, "checks": report })))
}
