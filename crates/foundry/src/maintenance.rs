//! Maintenance mode: the `down` and `up` commands and where the state is kept.
//!
//! With a database, the state is one row of the framework's `maintenance` table, so every
//! instance of the app sees it; list the table's migration among the app's own (as Laravel
//! ships its tables):
//!
//! ```
//! # #[cfg(feature = "db")] {
//! use foundry::db::MigrationList;
//!
//! fn migrations() -> MigrationList {
//!     vec![
//!         foundry::maintenance::migration(),
//!         // the app's own …
//!     ]
//! }
//! # }
//! ```
//!
//! Without a database (or without that migration) the state is the file
//! `storage/framework/down`, shared only by instances on the same disk.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, Command, value_parser};
use foundry_core::Config;
pub use foundry_http::maintenance::{DownState, FileStore, Maintenance, MaintenanceStore};

use crate::App;
use crate::cli::{CommandResult, Commands, Invocation};

/// The name of the framework's maintenance migration.
pub const MIGRATION_NAME: &str = "0001_01_01_000100_create_maintenance_table";

/// The file used without a database.
pub fn file_path(config: &Config) -> PathBuf {
    config.storage_path().join("framework").join("down")
}

#[cfg(feature = "db")]
mod database {
    use foundry_core::BoxFuture;
    use foundry_db::Db;
    use foundry_db::migrate::Migration;
    use foundry_db::schema::Schema;

    use super::{DownState, MIGRATION_NAME, MaintenanceStore};

    const TABLE: &str = "maintenance";
    const SCOPE: &str = "app";

    /// Creates the `maintenance` table.
    pub(super) struct CreateMaintenanceTable;

    impl Migration for CreateMaintenanceTable {
        fn name(&self) -> &str {
            MIGRATION_NAME
        }

        fn up(&self, schema: &mut Schema) {
            schema.create(TABLE, |t| {
                t.string("scope", 32);
                t.text("payload");
                t.primary(&["scope"]);
            });
        }

        fn down(&self, schema: &mut Schema) {
            schema.drop_if_exists(TABLE);
        }
    }

    /// The state as a row of the `maintenance` table.
    #[derive(Debug, Clone)]
    pub struct DbStore {
        db: Db,
    }

    impl DbStore {
        /// A store on `db`.
        pub fn new(db: Db) -> Self {
            Self { db }
        }
    }

    impl MaintenanceStore for DbStore {
        fn read(&self) -> BoxFuture<'_, Result<Option<DownState>, String>> {
            Box::pin(async move {
                let row = self
                    .db
                    .table(TABLE)
                    .where_eq("scope", SCOPE)
                    .first()
                    .await
                    .map_err(|e| format!("cannot read the maintenance table: {e}"))?;
                let Some(row) = row else { return Ok(None) };
                let payload = row.get("payload").and_then(|p| p.as_str()).unwrap_or("");
                serde_json::from_str(payload)
                    .map(Some)
                    .map_err(|e| format!("the maintenance row is not a state ({e})"))
            })
        }

        fn write<'a>(&'a self, state: Option<&'a DownState>) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                let result = match state {
                    None => self
                        .db
                        .table(TABLE)
                        .where_eq("scope", SCOPE)
                        .delete()
                        .await
                        .map(|_| ()),
                    Some(state) => {
                        let payload = serde_json::to_string(state).map_err(|e| e.to_string())?;
                        self.db
                            .table(TABLE)
                            .upsert(
                                vec![serde_json::json!({"scope": SCOPE, "payload": payload})],
                                &["scope"],
                                &["payload"],
                            )
                            .await
                            .map(|_| ())
                    }
                };
                result.map_err(|e| {
                    format!(
                        "cannot write the maintenance table: {e} (is `foundry::maintenance::migration()` \
                         in the app's migrations, and has `migrate` run?)"
                    )
                })
            })
        }

        fn describe(&self) -> String {
            format!("the `{TABLE}` table of the `{}` database", self.db.name())
        }
    }
}

#[cfg(feature = "db")]
pub use database::DbStore;

/// The framework's migration creating the `maintenance` table; list it in
/// [`App::migrations`](crate::App::migrations) to share the state through the database.
#[cfg(feature = "db")]
pub fn migration() -> Arc<dyn foundry_db::migrate::Migration> {
    Arc::new(database::CreateMaintenanceTable)
}

/// Whether `A` keeps the state in its database: it lists the maintenance migration.
#[cfg(feature = "db")]
pub(crate) fn uses_database<A: App>() -> bool {
    A::migrations().iter().any(|m| m.name() == MIGRATION_NAME)
}

/// The store `A` uses: the database when it lists the migration and has one, else the file.
#[cfg_attr(not(feature = "db"), allow(clippy::extra_unused_type_parameters))]
pub(crate) async fn store_for<A: App>(
    config: &Config,
) -> Result<Arc<dyn MaintenanceStore>, crate::cli::CommandError> {
    #[cfg(feature = "db")]
    if uses_database::<A>() {
        let settings: foundry_db::DatabaseConfig = config.section("database")?;
        let manager =
            foundry_db::DbManager::connect(&settings, config.root(), config.environment()).await?;
        return Ok(Arc::new(DbStore::new(manager.default_db().clone())));
    }
    Ok(Arc::new(FileStore::new(file_path(config))))
}

/// Register `down` and `up`.
pub(crate) fn register<A: App>(commands: &mut Commands) {
    let seconds = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name("SECONDS")
            .value_parser(value_parser!(u64))
            .help(help)
    };
    commands
        .add(
            Command::new("down")
                .about("Put the app into maintenance mode (every instance answers 503)")
                .arg(
                    Arg::new("secret")
                        .long("secret")
                        .value_name("TOKEN")
                        .help("Visiting /TOKEN sets a cookie that lets the browser through"),
                )
                .arg(seconds("retry", "Send Retry-After with this many seconds"))
                .arg(seconds(
                    "refresh",
                    "Send Refresh: browsers reload after this many seconds",
                ))
                .arg(
                    Arg::new("redirect")
                        .long("redirect")
                        .value_name("PATH")
                        .help("Redirect every request to this path"),
                ),
            down::<A>,
        )
        .add(
            Command::new("up").about("Bring the app out of maintenance mode"),
            up::<A>,
        );
}

async fn down<A: App>(inv: Invocation) -> CommandResult {
    let config = inv.load_config()?;
    let args = inv.args();
    let state = DownState {
        secret: args.get_one::<String>("secret").cloned(),
        retry: args.get_one::<u64>("retry").copied(),
        refresh: args.get_one::<u64>("refresh").copied(),
        redirect: args.get_one::<String>("redirect").cloned(),
        since: foundry_http::maintenance::unix_now(),
    };
    state.validate()?;
    if state.secret.is_some() && config.app().key.is_none() {
        return Err(
            "--secret needs the app key to sign the bypass cookie; run `key:generate`".into(),
        );
    }
    let store = store_for::<A>(&config).await?;
    store.write(Some(&state)).await?;
    println!("The app is now in maintenance mode ({}).", store.describe());
    if let Some(secret) = &state.secret {
        println!(
            "Bypass: {}",
            config.app().url.trim_end_matches('/').to_owned() + "/" + secret
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn up<A: App>(inv: Invocation) -> CommandResult {
    let config = inv.load_config()?;
    let store = store_for::<A>(&config).await?;
    let was_down = store.read().await.ok().flatten().is_some();
    store.write(None).await?;
    if was_down {
        println!("The app is live again.");
    } else {
        println!("The app was not in maintenance mode.");
    }
    Ok(ExitCode::SUCCESS)
}
