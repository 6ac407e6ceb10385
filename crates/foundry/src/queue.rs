//! Queues: the re-exported `foundry-queue` API and the queue commands (`queue:work`,
//! `queue:restart`, `queue:failed`, `queue:retry`, `queue:forget`, `queue:flush`,
//! `queue:clear`, `queue:monitor`).
//!
//! The app registers its jobs with [`crate::App::jobs`]; the kernel builds a
//! [`QueueManager`] from `[queue]` and binds it as a service, so handlers take
//! `Service<QueueManager>` and dispatch. The guide is `docs/queues.md`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

pub use foundry_queue::*;

use crate::cli::{CommandError, CommandResult, Commands, Invocation};
use crate::logging::{self, LogTarget};
use foundry_core::config::LogConfig;

fn connection() -> Arg {
    Arg::new("connection")
        .long("connection")
        .value_name("NAME")
        .help("The queue connection (default: [queue] default)")
}

fn queues() -> Arg {
    Arg::new("queue")
        .long("queue")
        .value_name("QUEUES")
        .help("Queues in priority order, comma-separated (default: the connection's queue)")
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn number(
    name: &'static str,
    value: &'static str,
    default: &'static str,
    help: &'static str,
) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name(value)
        .default_value(default)
        .value_parser(value_parser!(u64))
        .help(help)
}

fn u64_arg(args: &ArgMatches, name: &str) -> u64 {
    args.get_one::<u64>(name).copied().unwrap_or(0)
}

/// Register the queue commands.
pub(crate) fn register(commands: &mut Commands) {
    commands
        .add(
            Command::new("queue:work")
                .about("Process jobs from the queue until stopped (SIGTERM/SIGINT: finish running jobs, exit 0)")
                .arg(connection())
                .arg(queues())
                .arg(number("concurrency", "N", "1", "Jobs run at the same time"))
                .arg(number("tries", "N", "1", "Attempts for jobs that do not set theirs (0: unlimited)"))
                .arg(number("timeout", "SECONDS", "60", "Time limit of one attempt for jobs that do not set theirs"))
                .arg(number("sleep", "SECONDS", "3", "Longest wait for new jobs when the queues are empty"))
                .arg(number("max-jobs", "N", "0", "Stop after this many jobs (0: no limit)"))
                .arg(number("max-time", "SECONDS", "0", "Stop after this many seconds (0: no limit)"))
                .arg(flag("stop-when-empty", "Stop once the queues are empty"))
                .arg(flag("once", "Process one job, then stop"))
                .arg(flag("force", "Take jobs even while the app is down for maintenance")),
            work,
        )
        .add(
            Command::new("queue:restart").about(
                "Tell every worker to stop once its running jobs are done (through the cache); \
                 a supervisor starts them again",
            ),
            restart,
        )
        .add(
            Command::new("queue:failed")
                .about("List the failed jobs")
                .arg(connection()),
            failed,
        )
        .add(
            Command::new("queue:retry")
                .about("Put failed jobs back on their queue")
                .arg(
                    Arg::new("id")
                        .required(true)
                        .num_args(1..)
                        .value_name("ID|all")
                        .help("Failed job ids, or `all`"),
                )
                .arg(connection()),
            retry,
        )
        .add(
            Command::new("queue:forget")
                .about("Delete a failed job")
                .arg(Arg::new("id").required(true).value_name("ID"))
                .arg(connection()),
            forget,
        )
        .add(
            Command::new("queue:flush")
                .about("Delete every failed job")
                .arg(connection()),
            flush,
        )
        .add(
            Command::new("queue:clear")
                .about("Delete every job waiting on a queue")
                .arg(connection())
                .arg(queues())
                .arg(flag("force", "Run even in production")),
            clear,
        )
        .add(
            Command::new("queue:monitor")
                .about("Show how many jobs wait on queues; exit 1 when one has more than --max")
                .arg(
                    Arg::new("queues")
                        .required(true)
                        .value_name("[CONNECTION:]QUEUE,…")
                        .help("Queues to check, e.g. redis:default,high"),
                )
                .arg(number("max", "N", "1000", "Alert above this many jobs")),
            monitor,
        );
}

/// Boot the app (logging included) and return its queue manager.
async fn manager(
    inv: &Invocation,
    target: LogTarget,
) -> Result<(QueueManager, crate::Kernel), CommandError> {
    let config = inv.load_config()?;
    let log: LogConfig = config.section("log")?;
    logging::init(&log, config.environment(), target);
    let kernel = inv.boot_with(config).await?;
    let queue = kernel.context().make::<QueueManager>()?;
    Ok(((*queue).clone(), kernel))
}

fn connection_name(inv: &Invocation) -> Option<String> {
    inv.args()
        .try_get_one::<String>("connection")
        .ok()
        .flatten()
        .cloned()
}

fn queue_list(inv: &Invocation) -> Vec<String> {
    inv.args()
        .try_get_one::<String>("queue")
        .ok()
        .flatten()
        .map(|q| {
            q.split(',')
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn work(inv: Invocation) -> CommandResult {
    let (queue, kernel) = manager(&inv, LogTarget::Stdout).await?;
    let args = inv.args();
    let max_time = u64_arg(args, "max-time");
    let options = WorkerOptions {
        connection: connection_name(&inv),
        queues: queue_list(&inv),
        concurrency: usize::try_from(u64_arg(args, "concurrency").max(1)).unwrap_or(1),
        tries: u32::try_from(u64_arg(args, "tries")).unwrap_or(u32::MAX),
        timeout: Duration::from_secs(u64_arg(args, "timeout").max(1)),
        sleep: Duration::from_secs(u64_arg(args, "sleep")).max(Duration::from_millis(10)),
        max_jobs: u64_arg(args, "max-jobs"),
        max_time: (max_time > 0).then(|| Duration::from_secs(max_time)),
        stop_when_empty: args.get_flag("stop-when-empty"),
        once: args.get_flag("once"),
    };
    // Listen for signals from the start, not from the first time the worker waits.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        foundry_http::shutdown_signal().await;
        let _ = stop.send(());
    });
    let mut worker = Worker::new(queue, options);
    // In maintenance mode the worker takes no jobs, unless --force.
    if let Some(maintenance) = kernel.maintenance().cloned()
        && !args.get_flag("force")
    {
        worker = worker.pause_while(move || maintenance.is_down());
    }
    let report = worker
        .run(async {
            let _ = stopped.await;
        })
        .await?;
    kernel.context().run_shutdown_hooks().await;
    tracing::info!(jobs = report.total(), "stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "cache")]
async fn restart(inv: Invocation) -> CommandResult {
    let (queue, kernel) = manager(&inv, LogTarget::Stderr).await?;
    let cache = kernel.context().make::<crate::cache::Cache>()?;
    if cache.driver() == "memory" {
        return Err(format!(
            "queue:restart cannot reach the workers: the default cache store `{}` is a memory \
             store, which each process keeps to itself; set [cache] default to a database or redis \
             store shared by the workers",
            cache.name()
        )
        .into());
    }
    queue.restart_workers().await?;
    println!(
        "Workers will stop once their running jobs are done (signal in the `{}` cache store).",
        cache.name()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "cache"))]
async fn restart(_inv: Invocation) -> CommandResult {
    Err("queue:restart signals workers through the cache: build the app with foundry's `cache` feature".into())
}

async fn failed(inv: Invocation) -> CommandResult {
    let (queue, _kernel) = manager(&inv, LogTarget::Stderr).await?;
    let jobs = queue.failed_jobs(connection_name(&inv).as_deref()).await?;
    if jobs.is_empty() {
        println!("No failed jobs.");
    }
    for job in jobs {
        let name = serde_json::from_str::<Payload>(&job.payload)
            .map_or_else(|_| "(unreadable payload)".to_owned(), |p| p.name);
        let at = chrono_like(job.failed_at_ms);
        let exception = job.exception.lines().next().unwrap_or_default().to_owned();
        println!(
            "{at}  {}  {}@{}  {name}  {exception}",
            job.uuid, job.connection, job.queue
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `2024-01-02 03:04:05` (UTC) for milliseconds since the epoch.
fn chrono_like(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

async fn retry(inv: Invocation) -> CommandResult {
    let (queue, _kernel) = manager(&inv, LogTarget::Stderr).await?;
    let connection = connection_name(&inv);
    let wanted: Vec<String> = inv
        .args()
        .get_many::<String>("id")
        .map(|ids| ids.cloned().collect())
        .unwrap_or_default();
    let ids: Vec<String> = if wanted.iter().any(|id| id == "all") {
        queue
            .failed_jobs(connection.as_deref())
            .await?
            .into_iter()
            .map(|job| job.uuid)
            .collect()
    } else {
        wanted
    };
    if ids.is_empty() {
        println!("No failed jobs to retry.");
    }
    for id in ids {
        let new_id = queue.retry_failed(connection.as_deref(), &id).await?;
        println!("Retrying {id} as {new_id}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn forget(inv: Invocation) -> CommandResult {
    let (queue, _kernel) = manager(&inv, LogTarget::Stderr).await?;
    let id: &String = inv.args().get_one("id").ok_or("an id is required")?;
    let connection = queue.connection(connection_name(&inv).as_deref()).await?;
    if connection.driver().forget_failed(id).await? {
        println!("Failed job deleted: {id}");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(QueueError::FailedJobNotFound(id.clone()).into())
    }
}

async fn flush(inv: Invocation) -> CommandResult {
    let (queue, _kernel) = manager(&inv, LogTarget::Stderr).await?;
    let connection = queue.connection(connection_name(&inv).as_deref()).await?;
    let count = connection.driver().flush_failed().await?;
    println!("Deleted {count} failed job(s).");
    Ok(ExitCode::SUCCESS)
}

async fn clear(inv: Invocation) -> CommandResult {
    let (queue, kernel) = manager(&inv, LogTarget::Stderr).await?;
    if kernel.context().config().environment() == foundry_core::Environment::Production
        && !inv.args().get_flag("force")
    {
        return Err("refusing to run `queue:clear` in production: it deletes jobs; pass --force if you mean it".into());
    }
    let connection = queue.connection(connection_name(&inv).as_deref()).await?;
    let mut queues = queue_list(&inv);
    if queues.is_empty() {
        queues.push(connection.default_queue().to_owned());
    }
    for name in queues {
        let count = connection.driver().clear(&name).await?;
        println!("Cleared {count} job(s) from {}:{name}", connection.name());
    }
    Ok(ExitCode::SUCCESS)
}

async fn monitor(inv: Invocation) -> CommandResult {
    let (queue, _kernel) = manager(&inv, LogTarget::Stderr).await?;
    let max = u64_arg(inv.args(), "max");
    let spec: &String = inv.args().get_one("queues").ok_or("queues are required")?;
    let mut busy = false;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, queue_name) = match item.split_once(':') {
            Some((connection, name)) => (Some(connection), name),
            None => (None, item),
        };
        let connection = queue.connection(name).await?;
        let size = connection.driver().size(queue_name).await?;
        let state = if size > max {
            busy = true;
            "ALERT"
        } else {
            "OK"
        };
        println!("{}:{queue_name}  {size}  {state}", connection.name());
    }
    Ok(if busy {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
