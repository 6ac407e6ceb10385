//! The blog's queued jobs: a new comment notifies the post's author in the background.

use std::time::Duration;

use chrono::Utc;
use foundry::db::{Db, ModelExt};
use foundry::queue::{Backoff, Job, JobContext, JobRegistry, JobResult};
use serde::{Deserialize, Serialize};

use crate::models::{Comment, Post, User};

/// Register the blog's jobs (`App::jobs`).
pub fn register(jobs: &mut JobRegistry) {
    jobs.register::<NotifyPostAuthor>().register::<Pause>();
}

/// Tell a post's author about a new comment, then stamp the comment's `notified_at`.
///
/// Only the comment's id travels through the queue: the job reads the rows when it runs, so
/// it sees the data as it is then (and a deleted comment is simply skipped).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyPostAuthor {
    /// The new comment.
    pub comment_id: i64,
}

impl Job for NotifyPostAuthor {
    const NAME: &'static str = "notify_post_author";

    async fn handle(&self, ctx: &JobContext) -> JobResult {
        let db = ctx.app()?.make::<Db>()?;
        let Some(comment) = Comment::find(&db, self.comment_id).await? else {
            tracing::info!(
                comment = self.comment_id,
                "comment deleted before notification"
            );
            return Ok(());
        };
        let post = Post::find_or_fail(&db, comment.post_id).await?;
        let author = User::find_or_fail(&db, post.user_id).await?;
        // A mailer would send this; the log line stands in for it until mail arrives.
        tracing::info!(to = %author.email, post = %post.title, "new comment on your post");
        db.statement(
            "UPDATE comments SET notified_at = ? WHERE id = ?",
            vec![Utc::now().into(), comment.id.into()],
        )
        .await?;
        Ok(())
    }

    fn tries(&self) -> Option<u32> {
        Some(3)
    }

    fn backoff(&self) -> Option<Backoff> {
        Some(Backoff::Fixed(vec![5, 30]))
    }
}

/// A job that takes a while and then appends a line to a file: the worker tests use it to
/// stop and kill workers mid-job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pause {
    /// How long to work.
    pub ms: u64,
    /// The file that gets a line when the job is done.
    pub done_file: String,
}

impl Job for Pause {
    const NAME: &'static str = "pause";

    async fn handle(&self, ctx: &JobContext) -> JobResult {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        let line = format!("{} attempt {}\n", ctx.id(), ctx.attempt());
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.done_file)
            .await?;
        tokio::io::AsyncWriteExt::write_all(&mut file, line.as_bytes()).await?;
        Ok(())
    }
}
