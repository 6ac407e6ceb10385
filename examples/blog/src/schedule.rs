//! The blog's scheduled tasks and the command one of them runs.
//!
//! - `blog:refresh-stats`, every minute on one server: counts posts and comments into the
//!   cache, so `/api/stats` never counts rows during a request.
//! - `posts:prune-trashed --days=30`, daily at 3:00 without overlapping: deletes for good
//!   the posts that have been in the trash for 30 days (Laravel's `model:prune`).

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use foundry::cache::Cache;
use foundry::cli::clap::{Arg, Command, value_parser};
use foundry::db::{Db, ModelExt};
use foundry::prelude::*;
use foundry::schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::models::{Comment, Post};

/// The cache key of the counts.
pub const STATS_KEY: &str = "blog:stats";

/// How long the counts stay cached: two ticks, so one missed tick does not empty it.
const STATS_TTL: Duration = Duration::from_secs(120);

/// Days a trashed post is kept before the nightly prune deletes it.
pub const TRASH_DAYS: u32 = 30;

/// The blog's schedule (`App::schedule`).
pub fn define(s: &mut Schedule) {
    s.call("blog:refresh-stats", |ctx| async move {
        let stats = Stats::count(&*ctx.make::<Db>()?).await?;
        ctx.make::<Cache>()?
            .put(STATS_KEY, &stats, STATS_TTL)
            .await?;
        Ok(())
    })
    .every_minute()
    .on_one_server();
    s.command(&format!("posts:prune-trashed --days={TRASH_DAYS}"))
        .daily_at("3:00")
        .without_overlapping();
}

/// Register `posts:prune-trashed` (`App::commands`).
pub fn commands(commands: &mut Commands) {
    commands.add(
        Command::new("posts:prune-trashed")
            .about("Delete for good the posts trashed more than --days days ago")
            .arg(
                Arg::new("days")
                    .long("days")
                    .value_name("N")
                    .default_value("30")
                    .value_parser(value_parser!(u32))
                    .help("Keep posts trashed fewer days ago than this"),
            ),
        prune_trashed_command,
    );
}

async fn prune_trashed_command(inv: Invocation) -> CommandResult {
    let days = inv
        .args()
        .get_one::<u32>("days")
        .copied()
        .unwrap_or(TRASH_DAYS);
    let kernel = inv.boot().await?;
    let ctx = kernel.context();
    let pruned = prune_trashed(&*ctx.make::<Db>()?, ctx.clock().now(), days).await?;
    println!("Pruned {pruned} post(s) trashed more than {days} day(s) ago.");
    Ok(ExitCode::SUCCESS)
}

/// Delete the posts trashed more than `days` days before `now`; how many went.
pub async fn prune_trashed(db: &Db, now: DateTime<Utc>, days: u32) -> Result<u64> {
    let cutoff = now - chrono::Duration::days(i64::from(days));
    Ok(db
        .statement(
            "DELETE FROM posts WHERE deleted_at IS NOT NULL AND deleted_at < ?",
            vec![cutoff.into()],
        )
        .await?)
}

/// What `/api/stats` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Published (not trashed) posts.
    pub posts: i64,
    /// Comments.
    pub comments: i64,
}

impl Stats {
    /// Count the rows now.
    pub async fn count(db: &Db) -> Result<Self> {
        Ok(Self {
            posts: Post::query(db).count().await?,
            comments: Comment::query(db).count().await?,
        })
    }
}

/// `/api/stats`: the counts the scheduler keeps in the cache (counted here when the cache
/// has none yet, e.g. before the first tick).
pub async fn show(Service(cache): Service<Cache>, Service(db): Service<Db>) -> Result<Json<Stats>> {
    if let Some(stats) = cache.get::<Stats>(STATS_KEY).await? {
        return Ok(Json(stats));
    }
    Ok(Json(Stats::count(&db).await?))
}
