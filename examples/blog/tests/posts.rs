//! The blog's posts — the JSON API and the HTML pages — booted by foundry-testing on a fresh
//! database per test, seeded with the demo data (12 posts by 4 authors, 1–3 comments and two
//! tags each).

use foundry::db::ModelExt;
use foundry::db::seed::Seeder;
use foundry_testing::prelude::*;

use blog::models::{Comment, Post, User};

async fn seeded() -> TestApp {
    let app = TestApp::boot::<blog::Blog>().await;
    blog::seed::DatabaseSeeder
        .run(&app.db())
        .await
        .expect("the demo data seeds");
    app
}

fn valid_input() -> serde_json::Value {
    json!({"user_id": 1, "title": "Hello world", "body": "A body long enough."})
}

#[tokio::test]
async fn the_index_is_a_page_of_posts_newest_first_with_authors_and_comment_counts() {
    let app = seeded().await;
    let page = app.get_json("/api/posts", &()).await;
    page.assert_ok()
        .assert_json_count(10, "data")
        .assert_json_path("data.0.id", &json!(12))
        .assert_json_structure(&json!({"data": {"*": ["id", "title", "author"]}}));
    let first = page.json_path("data.0").unwrap();
    assert!(
        first["author"]["name"].is_string(),
        "authors are eager loaded: {first}"
    );
    assert!(first["comments_count"].as_i64().unwrap() >= 1, "{first}");
    assert!(
        first["author"].get("email").is_none(),
        "the resource hides e-mails"
    );
    assert!(
        first.get("comments").is_none(),
        "comments are not loaded on the index"
    );
    // A paginated resource collection: Laravel's `links` and `meta`.
    page.assert_json(
        &json!({"meta": {"total": 12, "per_page": 10, "last_page": 2, "from": 1, "to": 10}}),
    )
    .assert_json_path("links.prev", &serde_json::Value::Null);
    assert!(
        page.json_path("links.next")
            .and_then(|next| next.as_str().map(str::to_owned))
            .is_some_and(|next| next.ends_with("/api/posts?page=2")),
        "{}",
        page.text()
    );

    app.get_json("/api/posts", &[("page", "2")])
        .await
        .assert_ok()
        .assert_json_count(2, "data")
        .assert_json_path("data.1.id", &json!(1));
    // A page that is not a number is page 1.
    app.get_json("/api/posts", &[("page", "banana")])
        .await
        .assert_ok()
        .assert_json_count(10, "data")
        .assert_json_path("data.0.id", &json!(12));
}

#[tokio::test]
async fn a_post_comes_with_its_comments_their_authors_and_tags() {
    let app = seeded().await;
    let response = app.get_json("/api/posts/3", &()).await;
    response
        .assert_ok()
        .assert_json(&json!({"data": {"id": 3}}))
        .assert_json_count(3, "data.comments")
        .assert_json_count(2, "data.tags")
        .assert_json_structure(&json!({"data": {"comments": {"*": {"author": ["name"]}}}}));
    let post = response.json_path("data").unwrap();
    assert!(
        post["comments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["author"].get("email").is_none()),
        "the resource hides e-mails: {post}"
    );

    app.get_json("/api/posts/999", &())
        .await
        .assert_not_found()
        .assert_json_structure(&json!(["message"]));
    app.get_json("/api/posts/abc", &()).await.assert_not_found();
}

#[tokio::test]
async fn creating_validates_then_answers_201_with_location() {
    let app = seeded().await;
    let invalid = app
        .post_json(
            "/api/posts",
            &json!({"user_id": 99, "title": "Hi", "body": "short"}),
        )
        .await;
    invalid
        .assert_unprocessable()
        .assert_json_validation_errors(["user_id", "title", "body"])
        .assert_json(&json!({"errors": {
            "user_id": ["The selected user id is invalid."],
            "title": ["The title field must be at least 3 characters."],
            "body": ["The body field must be at least 10 characters."],
        }}));
    // Errors come in rule order, as in Laravel (a parsed `Value` sorts keys: read the text).
    let text = invalid.text();
    let order: Vec<usize> = ["\"user_id\":[", "\"title\":[", "\"body\":["]
        .iter()
        .map(|key| text.find(key).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");

    app.post_json("/api/posts", &json!({"title": "No author"}))
        .await
        .assert_unprocessable()
        .assert_json_path("errors.user_id.0", &json!("The user id field is required."));
    app.post_json("/api/posts", &json!({}))
        .await
        .assert_unprocessable()
        .assert_json_validation_errors(["user_id", "title", "body"]);
    app.assert_database_count("posts", 12).await;

    app.post_json("/api/posts", &valid_input())
        .await
        .assert_created()
        .assert_header("location", "/api/posts/13")
        .assert_json(&json!({"data": {"id": 13, "title": "Hello world"}}));
    app.assert_database_has(
        "posts",
        &json!({"id": 13, "user_id": 1, "title": "Hello world", "deleted_at": null}),
    )
    .await;
    app.get_json("/api/posts/13", &())
        .await
        .assert_ok()
        .assert_json_path("data.author.id", &json!(1));
}

#[tokio::test]
async fn updating_validates_and_answers_404_for_unknown_posts() {
    let app = seeded().await;
    let input = json!({"user_id": 2, "title": "Renamed", "body": "New body, long enough."});
    app.put_json("/api/posts/1", &input)
        .await
        .assert_ok()
        .assert_json(&json!({"data": {"id": 1, "title": "Renamed"}}));
    app.assert_database_has("posts", &json!({"id": 1, "user_id": 2, "title": "Renamed"}))
        .await;
    app.patch_json(
        "/api/posts/1",
        &json!({"user_id": 2, "title": "Re", "body": "New body, long enough."}),
    )
    .await
    .assert_unprocessable()
    .assert_json_validation_errors(["title"])
    .assert_json_missing_validation_errors(["user_id", "body"]);
    app.assert_database_missing("posts", &json!({"title": "Re"}))
        .await;
    app.patch_json("/api/posts/404", &input)
        .await
        .assert_not_found();
    app.put_json("/api/posts/abc", &input)
        .await
        .assert_not_found();
}

#[tokio::test]
async fn deleting_moves_a_post_to_the_trash() {
    let app = seeded().await;
    app.delete_json("/api/posts/1", &json!({}))
        .await
        .assert_no_content();
    app.assert_soft_deleted("posts", &json!({"id": 1})).await;
    app.assert_not_soft_deleted("posts", &json!({"id": 2}))
        .await;
    app.get_json("/api/posts/1", &()).await.assert_not_found();
    app.delete("/api/posts/1").await.assert_not_found();
    app.delete("/api/posts/999").await.assert_not_found();
    // Eleven posts left: a full first page and one on the second.
    app.get_json("/api/posts", &[("page", "2")])
        .await
        .assert_json_count(1, "data")
        .assert_json_path("data.0.id", &json!(2));
    let trashed = Post::query(&app.db())
        .with_trashed()
        .find(1)
        .await
        .unwrap()
        .unwrap();
    app.assert_model_exists(&trashed).await;
}

#[tokio::test]
async fn html_pages_list_posts_and_show_comments_escaped() {
    let app = seeded().await;
    let input = json!({"user_id": 1, "title": "<script>alert(1)</script>", "body": "Body with <b>tags</b> inside."});
    app.post_json("/api/posts", &input).await.assert_created();

    let list = app.with_header("Accept", "text/html").get("/posts").await;
    list.assert_ok()
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_see("Posts")
        // `assert_see` escapes what it looks for: the title is shown escaped…
        .assert_see("<script>alert(1)</script>")
        .assert_see_html("/posts?page=2");
    // …and never raw.
    assert!(!list.text().contains("<script>"), "{}", list.text());
    app.with_header("Accept", "text/html")
        .get("/posts?page=2")
        .await
        .assert_ok()
        .assert_see_html("/posts/1");

    app.with_header("Accept", "text/html")
        .get("/posts/13")
        .await
        .assert_ok()
        .assert_see("<script>alert(1)</script>")
        .assert_see("Body with <b>tags</b> inside.");

    // Post 3's page shows each of its comments.
    let post = Post::query(&app.db()).find(3).await.unwrap().unwrap();
    let comments = Comment::query(&app.db())
        .where_eq(Comment::COL_POST_ID, 3)
        .get()
        .await
        .unwrap();
    assert_eq!(comments.len(), 3);
    let page = app.with_header("Accept", "text/html").get("/posts/3").await;
    page.assert_ok().assert_see(&post.title);
    for comment in &comments {
        page.assert_see(&comment.body);
    }

    // Pages share the layout; the blog's own 404 page (resources/views/errors/404.html) too,
    // with the request id.
    page.assert_see_html("<nav><a href=\"/posts\">Posts</a>");
    let missing = app
        .with_header("Accept", "text/html")
        .get("/posts/999")
        .await;
    missing
        .assert_not_found()
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_see("Nothing lives at this address")
        .assert_see_html("<nav>");
    let request_id = missing.header("x-request-id").unwrap();
    missing.assert_see(&request_id);
    app.with_header("Accept", "text/html")
        .get("/posts/abc")
        .await
        .assert_not_found();
}

#[tokio::test]
async fn the_atom_feed_lists_the_newest_posts_escaped_with_absolute_links() {
    let app = seeded().await;
    let author = User::query(&app.db()).first().await.unwrap().unwrap();
    let mut newest = Post::create(
        &app.db(),
        json!({"user_id": author.id, "title": "Tips & <tricks>", "body": "x".repeat(300)}),
    )
    .await
    .unwrap();
    let response = app.get("/feed.xml").await;
    response
        .assert_ok()
        .assert_header("content-type", "application/atom+xml; charset=utf-8");
    let xml = response.text();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"), "{xml}");
    assert!(xml.contains("<title>RustForge Blog</title>"), "{xml}");
    assert!(
        xml.contains("<link rel=\"self\" href=\"http://127.0.0.1:8000/feed.xml\"/>"),
        "{xml}"
    );
    // 12 seeded posts and the new one, newest first; markup in a title is escaped.
    let entries: Vec<&str> = xml.split("<entry>").skip(1).collect();
    assert_eq!(entries.len(), 13, "{xml}");
    assert!(
        entries[0].contains("<title>Tips &amp; &lt;tricks&gt;</title>"),
        "{xml}"
    );
    let url = format!("http://127.0.0.1:8000/posts/{}", newest.id);
    assert!(entries[0].contains(&format!("<id>{url}</id>")), "{xml}");
    assert!(
        entries[0].contains(&format!("<summary>{}…</summary>", "x".repeat(200))),
        "a long body is cut to 200 characters: {xml}"
    );
    // A trashed post leaves the feed.
    newest.delete(&app.db()).await.unwrap();
    let xml = app.get("/feed.xml").await.assert_ok().text();
    assert_eq!(xml.matches("<entry>").count(), 12, "{xml}");
    assert!(!xml.contains("tricks"), "{xml}");
}

#[tokio::test]
async fn the_feed_of_a_blog_without_posts_is_valid_and_empty() {
    let app = TestApp::boot::<blog::Blog>().await;
    let xml = app.get("/feed.xml").await.assert_ok().text();
    assert!(
        xml.ends_with("</feed>\n") || xml.ends_with("</feed>"),
        "{xml}"
    );
    assert!(!xml.contains("<entry>"), "{xml}");
    assert!(xml.contains("<updated>"), "the feed still says when: {xml}");
}
