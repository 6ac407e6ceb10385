//! Comments: `POST /api/posts/{post}/comments` stores one and queues the author's
//! notification once the transaction commits.

use foundry::db::{Db, DbError, ModelExt};
use foundry::prelude::*;
use foundry::queue::QueueManager;
use foundry::validation::{Validate, Validated};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jobs::NotifyPostAuthor;
use crate::models::{Comment, Post};

/// A new comment.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[validate(crate = "foundry::validation")]
pub struct CommentInput {
    /// The commenter's id.
    #[validate("required|integer|exists:users,id")]
    pub user_id: i64,
    /// Text.
    #[validate("required|string|min:2|max:2000")]
    pub body: String,
}

/// `POST /api/posts/{post}/comments`: 201 with the comment and the id of the queued job.
pub async fn store(
    Service(db): Service<Db>,
    Service(queue): Service<QueueManager>,
    Path(post): Path<i64>,
    Validated(input): Validated<CommentInput>,
) -> Result<impl IntoResponse> {
    let post = Post::find_or_fail(&db, post).await?;
    let attributes = json!({ "post_id": post.id, "user_id": input.user_id, "body": input.body });
    let comment = db
        .transaction(|tx| {
            let queue = queue.clone();
            let attributes = attributes.clone();
            async move {
                let comment = Comment::create(&tx, attributes).await?;
                // Queued only if the comment is really there: a rollback drops the job.
                queue
                    .dispatch(NotifyPostAuthor {
                        comment_id: comment.id,
                    })
                    .after_commit(&tx)
                    .await;
                Ok::<_, DbError>(comment)
            }
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "data": comment }))))
}
