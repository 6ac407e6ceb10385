//! `/health` and `/ready` through the booted kernel.

use axum::body::Body;
use foundry::config::ConfigLoader;
use foundry::prelude::*;
use foundry::{BoxFuture, Kernel, ServicesBuilder};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Healthy;

impl App for Healthy {
    fn routes(routes: Routes) -> Routes {
        routes
    }
}

struct OwnHealth;

impl App for OwnHealth {
    fn routes(routes: Routes) -> Routes {
        routes.get("/health", || async {
            Json(serde_json::json!({"mine": true}))
        })
    }
}

#[tokio::test]
async fn an_apps_own_health_route_wins() {
    assert_eq!(
        get::<OwnHealth>(&[], "/health").await,
        (StatusCode::OK, serde_json::json!({"mine": true}))
    );
    assert_eq!(get::<OwnHealth>(&[], "/ready").await.0, StatusCode::OK);
}

struct Checks;

impl ServiceProvider for Checks {
    fn register(&self, _: &mut ServicesBuilder, _: &Config) -> Result<()> {
        Ok(())
    }

    fn boot<'a>(&'a self, ctx: &'a AppContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            ctx.add_readiness_check("cache", || async { Ok(()) });
            ctx.add_readiness_check("database", || async {
                Err("connection refused (127.0.0.1:5432)".to_owned())
            });
            ctx.add_readiness_check("mail", || async {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                Ok(())
            });
            Ok(())
        })
    }
}

struct Unready;

impl App for Unready {
    fn routes(routes: Routes) -> Routes {
        routes
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(Checks)]
    }
}

async fn get<A: App>(vars: &[(&str, &str)], path: &str) -> (StatusCode, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(vars.iter().copied())
        .load()
        .unwrap();
    let kernel = Kernel::boot::<A>(config).await.unwrap();
    let request = Request::get(path)
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn health_and_ready_answer_when_all_is_well() {
    assert_eq!(
        get::<Healthy>(&[], "/health").await,
        (StatusCode::OK, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        get::<Healthy>(&[], "/ready").await,
        (
            StatusCode::OK,
            serde_json::json!({"status": "ok", "checks": {}})
        )
    );
}

#[tokio::test]
async fn ready_names_what_failed_or_hung() {
    let started = std::time::Instant::now();
    let (status, body) = get::<Unready>(&[], "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        serde_json::json!({
            "status": "unavailable",
            "checks": {
                "cache": "ok",
                "database": "connection refused (127.0.0.1:5432)",
                "mail": "no answer within 2 s",
            }
        })
    );
    // The hung check gives up after its 2 s; a generous bound, as the machine may be busy.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "a hung check times out"
    );
    let (status, _) = get::<Unready>(&[], "/health").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not depend on readiness"
    );
}

#[tokio::test]
async fn paths_are_configurable_and_can_be_turned_off() {
    let vars = [
        ("FOUNDRY_HTTP__HEALTH_PATH", "/up"),
        ("FOUNDRY_HTTP__READY_PATH", ""),
    ];
    assert_eq!(get::<Healthy>(&vars, "/up").await.0, StatusCode::OK);
    assert_eq!(
        get::<Healthy>(&vars, "/health").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get::<Healthy>(&vars, "/ready").await.0,
        StatusCode::NOT_FOUND
    );
}
