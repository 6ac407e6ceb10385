//! Route-model binding and API resources over real models (SQLite in memory).

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use chrono::{DateTime, Utc};
use foundry_core::config::ConfigLoader;
use foundry_core::{AppContext, ServicesBuilder};
use foundry_db::pagination::PageRequest;
use foundry_db::{
    Db, Model, ModelExt, ModelHooks, Relation, RelationExt, Relations, belongs_to, has_many,
};
use foundry_http::binding::{Bound, RouteKey, WithTrashed};
use foundry_http::json_resource::{Fields, JsonResource};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Model, Debug, Clone)]
#[model(crate = "foundry_db", fillable(name, email), hooks)]
struct User {
    id: i64,
    name: String,
    email: String,
    relations: Relations,
}

impl ModelHooks for User {}

#[derive(Model, Debug, Clone)]
#[model(
    crate = "foundry_db",
    fillable(user_id, slug, title),
    soft_deletes,
    hooks
)]
struct Post {
    id: i64,
    user_id: i64,
    slug: String,
    title: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    relations: Relations,
}

impl ModelHooks for Post {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "author" => Some(belongs_to::<Self, User>("user_id")),
            "comments" => Some(has_many::<Self, Comment>("post_id")),
            _ => None,
        }
    }
}

#[derive(Model, Debug, Clone)]
#[model(
    crate = "foundry_db",
    fillable(post_id, body),
    timestamps = false,
    hooks
)]
struct Comment {
    id: i64,
    post_id: i64,
    body: String,
    relations: Relations,
}

impl ModelHooks for Comment {}

struct UserResource;
impl JsonResource for UserResource {
    type Model = User;
    fn fields(user: &User, out: &mut Fields) {
        out.field("id", user.id).field("name", &user.name);
    }
}

struct CommentResource;
impl JsonResource for CommentResource {
    type Model = Comment;
    fn fields(comment: &Comment, out: &mut Fields) {
        out.field("id", comment.id).field("body", &comment.body);
    }
}

struct PostResource;
impl JsonResource for PostResource {
    type Model = Post;
    fn fields(post: &Post, out: &mut Fields) {
        out.field("title", &post.title)
            .field("id", post.id)
            .when_loaded::<UserResource>("author", post)
            .when_loaded::<CommentResource>("comments", post)
            .when_counted("comments", post)
            .when_some("deleted_at", post.deleted_at)
            .when(post.title.len() > 10, "long", || true)
            .merge_when(post.id == 1, |f| {
                f.field("first", true);
            });
    }
}

struct BySlug;
impl RouteKey for BySlug {
    const COLUMN: Option<&'static str> = Some("slug");
}

async fn db() -> Db {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    for sql in [
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT NOT NULL)",
        "CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, slug TEXT NOT NULL, \
         title TEXT NOT NULL, created_at TEXT, updated_at TEXT, deleted_at TEXT)",
        "CREATE TABLE comments (id INTEGER PRIMARY KEY AUTOINCREMENT, post_id INTEGER NOT NULL, body TEXT NOT NULL)",
    ] {
        db.statement(sql, Vec::new()).await.unwrap();
    }
    let ada = User::create(&db, json!({"name": "Ada", "email": "ada@example.com"}))
        .await
        .unwrap();
    for (slug, title) in [
        ("hello", "Hello"),
        ("second-post", "A second post"),
        ("42", "Numbers"),
    ] {
        Post::create(
            &db,
            json!({"user_id": ada.id, "slug": slug, "title": title}),
        )
        .await
        .unwrap();
    }
    for body in ["first!", "nice"] {
        Comment::create(&db, json!({"post_id": 1, "body": body}))
            .await
            .unwrap();
    }
    db
}

fn app(db: Db) -> Router {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let mut services = ServicesBuilder::new();
    services.singleton(db);
    let ctx = AppContext::new(config, services.build());
    Router::new()
        .route(
            "/posts/{post}",
            get(|post: Bound<Post>| async move { post.title.clone() }),
        )
        .route(
            "/users/{user}/posts/{slug}",
            get(|post: Bound<Post, BySlug>| async move { post.into_inner().title }),
        )
        .route(
            "/trash/{post}",
            get(|post: WithTrashed<Post>| async move { post.title.clone() }),
        )
        .route(
            "/broken/{id}",
            get(|post: Bound<Post, BadColumn>| async move { post.title.clone() }),
        )
        .with_state(ctx)
}

struct BadColumn;
impl RouteKey for BadColumn {
    const COLUMN: Option<&'static str> = Some("no_such_column");
}

async fn get_text(app: &Router, path: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn binding_loads_by_key_or_column_and_404s_otherwise() {
    let db = db().await;
    let app = app(db.clone());
    assert_eq!(
        get_text(&app, "/posts/2").await,
        (StatusCode::OK, "A second post".into())
    );
    assert_eq!(
        get_text(&app, "/users/1/posts/second-post").await,
        (StatusCode::OK, "A second post".into())
    );
    assert_eq!(
        get_text(&app, "/users/1/posts/42").await,
        (StatusCode::OK, "Numbers".into()),
        "a slug that looks like a number is still text"
    );
    assert_eq!(
        get_text(&app, "/posts/99").await,
        (
            StatusCode::NOT_FOUND,
            r#"{"message":"No query results for model [Post] 99."}"#.into()
        )
    );
    let (status, _) = get_text(&app, "/posts/abc").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a bad key is a 404, not a 500"
    );
    let (status, _) = get_text(&app, "/users/1/posts/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Soft-deleted rows are gone unless the handler asks for them.
    let mut post = Post::find_or_fail(&db, 2).await.unwrap();
    post.delete(&db).await.unwrap();
    assert_eq!(get_text(&app, "/posts/2").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get_text(&app, "/trash/2").await,
        (StatusCode::OK, "A second post".into())
    );

    let (status, _) = get_text(&app, "/broken/1").await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "an unknown column is a bug, not a missing row"
    );
}

#[tokio::test]
async fn binding_without_a_database_is_a_clear_500() {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let app = Router::new()
        .route(
            "/posts/{post}",
            get(|post: Bound<Post>| async move { post.title.clone() }),
        )
        .with_state(AppContext::new(config, Default::default()));
    let response = app
        .oneshot(Request::get("/posts/1").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let report = response
        .extensions()
        .get::<foundry_core::ErrorReport>()
        .unwrap();
    assert!(
        report.chain()[1].contains("needs the database"),
        "{:?}",
        report.chain()
    );
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn resources_wrap_in_data_and_keep_key_order() {
    let db = db().await;
    let post = Post::find_or_fail(&db, 2).await.unwrap();
    let text = PostResource::make(&post).to_string();
    assert_eq!(
        text, r#"{"data":{"title":"A second post","id":2,"long":true}}"#,
        "unloaded relations and uncounted counts are left out; keys keep their order"
    );
    assert_eq!(
        PostResource::make(&post).without_wrapping().to_string(),
        r#"{"title":"A second post","id":2,"long":true}"#
    );
    let extra = PostResource::make(&post).additional("meta", json!({"version": 2}));
    assert_eq!(parse(&extra.to_string())["meta"]["version"], 2);
}

#[tokio::test]
async fn when_loaded_includes_only_eager_loaded_relations() {
    let db = db().await;
    let posts = Post::query(&db)
        .with(["author", "comments"])
        .with_count("comments")
        .order_by_asc("id")
        .get()
        .await
        .unwrap();
    let body = parse(&PostResource::collection(&posts).to_string());
    let first = &body["data"][0];
    assert_eq!(
        first["author"],
        json!({"id": 1, "name": "Ada"}),
        "no email: the resource decides"
    );
    assert_eq!(
        first["comments"],
        json!([{"id": 1, "body": "first!"}, {"id": 2, "body": "nice"}])
    );
    assert_eq!(first["comments_count"], 2);
    assert_eq!(first["first"], true, "merge_when");
    assert_eq!(
        body["data"][1]["comments"],
        json!([]),
        "loaded and empty is a list"
    );
    assert!(body["data"][1].get("first").is_none());

    // Loading one relation does not bring the other.
    let mut post = Post::find_or_fail(&db, 1).await.unwrap();
    post.load(&db, &["author"]).await.unwrap();
    let body = parse(&PostResource::make(&post).to_string());
    assert!(body["data"].get("author").is_some());
    assert!(body["data"].get("comments").is_none(), "{body}");
    assert!(body["data"].get("comments_count").is_none(), "{body}");
}

#[tokio::test]
async fn paginated_collections_have_laravels_links_and_meta() {
    let db = db().await;
    let page = Post::query(&db)
        .order_by_asc("id")
        .paginate(2, &PageRequest::from_uri("/api/posts?page=2"))
        .await
        .unwrap();
    let response = PostResource::paginate(&page).created("/api/posts/9");
    let text = response.to_string();
    let top: Vec<&str> = ["\"data\"", "\"links\"", "\"meta\""]
        .iter()
        .map(|k| &text[text.find(k).unwrap()..][..k.len()])
        .collect();
    assert_eq!(top, ["\"data\"", "\"links\"", "\"meta\""]);
    let body = parse(&text);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["links"],
        json!({
            "first": "/api/posts?page=1",
            "last": "/api/posts?page=2",
            "prev": "/api/posts?page=1",
            "next": null,
        })
    );
    let meta = &body["meta"];
    assert_eq!(
        (
            meta["current_page"].clone(),
            meta["from"].clone(),
            meta["to"].clone(),
            meta["last_page"].clone(),
            meta["per_page"].clone(),
            meta["total"].clone(),
            meta["path"].clone(),
        ),
        (
            json!(2),
            json!(3),
            json!(3),
            json!(2),
            json!(2),
            json!(3),
            json!("/api/posts")
        )
    );
    assert_eq!(
        meta["links"].as_array().unwrap().len(),
        4,
        "prev, 1, 2, next"
    );
    let meta_keys = text[text.find("\"meta\"").unwrap()..].to_owned();
    assert!(meta_keys.find("current_page") < meta_keys.find("total"));

    let response = axum::response::IntoResponse::into_response(response);
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/api/posts/9");
    assert_eq!(response.headers()["content-type"], "application/json");
}
