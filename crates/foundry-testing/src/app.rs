//! [`TestApp`]: the real app, booted for one test.

use std::any::TypeId;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use foundry::config::ConfigLoader;
use foundry::db::query::json_value;
use foundry::db::{Db, Model};
use foundry::{App, AppContext, BootOptions, Clock, Environment, Kernel};
use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::{ClientState, TestRequest, user_hook};
use crate::database::{self, SchemaGuard, TestDatabase};
use crate::json;
use crate::response::TestResponse;

/// The real app, booted for one test: its routes, providers and middleware, in the `testing`
/// environment, on a database of its own with the app's migrations applied.
///
/// Requests go through the kernel's service (the global stack, the router, route
/// middleware) without a socket. Cookies set by responses are kept and sent back, as a
/// browser would.
///
/// ```
/// use foundry::prelude::*;
/// use foundry_testing::prelude::*;
///
/// struct Hello;
/// impl App for Hello {
///     fn routes(routes: Routes) -> Routes {
///         routes.get("/", || async { Json(json!({"message": "hello"})) })
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let app = TestApp::boot::<Hello>().await;
/// app.get("/").await.assert_ok().assert_json(&json!({"message": "hello"}));
/// app.get("/missing").await.assert_not_found();
/// # });
/// ```
pub struct TestApp {
    // Fields drop in order: the kernel (and its pools) before the schema it used.
    kernel: Kernel,
    state: Arc<ClientState>,
    boot_time: Duration,
    database: Option<TestDatabase>,
    _schema: Option<SchemaGuard>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("kernel", &self.kernel)
            .field("database", &self.database)
            .field("boot_time", &self.boot_time)
            .finish_non_exhaustive()
    }
}

/// How to boot a [`TestApp`]: the database, the environment, configuration overrides and
/// middleware to leave out. [`TestApp::boot`] is `TestApp::builder::<A>().boot()`.
#[must_use = "call `boot` to boot the app"]
pub struct TestAppBuilder<A> {
    database: TestDatabase,
    environment: Environment,
    vars: Vec<(String, String)>,
    root: Option<PathBuf>,
    without: Vec<String>,
    without_route_middleware: bool,
    without_global_middleware: bool,
    app: PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for TestAppBuilder<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("database", &self.database)
            .field("environment", &self.environment)
            .field("vars", &self.vars)
            .field("without", &self.without)
            .finish_non_exhaustive()
    }
}

impl<A: App> TestAppBuilder<A> {
    /// Use this database instead of the default ([`TestDatabase::from_env`]).
    pub fn database(mut self, database: TestDatabase) -> Self {
        self.database = database;
        self
    }

    /// A private in-memory SQLite database.
    pub fn sqlite(self) -> Self {
        self.database(TestDatabase::Sqlite)
    }

    /// A private schema on the PostgreSQL server at `url`.
    pub fn postgres(self, url: impl Into<String>) -> Self {
        self.database(TestDatabase::Postgres(url.into()))
    }

    /// Boot in another environment than `testing` (`production` needs an app key:
    /// `.var("FOUNDRY_APP__KEY", …)`).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Set a configuration variable, as `FOUNDRY_<SECTION>__<KEY>=value` in the environment
    /// would (it wins over the files and the process environment).
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Read `foundry.toml` (and `foundry.testing.toml`) from `root` rather than the app's
    /// root (`FOUNDRY_ROOT`, the current directory, or [`App::root`]).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Skip the named route middleware: each name's layer, or every layer in a group, is
    /// replaced by a pass-through wherever routes use it. Flags such as `json_errors` stay,
    /// since they choose how errors render rather than run code. Booting fails (panics) on a
    /// name that is not registered.
    pub fn without_middleware<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.without.extend(names.into_iter().map(Into::into));
        self
    }

    /// Skip every route middleware layer (Laravel's `withoutMiddleware()` with no
    /// arguments); flags stay, as with [`Self::without_middleware`].
    pub fn without_route_middleware(mut self) -> Self {
        self.without_route_middleware = true;
        self
    }

    /// Turn off the optional layers of the global stack: compression, CORS, the request
    /// timeout, request ids and security headers. What makes a response a RustForge response
    /// stays on: error rendering, panic catching, the body limit and `_method` spoofing.
    pub fn without_global_middleware(mut self) -> Self {
        self.without_global_middleware = true;
        self
    }

    /// Boot the app; panics with the reason when it cannot (it is test code).
    pub async fn boot(self) -> TestApp {
        match self.try_boot().await {
            Ok(app) => app,
            Err(message) => panic!(
                "TestApp::boot::<{}>() failed: {message}",
                std::any::type_name::<A>()
            ),
        }
    }

    /// Boot the app, or say why it cannot.
    pub async fn try_boot(self) -> Result<TestApp, String> {
        let started = Instant::now();
        let root = self
            .root
            .clone()
            .unwrap_or_else(|| foundry::kernel::resolve_root(A::root()));
        // The process environment counts, except what the kit decides: the environment and
        // the database. `.env` is the developer's local setup and is not read.
        let mut vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name != "FOUNDRY_ENV" && !name.starts_with("FOUNDRY_DATABASE__"))
            .collect();
        if self.without_global_middleware {
            for (name, value) in [
                ("FOUNDRY_HTTP__COMPRESSION__ENABLED", "false"),
                ("FOUNDRY_HTTP__CORS__ENABLED", "false"),
                ("FOUNDRY_HTTP__TIMEOUT_SECS", "0"),
                ("FOUNDRY_HTTP__REQUEST_ID__ENABLED", "false"),
                ("FOUNDRY_HTTP__SECURITY_HEADERS__ENABLED", "false"),
            ] {
                vars.push((name.to_owned(), value.to_owned()));
            }
        }
        vars.extend(self.vars.iter().cloned());
        let load = |vars: Vec<(String, String)>| {
            ConfigLoader::new(&root)
                .dotenv(false)
                .environment(self.environment)
                .vars(vars)
                .load()
                .map_err(|e| e.to_string())
        };
        let migrations = A::migrations();
        let uses_database = !migrations.is_empty() || load(vars.clone())?.has_section("database");
        let mut options = BootOptions::new();
        let mut schema = None;
        let mut database = None;
        if uses_database {
            let isolated = database::isolate(TypeId::of::<A>(), &self.database, migrations).await?;
            vars.extend(isolated.vars);
            if let Some(provider) = isolated.provider {
                options = options.provider(provider);
            }
            schema = isolated.guard;
            database = Some(self.database.clone());
        }
        // An unknown middleware name is found while the kernel builds its registry.
        let problem = Arc::new(std::sync::Mutex::new(None::<String>));
        if self.without_route_middleware || !self.without.is_empty() {
            let (all, names) = (self.without_route_middleware, self.without.clone());
            let report = problem.clone();
            options = options.middleware(move |registry| {
                let names = if all { registry.names() } else { names };
                match registry.clone().without(names) {
                    Ok(registry) => registry,
                    Err(message) => {
                        *report.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
                        registry
                    }
                }
            });
        }
        let kernel = Kernel::boot_with::<A>(load(vars)?, options)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(message) = problem.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(format!("without_middleware: {message}"));
        }
        Ok(TestApp::new(kernel, schema, database, started))
    }
}

impl TestApp {
    /// Boot app `A` for one test, on the database [`TestDatabase::from_env`] picks; panics
    /// with the reason when it cannot.
    pub async fn boot<A: App>() -> TestApp {
        Self::builder::<A>().boot().await
    }

    /// Configure the boot first (database, environment, middleware to skip).
    pub fn builder<A: App>() -> TestAppBuilder<A> {
        TestAppBuilder {
            database: TestDatabase::from_env(),
            environment: Environment::Testing,
            vars: Vec::new(),
            root: None,
            without: Vec::new(),
            without_route_middleware: false,
            without_global_middleware: false,
            app: PhantomData,
        }
    }

    fn new(
        kernel: Kernel,
        schema: Option<SchemaGuard>,
        database: Option<TestDatabase>,
        started: Instant,
    ) -> Self {
        Self {
            kernel,
            state: Arc::default(),
            boot_time: started.elapsed(),
            database,
            _schema: schema,
        }
    }

    /// The booted kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The app context (config, services, URLs).
    pub fn ctx(&self) -> &AppContext {
        self.kernel.context()
    }

    /// The app's default database connection (this test's own database). Panics when the
    /// app has no database (no migrations and no `[database]`).
    #[track_caller]
    pub fn db(&self) -> Db {
        match self.ctx().make::<Db>() {
            Ok(db) => Db::clone(&db),
            Err(_) => {
                panic!("this app has no database: it has no migrations and no [database] section")
            }
        }
    }

    /// Which database this test runs on (`None` for an app without one).
    pub fn database(&self) -> Option<&TestDatabase> {
        self.database.as_ref()
    }

    /// How long booting took, database preparation included.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    pub(crate) fn state(&self) -> &ClientState {
        &self.state
    }

    // ---- time ----

    /// The app's clock, shared by every component (model timestamps, …).
    pub fn clock(&self) -> &Clock {
        self.ctx().clock()
    }

    /// Stop time now (for the whole app) and return the frozen instant.
    pub fn freeze_time(&self) -> DateTime<Utc> {
        self.clock().freeze()
    }

    /// Stop time at exactly `instant`.
    pub fn freeze_time_at(&self, instant: DateTime<Utc>) {
        self.clock().freeze();
        self.clock().travel_to(instant);
    }

    /// Move the app's time forward by `by` (Laravel's `travel(…)`); frozen time stays frozen.
    pub fn travel(&self, by: Duration) {
        self.clock().travel(by);
    }

    /// Move the app's time back by `by`.
    pub fn travel_back(&self, by: Duration) {
        self.clock().travel_back(by);
    }

    /// Jump to `instant` (Laravel's `travelTo`).
    pub fn travel_to(&self, instant: DateTime<Utc>) {
        self.clock().travel_to(instant);
    }

    /// Back to the real time: unfrozen, no travel (Laravel's `travelBack()`).
    pub fn resume_time(&self) {
        self.clock().resume();
    }

    // ---- requests ----

    /// A request to add headers (or a user) to before sending it.
    pub fn request(&self) -> TestRequest<'_> {
        TestRequest::new(self)
    }

    /// A request with header `name: value`; chain more, then send it with `get`, `post_json`…
    #[track_caller]
    pub fn with_header(&self, name: &str, value: &str) -> TestRequest<'_> {
        self.request().with_header(name, value)
    }

    /// A request with several headers.
    #[track_caller]
    pub fn with_headers<I, K, V>(&self, headers: I) -> TestRequest<'_>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.request().with_headers(headers)
    }

    /// Act as `user` in every following request (Laravel's `actingAs`).
    ///
    /// Until the auth component exists this is a hook: the user is inserted into each
    /// request's extensions (`request.extensions().get::<U>()`, or axum's
    /// `Extension<U>` extractor), where a guard will look for it. Nothing checks it yet.
    pub fn acting_as<U: Clone + Send + Sync + 'static>(&self, user: U) -> &Self {
        *self.state.user.lock().unwrap_or_else(|e| e.into_inner()) = Some(user_hook(user));
        self
    }

    /// Stop acting as a user (Laravel's `actingAsGuest`).
    pub fn acting_as_guest(&self) -> &Self {
        *self.state.user.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self
    }

    /// Put a cookie into the jar; it is sent with every following request.
    pub fn with_cookie(&self, name: &str, value: &str) -> &Self {
        self.state
            .cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), value.to_owned());
        self
    }

    /// A cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.state
            .cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Empty the cookie jar.
    pub fn clear_cookies(&self) {
        self.state
            .cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request().get(path).await
    }

    /// `POST path` without a body.
    pub async fn post(&self, path: &str) -> TestResponse {
        self.request().post(path).await
    }

    /// `PUT path` without a body.
    pub async fn put(&self, path: &str) -> TestResponse {
        self.request().put(path).await
    }

    /// `PATCH path` without a body.
    pub async fn patch(&self, path: &str) -> TestResponse {
        self.request().patch(path).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> TestResponse {
        self.request().delete(path).await
    }

    /// `GET path` asking for JSON; `query` becomes the query string (`&()` for none).
    pub async fn get_json<T: Serialize + ?Sized>(&self, path: &str, query: &T) -> TestResponse {
        self.request().get_json(path, query).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> TestResponse {
        self.request().post_json(path, body).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put_json<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> TestResponse {
        self.request().put_json(path, body).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch_json<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> TestResponse {
        self.request().patch_json(path, body).await
    }

    /// `DELETE path` with a JSON body.
    pub async fn delete_json<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> TestResponse {
        self.request().delete_json(path, body).await
    }

    /// Any method with a JSON body.
    pub async fn json<T: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &T,
    ) -> TestResponse {
        self.request().json(method, path, body).await
    }

    /// `POST path` with an HTML form body.
    pub async fn post_form<T: Serialize + ?Sized>(&self, path: &str, form: &T) -> TestResponse {
        self.request().post_form(path, form).await
    }

    // ---- database assertions ----

    /// A row of `table` has every column of `data` (a JSON object) with that value
    /// (`null` matches `IS NULL`).
    pub async fn assert_database_has(&self, table: &str, data: &Value) {
        let count = self.count_where(table, data, Trashed::Any).await;
        if count == 0 {
            panic!(
                "assert_database_has failed: no row in `{table}` matches {}\n{}",
                json::compact(data),
                self.sample(table).await
            );
        }
    }

    /// No row of `table` matches `data`.
    pub async fn assert_database_missing(&self, table: &str, data: &Value) {
        let count = self.count_where(table, data, Trashed::Any).await;
        if count > 0 {
            panic!(
                "assert_database_missing failed: {count} row(s) in `{table}` match {}\n{}",
                json::compact(data),
                self.sample(table).await
            );
        }
    }

    /// `table` has exactly `count` rows (trashed ones included).
    pub async fn assert_database_count(&self, table: &str, count: i64) {
        let found = self
            .count_where(table, &Value::Object(Default::default()), Trashed::Any)
            .await;
        if found != count {
            panic!(
                "assert_database_count failed: expected {count} row(s) in `{table}`, found {found}\n{}",
                self.sample(table).await
            );
        }
    }

    /// `table` has no rows.
    pub async fn assert_database_empty(&self, table: &str) {
        self.assert_database_count(table, 0).await;
    }

    /// A row matching `data` is in the trash (`deleted_at` is set).
    pub async fn assert_soft_deleted(&self, table: &str, data: &Value) {
        let count = self.count_where(table, data, Trashed::Only).await;
        if count == 0 {
            panic!(
                "assert_soft_deleted failed: no trashed row (deleted_at set) in `{table}` matches {}\n{}",
                json::compact(data),
                self.sample(table).await
            );
        }
    }

    /// A row matching `data` exists and is not in the trash.
    pub async fn assert_not_soft_deleted(&self, table: &str, data: &Value) {
        let count = self.count_where(table, data, Trashed::Without).await;
        if count == 0 {
            panic!(
                "assert_not_soft_deleted failed: no row with deleted_at unset in `{table}` matches {}\n{}",
                json::compact(data),
                self.sample(table).await
            );
        }
    }

    /// `model`'s row exists (by primary key; trashed rows count).
    pub async fn assert_model_exists<M: Model>(&self, model: &M) {
        let found = self.count_model(model).await;
        if found == 0 {
            panic!(
                "assert_model_exists failed: no `{}` row with {} = {} in `{}`\n{}",
                M::NAME,
                M::PRIMARY_KEY,
                json::compact(&foundry::db::query::value_json(&model.key())),
                M::TABLE,
                self.sample(M::TABLE).await
            );
        }
    }

    /// `model`'s row does not exist (deleted for good).
    pub async fn assert_model_missing<M: Model>(&self, model: &M) {
        let found = self.count_model(model).await;
        if found > 0 {
            panic!(
                "assert_model_missing failed: `{}` {} = {} is still in `{}`",
                M::NAME,
                M::PRIMARY_KEY,
                json::compact(&foundry::db::query::value_json(&model.key())),
                M::TABLE
            );
        }
    }

    async fn count_model<M: Model>(&self, model: &M) -> i64 {
        let query = self
            .db()
            .table(M::TABLE)
            .where_eq(M::PRIMARY_KEY, model.key());
        match query.count().await {
            Ok(count) => count,
            Err(e) => panic!("counting `{}` rows failed: {e}", M::TABLE),
        }
    }

    async fn count_where(&self, table: &str, data: &Value, trashed: Trashed) -> i64 {
        let Value::Object(columns) = data else {
            panic!(
                "database assertions take a JSON object of column → value, got {}",
                json::compact(data)
            );
        };
        let mut query = self.db().table(table);
        for (column, value) in columns {
            query = match value {
                Value::Null => query.where_null(column),
                other => query.where_eq(column, json_value(other.clone())),
            };
        }
        query = match trashed {
            Trashed::Any => query,
            Trashed::Only => query.where_not_null("deleted_at"),
            Trashed::Without => query.where_null("deleted_at"),
        };
        match query.count().await {
            Ok(count) => count,
            Err(e) => panic!("querying `{table}` for {} failed: {e}", json::compact(data)),
        }
    }

    /// The first rows of `table`, for failure messages.
    async fn sample(&self, table: &str) -> String {
        const SHOWN: u64 = 5;
        let db = self.db();
        let total = db.table(table).count().await.unwrap_or(0);
        match db.table(table).limit(SHOWN).get().await {
            Ok(rows) if rows.is_empty() => format!("`{table}` is empty"),
            Ok(rows) => {
                let lines: Vec<String> = rows
                    .into_iter()
                    .map(|row| format!("  {}", json::compact(&Value::Object(row))))
                    .collect();
                format!(
                    "rows in `{table}` ({} of {total}):\n{}",
                    lines.len(),
                    lines.join("\n")
                )
            }
            Err(e) => format!("(reading `{table}` failed: {e})"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Trashed {
    Any,
    Only,
    Without,
}
