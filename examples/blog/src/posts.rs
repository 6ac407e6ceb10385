//! Posts: the JSON API (`/api/posts`) and the HTML pages (`/posts`).

use axum::http::Uri;
use foundry::db::pagination::{PageRequest, Paginator};
use foundry::db::{Db, ModelExt, RelationExt};
use foundry::http::Bound;
use foundry::http::json_resource::{JsonResource, ResourceResponse};
use foundry::http::respond::NoContent;
use foundry::prelude::*;
use foundry::validation::{Validate, Validated};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::models::Post;
use crate::resources::PostResource;

/// Posts per page, in the API and on the HTML list.
pub const PER_PAGE: u64 = 10;

/// The page of posts `uri` asks for (`?page=`), newest first, with authors and comment counts.
async fn latest_posts(db: &Db, uri: &Uri) -> Result<Paginator<Post>> {
    let page = PageRequest::from_uri(&uri.to_string());
    Ok(Post::query(db)
        .with(["author"])
        .with_count("comments")
        .latest(Post::COL_ID)
        .paginate(PER_PAGE, &page)
        .await?)
}

/// `GET /api/posts`: a page of posts with their authors and comment counts, with Laravel's
/// `links` and `meta`.
pub async fn index(Service(db): Service<Db>, uri: Uri) -> Result<ResourceResponse> {
    let posts = latest_posts(&db, &uri).await?;
    Ok(PostResource::paginate(&posts))
}

/// `GET /api/posts/{post}`: one post with its author, tags, and comments with their authors.
pub async fn show(Service(db): Service<Db>, post: Bound<Post>) -> Result<ResourceResponse> {
    let post = with_comments(&db, post.into_inner()).await?;
    Ok(PostResource::make(&post))
}

async fn with_comments(db: &Db, mut post: Post) -> Result<Post> {
    post.load(db, &["author", "tags", "comments.author"])
        .await?;
    Ok(post)
}

/// What `POST /api/posts` and `PUT /api/posts/{post}` accept.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[validate(crate = "foundry::validation")]
pub struct PostInput {
    /// The author's id.
    #[validate("required|integer|exists:users,id")]
    pub user_id: i64,
    /// Title.
    #[validate("required|string|min:3|max:200")]
    pub title: String,
    /// Body text.
    #[validate("required|string|min:10")]
    pub body: String,
}

/// `POST /api/posts`: 201 with the post and its `Location`.
pub async fn store(
    State(ctx): State<AppContext>,
    Service(db): Service<Db>,
    Validated(input): Validated<PostInput>,
) -> Result<ResourceResponse> {
    let mut post = Post::create(&db, serde_json::to_value(&input)?).await?;
    post.load(&db, &["author"]).await?;
    let location = ctx.urls().route("api.posts.show", [("post", post.id)])?;
    Ok(PostResource::make(&post).created(location))
}

/// `PUT|PATCH /api/posts/{post}`.
pub async fn update(
    Service(db): Service<Db>,
    post: Bound<Post>,
    Validated(input): Validated<PostInput>,
) -> Result<ResourceResponse> {
    let mut post = post.into_inner();
    post.update(&db, serde_json::to_value(&input)?).await?;
    Ok(PostResource::make(&post))
}

/// `DELETE /api/posts/{post}`: moves the post to the trash; 204.
pub async fn destroy(Service(db): Service<Db>, post: Bound<Post>) -> Result<NoContent> {
    post.into_inner().delete(&db).await?;
    Ok(NoContent)
}

/// `GET /posts`: the HTML list (`resources/views/posts/index.html`).
pub async fn list_page(views: Views, Service(db): Service<Db>, uri: Uri) -> Result<View> {
    let posts = latest_posts(&db, &uri).await?;
    views.render("posts.index", json!({ "posts": posts })).await
}

/// `GET /posts/{post}`: one post with its comments (`resources/views/posts/show.html`).
pub async fn show_page(views: Views, Service(db): Service<Db>, post: Bound<Post>) -> Result<View> {
    let post = with_comments(&db, post.into_inner()).await?;
    views.render("posts.show", json!({ "post": post })).await
}
