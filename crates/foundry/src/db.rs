//! The database commands (`migrate`, `migrate:rollback`, `migrate:reset`, `migrate:refresh`,
//! `migrate:fresh`, `migrate:status`, `db:seed`) and the re-exported `foundry-db` API.
//!
//! The app lists its migrations and seeders with [`crate::App::migrations`] and
//! [`crate::App::seeders`]; the commands connect to `[database]` (or `--database <name>`).

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use foundry_core::Environment;

pub use foundry_db::*;

use crate::App;
use crate::cli::{CommandResult, Commands, Invocation};
use foundry_db::migrate::{MigrateOptions, MigrationReport, RollbackOptions};
use foundry_db::seed::{Seeder, run_seeders};

fn force() -> Arg {
    Arg::new("force")
        .long("force")
        .action(ArgAction::SetTrue)
        .help("Run even in production")
}

fn pretend() -> Arg {
    Arg::new("pretend")
        .long("pretend")
        .action(ArgAction::SetTrue)
        .help("Print the SQL instead of running it")
}

fn seed() -> Arg {
    Arg::new("seed")
        .long("seed")
        .action(ArgAction::SetTrue)
        .help("Run the seeders afterwards")
}

fn database() -> Arg {
    Arg::new("database")
        .long("database")
        .value_name("NAME")
        .help("The connection to use (default: the [database] one)")
}

fn flag(args: &ArgMatches, name: &str) -> bool {
    args.get_flag(name)
}

/// Register the database commands for `A`.
pub(crate) fn register<A: App>(commands: &mut Commands) {
    commands
        .add(
            Command::new("migrate")
                .about("Run the pending migrations")
                .arg(
                    Arg::new("step")
                        .long("step")
                        .action(ArgAction::SetTrue)
                        .help("One batch per migration"),
                )
                .arg(pretend())
                .arg(seed())
                .arg(force())
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, None).await?;
                let options = MigrateOptions {
                    step: flag(inv.args(), "step"),
                    pretend: flag(inv.args(), "pretend"),
                };
                let report = migrator::<A>(&db).migrate(options).await?;
                print_report(&report, "Migrated", "Nothing to migrate.");
                seed_if::<A>(&inv, &db).await
            },
        )
        .add(
            Command::new("migrate:rollback")
                .about("Undo the last batch of migrations")
                .arg(
                    Arg::new("step")
                        .long("step")
                        .value_parser(value_parser!(u32))
                        .help("Undo the last N migrations"),
                )
                .arg(
                    Arg::new("batch")
                        .long("batch")
                        .value_parser(value_parser!(i64))
                        .help("Undo batch N"),
                )
                .arg(pretend())
                .arg(force())
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, Some("migrate:rollback")).await?;
                let options = RollbackOptions {
                    step: inv.args().get_one::<u32>("step").copied(),
                    batch: inv.args().get_one::<i64>("batch").copied(),
                    pretend: flag(inv.args(), "pretend"),
                };
                let report = migrator::<A>(&db).rollback(options).await?;
                print_report(&report, "Rolled back", "Nothing to roll back.");
                Ok(ExitCode::SUCCESS)
            },
        )
        .add(
            Command::new("migrate:reset")
                .about("Undo every migration")
                .arg(pretend())
                .arg(force())
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, Some("migrate:reset")).await?;
                let report = migrator::<A>(&db)
                    .reset(flag(inv.args(), "pretend"))
                    .await?;
                print_report(&report, "Rolled back", "Nothing to roll back.");
                Ok(ExitCode::SUCCESS)
            },
        )
        .add(
            Command::new("migrate:refresh")
                .about("Undo every migration, then migrate again")
                .arg(seed())
                .arg(force())
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, Some("migrate:refresh")).await?;
                let (down, up) = migrator::<A>(&db).refresh().await?;
                print_report(&down, "Rolled back", "Nothing to roll back.");
                print_report(&up, "Migrated", "Nothing to migrate.");
                seed_if::<A>(&inv, &db).await
            },
        )
        .add(
            Command::new("migrate:fresh")
                .about("Drop every table, then migrate")
                .arg(seed())
                .arg(force())
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, Some("migrate:fresh")).await?;
                let report = migrator::<A>(&db).fresh().await?;
                for table in &report.dropped_tables {
                    println!("Dropped table: {table}");
                }
                print_report(&report, "Migrated", "Nothing to migrate.");
                seed_if::<A>(&inv, &db).await
            },
        )
        .add(
            Command::new("migrate:status")
                .about("Show which migrations have run")
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, None).await?;
                let status = migrator::<A>(&db).status().await?;
                if status.is_empty() {
                    println!("No migrations registered.");
                }
                for s in status {
                    match s.batch {
                        Some(batch) => println!("Ran     [{batch}] {}", s.name),
                        None => println!("Pending     {}", s.name),
                    }
                }
                Ok(ExitCode::SUCCESS)
            },
        )
        .add(
            Command::new("db:seed")
                .about("Run the seeders")
                .arg(
                    Arg::new("class")
                        .long("class")
                        .value_name("NAME")
                        .help("Run only this seeder"),
                )
                .arg(force())
                .arg(database()),
            |inv| async move {
                let (db, _) = connect(&inv, Some("db:seed")).await?;
                let class = inv.args().get_one::<String>("class").cloned();
                seed_now::<A>(&db, class.as_deref()).await
            },
        );
}

fn migrator<A: App>(db: &Db) -> Migrator {
    Migrator::new(db.clone(), A::migrations())
}

/// Load the config, refuse destructive commands in production without `--force`, connect.
async fn connect(
    inv: &Invocation,
    destructive: Option<&str>,
) -> Result<(Db, Environment), crate::cli::CommandError> {
    let config = inv.load_config()?;
    let env = config.environment();
    let forced = inv
        .args()
        .try_get_one::<bool>("force")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false);
    if let Some(command) = destructive
        && env == Environment::Production
        && !forced
    {
        return Err(format!(
            "refusing to run `{command}` in production: it changes or deletes data; pass --force if you mean it"
        )
        .into());
    }
    let settings: DatabaseConfig = config.section("database")?;
    let name = inv
        .args()
        .try_get_one::<String>("database")
        .ok()
        .flatten()
        .cloned()
        .unwrap_or_else(|| DEFAULT_CONNECTION.to_owned());
    let connection = settings.connection(&name).ok_or_else(|| {
        format!(
            "no database connection `{name}`; add [database.connections.{name}] to foundry.toml"
        )
    })?;
    let db = Db::connect_with(&name, &connection, config.root()).await?;
    Ok((db, env))
}

fn print_report(report: &MigrationReport, verb: &str, nothing: &str) {
    if report.migrations.is_empty() {
        println!("{nothing}");
        return;
    }
    for (name, statements) in &report.statements {
        if report.pretend {
            println!("{name}:");
            for sql in statements {
                println!("  {sql};");
            }
        } else {
            println!("{verb}: {name}");
        }
    }
}

async fn seed_if<A: App>(inv: &Invocation, db: &Db) -> CommandResult {
    if inv
        .args()
        .try_get_one::<bool>("seed")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
    {
        seed_now::<A>(db, None).await
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

async fn seed_now<A: App>(db: &Db, class: Option<&str>) -> CommandResult {
    let seeders: Vec<Box<dyn Seeder>> = A::seeders();
    let ran = run_seeders(db, &seeders, class).await?;
    if ran.is_empty() {
        println!("No seeders registered.");
    }
    for name in ran {
        println!("Seeded: {name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The type of [`crate::App::migrations`]'s items.
pub type MigrationList = Vec<Arc<dyn Migration>>;
