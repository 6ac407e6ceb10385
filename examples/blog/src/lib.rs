//! The RustForge reference application: every feature used for real.
//!
//! Users, posts, comments and tags on the database layer; a JSON API (`/api/posts`, an
//! `api_resource` with validation, pagination and eager loading) and HTML pages (`/posts`,
//! rendered from `resources/views` with a layout).
//! In `local` the database is migrated and seeded with demo data on the first run.
//! `/api/greeting` is cached and rate limited (`throttle:api`, 60 per minute per client); set
//! `[cache] default = "redis"` and every blog process shares one cache and one count.
//! The scheduler (`schedule:work`) keeps `/api/stats` fresh every minute and prunes old
//! trashed posts nightly (`schedule.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use foundry::cache::limiter::client_ip;
use foundry::cache::{Cache, Limit, RateLimiter};
use foundry::db::migrate::{MigrateOptions, Migration, Migrator};
use foundry::db::seed::Seeder;
use foundry::db::{Db, ModelExt};
use foundry::prelude::*;
use serde::Deserialize;
use serde_json::json;

pub mod comments;
pub mod feed;
pub mod jobs;
pub mod migrations;
pub mod models;
pub mod posts;
pub mod resources;
pub mod schedule;
pub mod seed;

/// The blog application.
pub struct Blog;

impl App for Blog {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/", welcome)
            .name("welcome")
            .get("/posts", posts::list_page)
            .name("posts.index")
            .get("/posts/{post}", posts::show_page)
            .name("posts.show")
            .where_number("post")
            .get("/feed.xml", feed::show)
            .name("feed")
            .group(
                |g| g.prefix("/api").name("api.").middleware("api"),
                |api| {
                    api.get("/status", status)
                        .name("status")
                        .get("/hello", hello)
                        .name("hello")
                        .get("/greeting", greeting)
                        .name("greeting")
                        .middleware("throttle:api")
                        .get("/stats", schedule::show)
                        .name("stats")
                        .post("/posts/{post}/comments", comments::store)
                        .name("posts.comments.store")
                        .where_number("post")
                        .api_resource(
                            "posts",
                            foundry::http::Resource::new()
                                .index(posts::index)
                                .store(posts::store)
                                .show(posts::show)
                                .update(posts::update)
                                .destroy(posts::destroy)
                                .where_number(),
                        )
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

    fn migrations() -> Vec<Arc<dyn Migration>> {
        migrations::all()
    }

    fn seeders() -> Vec<Box<dyn Seeder>> {
        vec![Box::new(seed::DatabaseSeeder)]
    }

    fn jobs(jobs: &mut foundry::queue::JobRegistry) {
        jobs::register(jobs);
    }

    fn schedule(s: &mut foundry::schedule::Schedule) {
        schedule::define(s);
    }

    fn commands(commands: &mut Commands) {
        schedule::commands(commands);
    }

    fn root() -> Option<PathBuf> {
        Some(env!("CARGO_MANIFEST_DIR").into())
    }

    fn views() -> foundry::http::views::Embedded {
        foundry::embed_views!("resources/views")
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
            ctx.make::<RateLimiter>()?.define("api", |request| {
                Limit::per_minute(API_REQUESTS_PER_MINUTE).by(client_ip(request))
            });
            // A fresh checkout should show something: migrate and seed the demo data on the
            // first run. Production runs `migrate` as a deployment step instead.
            if ctx.config().environment() == foundry::Environment::Local {
                let db = ctx.make::<Db>()?;
                prepare_demo_database(&db).await?;
            }
            Ok(())
        })
    }
}

/// Run pending migrations, then seed when there are no users yet.
pub async fn prepare_demo_database(db: &Db) -> Result<()> {
    Migrator::new(db.clone(), migrations::all())
        .migrate(MigrateOptions::default())
        .await?;
    if models::User::query(db).count().await? == 0 {
        seed::DatabaseSeeder.run(db).await?;
        tracing::info!("seeded the demo data");
    }
    Ok(())
}

async fn welcome(views: Views, Service(tagline): Service<Tagline>) -> Result<View> {
    views
        .render("welcome", json!({ "tagline": tagline.0 }))
        .await
}

async fn status(State(ctx): State<AppContext>) -> Json<serde_json::Value> {
    let config = ctx.config();
    Json(json!({
        "app": config.app().name,
        "environment": config.environment(),
        "framework": format!("RustForge {}", foundry::VERSION),
    }))
}

/// Requests per minute and client on `throttle:api` routes.
pub const API_REQUESTS_PER_MINUTE: u64 = 60;

/// The tagline as JSON, cached for a minute and rate limited.
async fn greeting(
    Service(cache): Service<Cache>,
    Service(tagline): Service<Tagline>,
) -> Result<Json<serde_json::Value>> {
    let message: String = cache
        .remember("blog:greeting", Duration::from_secs(60), || async move {
            tagline.0.clone()
        })
        .await?;
    Ok(Json(json!({ "message": message })))
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
