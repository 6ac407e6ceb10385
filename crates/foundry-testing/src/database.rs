//! A fresh database per test, migrated from a template built once per process.
//!
//! - **SQLite**: the app's migrations run once into an in-memory database whose image
//!   (`sqlite3_serialize`) is kept; each test's kernel connects to `sqlite::memory:` and a
//!   provider that boots before the app's copies the image in (`sqlite3_deserialize`): a
//!   memory copy of a few kilobytes.
//! - **PostgreSQL**: the migrations run once into a template schema, whose SQL the migrator
//!   reports; each test gets a new schema (`foundry_test_<pid>_<n>_<nanos>`) where that SQL is
//!   replayed in one transaction and one round trip, and the kernel connects with
//!   `search_path` set to it. The
//!   schema is dropped when the [`crate::TestApp`] is dropped. (Migrations are declarative
//!   schema operations, so replaying their SQL is the same as running them; running the
//!   migrator per test would serialise every test on its advisory lock.)

use std::any::TypeId;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use foundry::db::migrate::{MigrateOptions, Migration, Migrator, migrations_table_sql};
use foundry::db::{Backend, ConnectionConfig, Db, Pool};
use foundry::{AppContext, BoxFuture, Config, ServiceProvider, ServicesBuilder};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::OnceCell;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// Where a test's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestDatabase {
    /// A private in-memory SQLite database.
    Sqlite,
    /// A private schema on the PostgreSQL server at this URL.
    Postgres(String),
}

impl TestDatabase {
    /// PostgreSQL when `FOUNDRY_TEST_DATABASE_URL` is set (and not empty), else SQLite.
    pub fn from_env() -> Self {
        match std::env::var("FOUNDRY_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => TestDatabase::Postgres(url),
            _ => TestDatabase::Sqlite,
        }
    }

    fn key(&self) -> String {
        match self {
            TestDatabase::Sqlite => "sqlite".to_owned(),
            TestDatabase::Postgres(url) => url.clone(),
        }
    }
}

/// `FOUNDRY_TEST_DATABASE_URL`, for tests that need PostgreSQL: `None` (skip the test) when it
/// is not set, unless `FOUNDRY_REQUIRE_SERVICES=1`, in which case a missing URL panics.
pub fn postgres_url() -> Option<String> {
    match std::env::var("FOUNDRY_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FOUNDRY_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FOUNDRY_REQUIRE_SERVICES=1 but FOUNDRY_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipping: FOUNDRY_TEST_DATABASE_URL is not set");
            None
        }
    }
}

/// What every test of one app on one database starts from.
enum Template {
    /// The migrated database's image.
    Sqlite(Arc<[u8]>),
    /// The migrations' SQL and the `migrations` table's rows, as one script to run after
    /// `CREATE SCHEMA` and `SET search_path`.
    Postgres(Arc<str>),
}

type TemplateCell = Arc<OnceCell<Arc<Template>>>;

static TEMPLATES: LazyLock<Mutex<HashMap<(TypeId, String), TemplateCell>>> =
    LazyLock::new(Default::default);

static TEMPLATE_BUILDS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has run an app's migrations to build a template: once per app
/// type and database, however many tests boot.
pub fn template_builds() -> usize {
    TEMPLATE_BUILDS.load(Ordering::SeqCst)
}

/// The template for app `app` on `database`, built on first use. A failed build is not
/// cached: the next test tries again and reports its own error.
async fn template(
    app: TypeId,
    database: &TestDatabase,
    migrations: Vec<Arc<dyn Migration>>,
) -> Result<Arc<Template>, String> {
    let cell = {
        let mut templates = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
        templates.entry((app, database.key())).or_default().clone()
    };
    cell.get_or_try_init(|| async {
        TEMPLATE_BUILDS.fetch_add(1, Ordering::SeqCst);
        let template = match database {
            TestDatabase::Sqlite => sqlite_template(migrations).await?,
            TestDatabase::Postgres(url) => postgres_template(url, migrations).await?,
        };
        Ok(Arc::new(template))
    })
    .await
    .cloned()
}

async fn sqlite_template(migrations: Vec<Arc<dyn Migration>>) -> Result<Template, String> {
    let db = Db::connect("sqlite::memory:")
        .await
        .map_err(|e| e.to_string())?;
    let result = async {
        Migrator::new(db.clone(), migrations)
            .migrate(MigrateOptions::default())
            .await
            .map_err(|e| format!("the migrations failed: {e}"))?;
        let Pool::Sqlite(pool) = db.pool() else {
            return Err("expected a SQLite pool".to_owned());
        };
        let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
        let image = conn
            .serialize(None)
            .await
            .map_err(|e| format!("cannot copy the migrated database: {e}"))?;
        Ok(Template::Sqlite(Arc::from(&image[..])))
    }
    .await;
    db.close().await;
    result
}

async fn postgres_template(
    url: &str,
    migrations: Vec<Arc<dyn Migration>>,
) -> Result<Template, String> {
    let admin = connect_admin(url).await?;
    let schema = unique_schema("foundry_template");
    let result = async {
        admin
            .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
            .await
            .map_err(|e| e.to_string())?;
        let db = connect_schema(url, &schema, 1).await?;
        let report = Migrator::new(db.clone(), migrations)
            .migrate(MigrateOptions::default())
            .await;
        db.close().await;
        let report = report.map_err(|e| format!("the migrations failed: {e}"))?;
        let mut script: Vec<String> = report
            .statements
            .into_iter()
            .flat_map(|(_, sql)| sql)
            .collect();
        script.push(migrations_table_sql(Backend::Postgres));
        if !report.migrations.is_empty() {
            let rows: Vec<String> = report
                .migrations
                .iter()
                .map(|name| format!("('{}', 1)", name.replace('\'', "''")))
                .collect();
            script.push(format!(
                "INSERT INTO \"migrations\" (\"migration\", \"batch\") VALUES {}",
                rows.join(", ")
            ));
        }
        Ok(Template::Postgres(script.join(";\n").into()))
    }
    .await;
    let _ = admin
        .statement(
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            vec![],
        )
        .await;
    admin.close().await;
    result
}

async fn connect_admin(url: &str) -> Result<Db, String> {
    let mut config = ConnectionConfig::new(url);
    config.max_connections = 1;
    Db::connect_with("foundry-testing", &config, Path::new("."))
        .await
        .map_err(|e| e.to_string())
}

async fn connect_schema(url: &str, schema: &str, connections: u32) -> Result<Db, String> {
    let mut config = ConnectionConfig::new(url);
    config.search_path = Some(schema.to_owned());
    config.max_connections = connections;
    Db::connect_with("foundry-testing", &config, Path::new("."))
        .await
        .map_err(|e| e.to_string())
}

static SCHEMAS: AtomicU64 = AtomicU64::new(0);

/// A schema name no other test, process or run uses.
fn unique_schema(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::SeqCst)
    )
}

/// One test's database: what the kernel connects to, and what must happen at boot.
pub(crate) struct Isolated {
    /// `FOUNDRY_DATABASE__*` variables for the test's config.
    pub(crate) vars: Vec<(String, String)>,
    /// A provider that fills the database before the app's providers boot.
    pub(crate) provider: Option<RestoreSqlite>,
    /// Drops the PostgreSQL schema when the test ends.
    pub(crate) guard: Option<SchemaGuard>,
}

/// Prepare a fresh database for one test of app `app`.
pub(crate) async fn isolate(
    app: TypeId,
    database: &TestDatabase,
    migrations: Vec<Arc<dyn Migration>>,
) -> Result<Isolated, String> {
    let template = template(app, database, migrations).await?;
    match (&*template, database) {
        (Template::Sqlite(image), _) => Ok(Isolated {
            vars: vec![("FOUNDRY_DATABASE__URL".into(), "sqlite::memory:".into())],
            provider: Some(RestoreSqlite {
                image: image.clone(),
            }),
            guard: None,
        }),
        (Template::Postgres(script), TestDatabase::Postgres(url)) => {
            let schema = unique_schema("foundry_test");
            // Replayed in one round trip and one transaction that need not wait for the WAL
            // flush (a test schema need not survive a server crash). The admin connection's
            // search path is set again by every script, so it can be left behind.
            let create = format!(
                "SET synchronous_commit = off;\nCREATE SCHEMA \"{schema}\";\n\
                 SET search_path TO \"{schema}\";\n{script}"
            );
            run_script(url, create)
                .await
                .map_err(|e| format!("cannot create the test schema `{schema}`: {e}"))?;
            Ok(Isolated {
                vars: vec![
                    ("FOUNDRY_DATABASE__URL".into(), url.clone()),
                    ("FOUNDRY_DATABASE__SEARCH_PATH".into(), schema.clone()),
                ],
                provider: None,
                guard: Some(SchemaGuard {
                    url: url.clone(),
                    schema,
                }),
            })
        }
        (Template::Postgres(_), TestDatabase::Sqlite) => {
            Err("a PostgreSQL template for a SQLite database".to_owned())
        }
    }
}

/// A job for the admin thread: a script and what to do with its outcome.
type Job = (String, Box<dyn FnOnce(Result<(), String>) + Send>);

static ADMINS: LazyLock<Mutex<HashMap<String, UnboundedSender<Job>>>> =
    LazyLock::new(Default::default);

/// The admin thread for `url`: it runs the kit's own statements (creating and dropping test
/// schemas) on a small pool that lives as long as the process. A test's runtime ends with the
/// test, so connections cannot be kept there, and `Drop` cannot await: the thread keeps warm
/// connections for both.
fn admin(url: &str) -> UnboundedSender<Job> {
    let mut admins = ADMINS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(jobs) = admins.get(url).filter(|jobs| !jobs.is_closed()) {
        return jobs.clone();
    }
    let (jobs, mut queue) = unbounded_channel::<Job>();
    let target = url.to_owned();
    let serve = move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let pool = match target.parse::<PgConnectOptions>() {
                Ok(options) => PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_lazy_with(options),
                Err(e) => {
                    while let Some((_, reply)) = queue.recv().await {
                        reply(Err(format!("invalid PostgreSQL URL: {e}")));
                    }
                    return;
                }
            };
            while let Some((script, reply)) = queue.recv().await {
                let pool = pool.clone();
                tokio::spawn(async move {
                    // The scripts are the SQL the app's migrations already ran on the template,
                    // around schema names this module generates: nothing from outside.
                    let outcome = sqlx::raw_sql(sqlx::AssertSqlSafe(script))
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    reply(outcome);
                });
            }
        });
    };
    // Without the thread, the queue's receiver is gone and every job reports that.
    let _ = std::thread::Builder::new()
        .name("foundry-testing-postgres".into())
        .spawn(serve);
    admins.insert(url.to_owned(), jobs.clone());
    jobs
}

/// Queue `script` on the admin thread; `reply` gets the outcome.
fn submit(
    url: &str,
    script: String,
    reply: impl FnOnce(Result<(), String>) + Send + 'static,
) -> Result<(), String> {
    admin(url)
        .send((script, Box::new(reply)))
        .map_err(|_| "the PostgreSQL admin thread is not running".to_owned())
}

/// Run several statements in one round trip (PostgreSQL's simple query protocol runs them
/// as one transaction: all or nothing).
async fn run_script(url: &str, script: String) -> Result<(), String> {
    let (done, outcome) = tokio::sync::oneshot::channel();
    submit(url, script, move |result| {
        let _ = done.send(result);
    })?;
    outcome
        .await
        .map_err(|_| "the PostgreSQL admin thread stopped".to_owned())?
}

/// [`run_script`] for synchronous code (`Drop`), waiting at most 30 seconds.
fn run_script_blocking(url: &str, script: String) -> Result<(), String> {
    let (done, outcome) = std::sync::mpsc::channel();
    submit(url, script, move |result| {
        let _ = done.send(result);
    })?;
    outcome
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "no answer from the PostgreSQL admin thread in 30s".to_owned())?
}

/// Drops a test's PostgreSQL schema when the test ends (passing or not).
pub(crate) struct SchemaGuard {
    url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        // Waited for, so nothing is left behind when the process exits; a lock held by a
        // stuck connection gives up after a few seconds rather than hanging the test.
        let dropped = run_script_blocking(
            &self.url,
            format!(
                "SET lock_timeout = '5s';\nDROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ),
        );
        if let Err(err) = dropped {
            eprintln!(
                "foundry-testing: could not drop schema {}: {err}",
                self.schema
            );
        }
    }
}

/// Copies the migrated SQLite image into the test's in-memory database before the app's
/// providers boot.
pub(crate) struct RestoreSqlite {
    image: Arc<[u8]>,
}

impl ServiceProvider for RestoreSqlite {
    fn name(&self) -> &'static str {
        "foundry-testing database"
    }

    fn register(&self, _services: &mut ServicesBuilder, _config: &Config) -> foundry::Result<()> {
        Ok(())
    }

    fn boot<'a>(&'a self, ctx: &'a AppContext) -> BoxFuture<'a, foundry::Result<()>> {
        Box::pin(async move {
            let db = ctx.make::<Db>()?;
            restore(&db, &self.image)
                .await
                .map_err(foundry::Error::internal)
        })
    }
}

/// Replace the single connection's `main` database of an in-memory SQLite pool with `image`.
async fn restore(db: &Db, image: &[u8]) -> Result<(), String> {
    let Pool::Sqlite(pool) = db.pool() else {
        return Err("the test database is not SQLite".to_owned());
    };
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let buffer = sqlx::sqlite::SqliteOwnedBuf::try_from(image).map_err(|e| e.to_string())?;
    conn.deserialize(None, buffer, false)
        .await
        .map_err(|e| format!("cannot load the migrated database: {e}"))
}
