//! The RustForge reference application: every feature used for real.
//!
//! For now a welcome page and a JSON API endpoint on the kernel; it grows with each component.

use std::path::PathBuf;
use std::time::Duration;

use foundry::prelude::*;
use serde::Deserialize;
use serde_json::json;

/// The blog application.
pub struct Blog;

impl App for Blog {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/", welcome)
            .name("welcome")
            .group(
                |g| g.prefix("/api").name("api.").middleware("api"),
                |api| {
                    api.get("/status", status)
                        .name("status")
                        .get("/hello", hello)
                        .name("hello")
                },
            )
            .group(
                |g| g.prefix("/_demo").name("demo.").middleware("api"),
                |demo| demo.get("/slow", slow).name("slow"),
            )
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(BlogProvider)]
    }

    fn root() -> Option<PathBuf> {
        Some(env!("CARGO_MANIFEST_DIR").into())
    }
}

/// Registers the blog's services and its shutdown hook.
struct BlogProvider;

/// Text shown on the welcome page; a singleton service.
#[derive(Debug, Clone)]
pub struct Tagline(pub String);

impl ServiceProvider for BlogProvider {
    fn register(&self, services: &mut foundry::ServicesBuilder, config: &Config) -> Result<()> {
        services.singleton(Tagline(format!("{} runs on RustForge", config.app().name)));
        Ok(())
    }

    fn boot<'a>(&'a self, ctx: &'a AppContext) -> foundry::BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            ctx.on_shutdown("blog", || async {
                tracing::info!("blog shutdown hook ran");
            });
            Ok(())
        })
    }
}

async fn welcome(
    State(ctx): State<AppContext>,
    Service(tagline): Service<Tagline>,
) -> Html<String> {
    let name = foundry::http::render::escape(&ctx.config().app().name);
    let tagline = foundry::http::render::escape(&tagline.0);
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title></head>\
         <body><main><h1>{name}</h1><p>{tagline}</p>\
         <p><a href=\"/api/status\">API status</a></p></main></body></html>\n"
    ))
}

async fn status(State(ctx): State<AppContext>) -> Json<serde_json::Value> {
    let config = ctx.config();
    Json(json!({
        "app": config.app().name,
        "environment": config.environment(),
        "framework": format!("RustForge {}", foundry::VERSION),
    }))
}

/// The JSON hello the kernel benchmark compares with bare axum.
async fn hello() -> Json<serde_json::Value> {
    Json(json!({ "message": "Hello, World!" }))
}

#[derive(Debug, Deserialize)]
struct SlowQuery {
    ms: Option<u64>,
}

/// A deliberately slow endpoint, outside production only: it shows (and tests) that a
/// shutdown lets in-flight requests finish. Capped at 10 seconds.
async fn slow(
    State(ctx): State<AppContext>,
    Query(query): Query<SlowQuery>,
) -> Result<Json<serde_json::Value>> {
    if ctx.config().environment() == foundry::Environment::Production {
        return Err(Error::not_found("Not Found"));
    }
    let ms = query.ms.unwrap_or(1000).min(10_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(json!({ "slept_ms": ms })))
}
