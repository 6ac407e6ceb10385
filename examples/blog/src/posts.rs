//! Posts: the JSON API (`/api/posts`) and the HTML pages (`/posts`).

use axum::http::{StatusCode, Uri, header};
use foundry::db::pagination::{PageRequest, Paginator};
use foundry::db::{Db, ModelExt};
use foundry::prelude::*;
use foundry::validation::{Validate, Validated};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::models::Post;

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

/// `GET /api/posts`: a page of posts with their authors and comment counts.
pub async fn index(Service(db): Service<Db>, uri: Uri) -> Result<Json<Paginator<Post>>> {
    let posts = latest_posts(&db, &uri).await?;
    // Serialized straight from the paginator: Laravel's key order.
    Ok(Json(posts))
}

/// `GET /api/posts/{post}`: one post with its author, tags, and comments with their authors.
pub async fn show(
    Service(db): Service<Db>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    let post = find_with_comments(&db, id).await?;
    Ok(Json(json!({ "data": post })))
}

async fn find_with_comments(db: &Db, id: i64) -> Result<Post> {
    let post = Post::query(db)
        .with(["author", "tags", "comments.author"])
        .where_key(id)
        .first()
        .await?;
    post.ok_or_else(|| Error::not_found(format!("No post with id {id}.")))
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
) -> Result<impl IntoResponse> {
    let post = Post::create(&db, serde_json::to_value(&input)?).await?;
    let location = ctx.urls().route("api.posts.show", [("post", post.id)])?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({ "data": post })),
    ))
}

/// `PUT|PATCH /api/posts/{post}`.
pub async fn update(
    Service(db): Service<Db>,
    Path(id): Path<i64>,
    Validated(input): Validated<PostInput>,
) -> Result<Json<serde_json::Value>> {
    let mut post = Post::find_or_fail(&db, id).await?;
    post.update(&db, serde_json::to_value(&input)?).await?;
    Ok(Json(json!({ "data": post })))
}

/// `DELETE /api/posts/{post}`: moves the post to the trash; 204.
pub async fn destroy(Service(db): Service<Db>, Path(id): Path<i64>) -> Result<StatusCode> {
    let mut post = Post::find_or_fail(&db, id).await?;
    post.delete(&db).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /posts`: the HTML list (`resources/views/posts/index.html`).
pub async fn list_page(views: Views, Service(db): Service<Db>, uri: Uri) -> Result<View> {
    let posts = latest_posts(&db, &uri).await?;
    views.render("posts.index", json!({ "posts": posts })).await
}

/// `GET /posts/{post}`: one post with its comments (`resources/views/posts/show.html`).
pub async fn show_page(
    views: Views,
    Service(db): Service<Db>,
    Path(id): Path<i64>,
) -> Result<View> {
    let post = find_with_comments(&db, id).await?;
    views.render("posts.show", json!({ "post": post })).await
}
