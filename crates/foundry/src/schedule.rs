//! Task scheduling: the re-exported `foundry-schedule` API, how the kernel builds the app's
//! [`Schedule`] from [`crate::App::schedule`], and the commands `schedule:run`,
//! `schedule:work`, `schedule:list` and `schedule:test`.
//!
//! ```
//! use foundry::prelude::*;
//! use foundry::schedule::Schedule;
//!
//! struct Shop;
//!
//! impl App for Shop {
//!     fn routes(routes: Routes) -> Routes { routes }
//!
//!     fn schedule(s: &mut Schedule) {
//!         s.call("refresh-stats", |ctx| async move {
//!             let _ = ctx.config().app();
//!             Ok(())
//!         })
//!         .every_five_minutes()
//!         .on_one_server();
//!         s.command("about").daily_at("3:00").without_overlapping();
//!     }
//! }
//! ```
//!
//! The guide is `docs/scheduling.md`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, Command};
use foundry_core::config::LogConfig;
use foundry_core::{AppContext, Config};

pub use foundry_schedule::*;

use crate::App;
use crate::cache::{Cache, CacheManager};
use crate::cli::{CommandError, CommandResult, Commands, Invocation};
use crate::kernel::{BootError, Kernel};
use crate::logging::{self, LogTarget};

fn failed(message: impl std::fmt::Display) -> BootError {
    BootError::Component {
        component: "scheduler",
        message: message.to_string(),
    }
}

/// Build the app's schedule (`[schedule]` and [`App::schedule`]) and validate it, so a bad
/// time, cron expression, time zone, command name or lock store fails the boot with every
/// mistake listed.
pub(crate) fn build<A: App>(config: &Config, cache: &CacheManager) -> Result<Schedule, BootError> {
    let settings: ScheduleConfig = config.section("schedule")?;
    let tz = settings.tz().map_err(failed)?;
    if !settings.cache.is_empty() {
        cache
            .cache
            .store(&settings.cache)
            .map_err(|err| failed(format!("[schedule] cache: {err}")))?;
    }
    let mut schedule = Schedule::new();
    schedule.default_timezone(tz);
    A::schedule(&mut schedule);
    if schedule.tasks().iter().any(|t| t.command_name().is_some()) {
        let commands = crate::command_registry::<A>();
        schedule.known_commands(commands.names().into_iter().map(str::to_owned));
    }
    schedule.validate().map_err(failed)?;
    Ok(schedule)
}

/// The cache store holding the scheduler's locks (`[schedule] cache`, else the default).
pub fn lock_store(ctx: &AppContext) -> crate::Result<Cache> {
    let settings: ScheduleConfig = ctx.config().section("schedule")?;
    let cache = ctx.make::<Cache>()?;
    if settings.cache.is_empty() {
        Ok((*cache).clone())
    } else {
        Ok(cache.store(&settings.cache)?)
    }
}

/// A scheduler for a booted app: its schedule, its lock store, and this binary for command
/// tasks.
pub fn scheduler(ctx: &AppContext) -> crate::Result<Scheduler> {
    let schedule = ctx.make::<Schedule>()?;
    let scheduler = Scheduler::new(schedule, ctx.clone(), lock_store(ctx)?);
    Ok(match std::env::current_exe() {
        Ok(exe) => scheduler.program(exe),
        Err(_) => scheduler,
    })
}

/// Register the schedule commands.
pub(crate) fn register(commands: &mut Commands) {
    commands
        .add(
            Command::new("schedule:run")
                .about("Run the scheduled tasks due this minute, once (from cron: * * * * *)"),
            run,
        )
        .add(
            Command::new("schedule:work")
                .about("Run the scheduled tasks every minute, on the minute, until SIGTERM/SIGINT"),
            work,
        )
        .add(
            Command::new("schedule:list")
                .about("List the scheduled tasks with their next due time"),
            list,
        )
        .add(
            Command::new("schedule:test")
                .about("Run one scheduled task now, whatever its schedule")
                .arg(
                    Arg::new("name")
                        .long("name")
                        .value_name("TASK")
                        .help("The task's name, as schedule:list shows it"),
                ),
            test,
        );
}

async fn boot(inv: &Invocation, target: LogTarget) -> Result<(Scheduler, Kernel), CommandError> {
    let config = inv.load_config()?;
    let log: LogConfig = config.section("log")?;
    logging::init(&log, config.environment(), target);
    let kernel = inv.boot_with(config).await?;
    let scheduler = scheduler(kernel.context())?;
    Ok((scheduler, kernel))
}

/// Whether the app is down for maintenance now (read from its store, shared by instances).
async fn in_maintenance(kernel: &Kernel) -> bool {
    let Some(maintenance) = kernel.maintenance() else {
        return false;
    };
    if let Err(err) = maintenance.refresh().await {
        tracing::warn!(error = %err, "cannot read the maintenance state; using the last one known");
    }
    maintenance.is_down()
}

async fn run(inv: Invocation) -> CommandResult {
    let (scheduler, kernel) = boot(&inv, LogTarget::Stdout).await?;
    let now = kernel.context().clock().now();
    let tick = Tick::at(now).in_maintenance(in_maintenance(&kernel).await);
    let report = scheduler.run(tick).await;
    if report.runs.is_empty() {
        println!(
            "No scheduled tasks are due at {}.",
            tick.time().format("%Y-%m-%d %H:%M UTC")
        );
    }
    kernel.context().run_shutdown_hooks().await;
    Ok(ExitCode::SUCCESS)
}

async fn work(inv: Invocation) -> CommandResult {
    let (scheduler, kernel) = boot(&inv, LogTarget::Stdout).await?;
    let mut signal = std::pin::pin!(foundry_http::shutdown_signal());
    // Poll the signal future once so its handlers are installed before we say we run: a
    // SIGTERM from then on stops the loop instead of killing the process.
    let stop_now = tokio::select! {
        biased;
        () = &mut signal => true,
        () = std::future::ready(()) => false,
    };
    let clock = kernel.context().clock().clone();
    let mut running = tokio::task::JoinSet::new();
    let mut next = Tick::at(clock.now()).time() + chrono::Duration::minutes(1);
    tracing::info!(
        tasks = scheduler.schedule().tasks().len(),
        first_tick = %next.format("%Y-%m-%d %H:%M UTC"),
        "running the scheduled tasks every minute; stop with SIGTERM or Ctrl-C"
    );
    if !stop_now {
        loop {
            let wait = (next - clock.now()).to_std().unwrap_or_default();
            tokio::select! {
                () = &mut signal => break,
                () = tokio::time::sleep(wait) => {}
            }
            // Ticks run in the background: a long task never delays the next minute.
            let tick = Tick::at(next).in_maintenance(in_maintenance(&kernel).await);
            let runner = scheduler.clone();
            running.spawn(async move { runner.run(tick).await });
            while running.try_join_next().is_some() {}
            // The minute after this one, or the current one if the clock jumped ahead.
            next = (next + chrono::Duration::minutes(1)).max(Tick::at(clock.now()).time());
        }
    }
    if !running.is_empty() {
        tracing::info!(
            ticks = running.len(),
            "stopping: waiting for the running tasks to finish"
        );
    }
    while running.join_next().await.is_some() {}
    kernel.context().run_shutdown_hooks().await;
    tracing::info!("scheduler stopped");
    Ok(ExitCode::SUCCESS)
}

async fn list(inv: Invocation) -> CommandResult {
    let config = inv.load_config()?;
    let log: LogConfig = config.section("log")?;
    logging::init(&log, config.environment(), LogTarget::Stderr);
    let kernel = inv.boot_with(config).await?;
    let schedule: Arc<Schedule> = kernel.context().make::<Schedule>()?;
    if schedule.is_empty() {
        println!("No scheduled tasks; add them in App::schedule.");
        return Ok(ExitCode::SUCCESS);
    }
    let now = kernel.context().clock().now();
    print!("{}", render_list(&schedule.list(now, schedule.timezone())));
    Ok(ExitCode::SUCCESS)
}

async fn test(inv: Invocation) -> CommandResult {
    let (scheduler, kernel) = boot(&inv, LogTarget::Stdout).await?;
    let Some(name) = inv.args().get_one::<String>("name") else {
        eprintln!("error: name the task to run with --name; the scheduled tasks are:");
        for task in scheduler.schedule().tasks() {
            eprintln!("  {}", task.description());
        }
        return Ok(ExitCode::from(2));
    };
    let run = scheduler.run_now(name).await?;
    kernel.context().run_shutdown_hooks().await;
    let ms = run.duration.as_millis();
    match run.outcome {
        Outcome::Succeeded => {
            println!("`{name}` succeeded in {ms} ms.");
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Failed(error) => Err(format!("`{name}` failed after {ms} ms: {error}").into()),
        _ => {
            println!("`{name}` was skipped: its previous run still holds the lock.");
            Ok(ExitCode::SUCCESS)
        }
    }
}
