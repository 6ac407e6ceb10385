//! The TechEmpower Framework Benchmarks test types, written the way a RustForge user would
//! write them: models and the query builder for the database, an API resource for the JSON, a
//! view for the HTML, `Validated<T>` for input, and the framework's default `api` and `web`
//! middleware groups with the whole global stack. Nothing here is tuned for the benchmark.
//!
//! | route | group | what it does |
//! |---|---|---|
//! | `GET /json` | `api` | `{"message":"Hello, World!"}` |
//! | `GET /plaintext` | `api` | `Hello, World!` |
//! | `GET /db` | `api` | one random `World` |
//! | `GET /queries?queries=N` | `api` | N random worlds, one query each (N clamped to 1..=500; anything else is 1) |
//! | `GET /updates?queries=N` | `api` | N random worlds with new random numbers, written back in one upsert |
//! | `GET /fortunes` | `web` | every `Fortune` plus one added at request time, sorted, as an HTML table |
//! | `POST /validate` | `api` | `{"ok":true}`, or Laravel's 422 JSON |
//!
//! SQLite (`storage/database.sqlite`) by default; PostgreSQL with `DATABASE_URL`. In `local`
//! the database is migrated and seeded on the first run; elsewhere run `tfb migrate --seed`.
//! Every response carries `Server` (`[http.response_headers]` in `foundry.toml`) and `Date`.

use std::path::PathBuf;
use std::sync::Arc;

use foundry::db::migrate::{MigrateOptions, Migration, Migrator};
use foundry::db::seed::Seeder;
use foundry::db::{Db, ModelExt};
use foundry::prelude::*;

pub mod endpoints;
pub mod migrations;
pub mod models;
pub mod resources;
pub mod seed;

/// The benchmark application.
pub struct Tfb;

impl App for Tfb {
    fn routes(routes: Routes) -> Routes {
        routes
            .group(
                |g| g.middleware("api"),
                |api| {
                    api.get("/json", endpoints::json)
                        .get("/plaintext", endpoints::plaintext)
                        .get("/db", endpoints::db)
                        .get("/queries", endpoints::queries)
                        .get("/updates", endpoints::updates)
                        .post("/validate", endpoints::validate)
                },
            )
            .group(
                |g| g.middleware("web"),
                |web| web.get("/fortunes", endpoints::fortunes),
            )
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(LocalDatabase)]
    }

    fn migrations() -> Vec<Arc<dyn Migration>> {
        migrations::all()
    }

    fn seeders() -> Vec<Box<dyn Seeder>> {
        vec![Box::new(seed::DatabaseSeeder)]
    }

    fn root() -> Option<PathBuf> {
        Some(env!("CARGO_MANIFEST_DIR").into())
    }
}

/// Migrates and seeds the database on the first run in `local`, so `cargo run -p tfb` serves
/// every endpoint on a fresh checkout.
struct LocalDatabase;

impl ServiceProvider for LocalDatabase {
    fn register(&self, _: &mut foundry::ServicesBuilder, _: &Config) -> Result<()> {
        Ok(())
    }

    fn boot<'a>(&'a self, ctx: &'a AppContext) -> foundry::BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if ctx.config().environment() == foundry::Environment::Local {
                let db = ctx.make::<Db>()?;
                prepare_database(&db).await?;
            }
            Ok(())
        })
    }
}

/// Run pending migrations, then seed when there are no worlds yet.
pub async fn prepare_database(db: &Db) -> Result<()> {
    Migrator::new(db.clone(), migrations::all())
        .migrate(MigrateOptions::default())
        .await?;
    if models::World::query(db).count().await? == 0 {
        seed::DatabaseSeeder.run(db).await?;
    }
    Ok(())
}
