//! The blog's posts: the JSON API and the HTML pages, on a fresh in-memory database per test.

use axum::body::Body;
use foundry::Kernel;
use foundry::config::ConfigLoader;
use foundry::db::Db;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn kernel() -> Kernel {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ConfigLoader::new(root)
        .dotenv(false)
        .vars([
            ("FOUNDRY_ENV", "testing"),
            ("FOUNDRY_DATABASE__URL", "sqlite::memory:"),
        ])
        .load()
        .unwrap();
    let kernel = Kernel::boot::<blog::Blog>(config).await.unwrap();
    let db = kernel.context().make::<Db>().unwrap();
    blog::prepare_demo_database(&db).await.unwrap();
    kernel
}

async fn send(kernel: &Kernel, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn json(
    kernel: &Kernel,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::ACCEPT, "application/json");
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let (status, headers, text) = send(kernel, request.body(body).unwrap()).await;
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, headers, value)
}

#[tokio::test]
async fn the_index_is_a_laravel_page_of_posts_with_authors_and_comment_counts() {
    let kernel = kernel().await;
    let (status, _, page) = json(&kernel, "GET", "/api/posts", None).await;
    assert_eq!(status, StatusCode::OK);
    // A paginated API resource collection: data, links, meta.
    let meta = &page["meta"];
    assert_eq!(meta["total"], 12);
    assert_eq!(meta["per_page"], 10);
    assert_eq!(meta["last_page"], 2);
    assert_eq!(
        (meta["from"].clone(), meta["to"].clone()),
        (json!(1), json!(10))
    );
    assert_eq!(page["data"].as_array().unwrap().len(), 10);
    let first = &page["data"][0];
    assert_eq!(first["id"], 12, "newest first");
    assert!(
        first["author"]["name"].is_string(),
        "authors are eager loaded: {first}"
    );
    assert!(
        first["author"].get("email").is_none(),
        "the resource hides e-mails"
    );
    assert!(first["comments_count"].as_i64().unwrap() >= 1);
    assert!(
        first.get("comments").is_none(),
        "comments are not loaded on the index"
    );
    assert!(
        page["links"]["next"]
            .as_str()
            .unwrap()
            .ends_with("/api/posts?page=2")
    );
    assert_eq!(page["links"]["prev"], Value::Null);

    let (_, _, second) = json(&kernel, "GET", "/api/posts?page=2", None).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    let (status, _, bad) = json(&kernel, "GET", "/api/posts?page=banana", None).await;
    assert_eq!(
        (status, bad["meta"]["current_page"].clone()),
        (StatusCode::OK, json!(1)),
        "a bad page is page 1"
    );
}

#[tokio::test]
async fn a_post_comes_with_its_comments_their_authors_and_tags() {
    let kernel = kernel().await;
    let (status, _, body) = json(&kernel, "GET", "/api/posts/3", None).await;
    assert_eq!(status, StatusCode::OK);
    let post = &body["data"];
    assert_eq!(post["id"], 3);
    let comments = post["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 3);
    assert!(
        comments
            .iter()
            .all(|c| c["author"]["name"].is_string() && c["author"].get("email").is_none()),
        "{post}"
    );
    assert_eq!(post["tags"].as_array().unwrap().len(), 2);

    let (status, _, body) = json(&kernel, "GET", "/api/posts/999", None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "No query results for model [Post] 999."})
        )
    );
    let (status, _, _) = json(&kernel, "GET", "/api/posts/abc", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn creating_validates_then_answers_201_with_location() {
    let kernel = kernel().await;
    let (status, _, body) = json(
        &kernel,
        "POST",
        "/api/posts",
        Some(json!({"user_id": 99, "title": "Hi", "body": "short"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"]["user_id"],
        json!(["The selected user id is invalid."])
    );
    assert_eq!(
        body["errors"]["title"],
        json!(["The title field must be at least 3 characters."])
    );
    assert_eq!(
        body["errors"]["body"],
        json!(["The body field must be at least 10 characters."])
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("(and 2 more errors)"),
        "{body}"
    );
    // Errors come in rule order, as in Laravel (a parsed `Value` sorts keys: read the text).
    let request = Request::post("/api/posts")
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"user_id": 99, "title": "Hi", "body": "short"}"#,
        ))
        .unwrap();
    let (_, _, text) = send(&kernel, request).await;
    let order: Vec<usize> = ["\"user_id\":[", "\"title\":[", "\"body\":["]
        .iter()
        .map(|key| text.find(key).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");

    let (status, _, body) = json(
        &kernel,
        "POST",
        "/api/posts",
        Some(json!({"title": "No author"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"]["user_id"],
        json!(["The user id field is required."])
    );

    let input = json!({"user_id": 1, "title": "Hello world", "body": "A body long enough."});
    let (status, headers, body) = json(&kernel, "POST", "/api/posts", Some(input)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers[header::LOCATION], "/api/posts/13");
    assert_eq!(body["data"]["title"], "Hello world");
    let (status, _, body) = json(&kernel, "GET", "/api/posts/13", None).await;
    assert_eq!(
        (status, body["data"]["author"]["id"].clone()),
        (StatusCode::OK, json!(1))
    );
}

#[tokio::test]
async fn updating_and_deleting() {
    let kernel = kernel().await;
    let input = json!({"user_id": 2, "title": "Renamed", "body": "New body, long enough."});
    let (status, _, body) = json(&kernel, "PUT", "/api/posts/1", Some(input.clone())).await;
    assert_eq!(
        (status, body["data"]["title"].clone()),
        (StatusCode::OK, json!("Renamed"))
    );
    let (status, _, _) = json(&kernel, "PATCH", "/api/posts/404", Some(input)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, body) = json(&kernel, "DELETE", "/api/posts/1", None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, _, _) = json(&kernel, "GET", "/api/posts/1", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a trashed post is gone from the API"
    );
    let (status, _, body) = json(&kernel, "DELETE", "/api/posts/1", None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "No query results for model [Post] 1."})
        ),
        "deleting twice: the binding no longer finds it"
    );
    let (_, _, page) = json(&kernel, "GET", "/api/posts", None).await;
    assert_eq!(page["meta"]["total"], 11);
}

#[tokio::test]
async fn html_pages_list_posts_and_show_comments_escaped() {
    let kernel = kernel().await;
    let input = json!({"user_id": 1, "title": "<script>alert(1)</script>", "body": "Body with <b>tags</b> inside."});
    let (status, _, _) = json(&kernel, "POST", "/api/posts", Some(input)).await;
    assert_eq!(status, StatusCode::CREATED);

    let page = |path: &str| {
        Request::get(path)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, list) = send(&kernel, page("/posts")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("<h1>Posts</h1>"));
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !list.contains("<script>"),
        "{list}"
    );
    assert!(
        list.contains("href=\"/posts?page=2\""),
        "pagination links: {list}"
    );

    let (status, _, post) = send(&kernel, page("/posts/13")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        post.contains("Body with &lt;b&gt;tags&lt;/b&gt; inside."),
        "{post}"
    );
    let (_, _, with_comments) = send(&kernel, page("/posts/3")).await;
    assert_eq!(
        with_comments.matches("<li>").count(),
        3,
        "three comments: {with_comments}"
    );

    assert!(
        post.contains("<nav><a href=\"/posts\">Posts</a>"),
        "pages share the layout: {post}"
    );

    // The blog's own 404 page (resources/views/errors/404.html), inside the layout.
    let (status, headers, missing) = send(&kernel, page("/posts/999")).await;
    assert_eq!(
        (status, headers[header::CONTENT_TYPE].to_str().unwrap()),
        (StatusCode::NOT_FOUND, "text/html; charset=utf-8")
    );
    assert!(
        missing.contains("Nothing lives at this address") && missing.contains("<nav>"),
        "{missing}"
    );
    assert!(
        missing.contains(headers["x-request-id"].to_str().unwrap()),
        "the page shows the request id: {missing}"
    );
}
