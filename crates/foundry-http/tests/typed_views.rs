//! Typed views: askama templates compiled at build time, answered through `View::template`.

use std::fmt;

use axum::response::IntoResponse;
use foundry_http::views::{Template, View, ViewError};
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;

struct Post {
    id: i64,
    title: String,
    draft: bool,
}

/// A page with a layout (`extends`), a loop and a condition.
#[derive(Template)]
#[template(path = "posts.html", askama = foundry_http::views::askama)]
struct PostsPage<'a> {
    title: &'a str,
    posts: &'a [Post],
}

async fn body_of(view: View) -> (StatusCode, http::HeaderMap, String) {
    let response = view.into_response();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_typed_view_renders_its_layout_loop_and_conditions_as_html() {
    let posts = [
        Post {
            id: 1,
            title: "First".into(),
            draft: false,
        },
        Post {
            id: 2,
            title: "Second".into(),
            draft: true,
        },
    ];
    let view = View::template(&PostsPage {
        title: "Posts",
        posts: &posts,
    })
    .unwrap();
    let (status, headers, body) = body_of(view).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(
        body.trim_end(),
        "<!DOCTYPE html><html><head><title>Posts</title></head><body>\
         <ul><li id=\"1\">First</li><li id=\"2\">Second (draft)</li></ul></body></html>"
    );
}

#[tokio::test]
async fn typed_views_escape_html_as_the_interpreted_engine_does() {
    let posts = [Post {
        id: 7,
        title: r#"<script>alert("x")</script> & 'quotes' / slashes"#.into(),
        draft: false,
    }];
    let title = "Tom & Jerry";
    let view = View::template(&PostsPage {
        title,
        posts: &posts,
    })
    .unwrap();
    let expected_title = foundry_http::render::escape(title);
    let expected_post = foundry_http::render::escape(&posts[0].title);
    assert_eq!(
        expected_post,
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; / slashes"
    );
    assert!(
        view.body()
            .contains(&format!("<title>{expected_title}</title>")),
        "{}",
        view.body()
    );
    assert!(
        view.body()
            .contains(&format!("<li id=\"7\">{expected_post}</li>")),
        "{}",
        view.body()
    );
}

#[tokio::test]
async fn status_and_headers_can_be_changed_and_the_content_type_overridden() {
    #[derive(Template)]
    #[template(source = "name,age\n{{ name }},{{ age }}", ext = "txt", askama = foundry_http::views::askama)]
    struct Csv<'a> {
        name: &'a str,
        age: u32,
    }
    let view = View::template(&Csv {
        name: "Ada <L>",
        age: 36,
    })
    .unwrap()
    .status(StatusCode::CREATED)
    .header(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    let (status, headers, body) = body_of(view).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers.get_all(header::CONTENT_TYPE).iter().count(), 1);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv");
    assert_eq!(
        body, "name,age\nAda <L>,36",
        "`.txt` templates are not escaped"
    );
}

#[test]
fn a_failing_render_is_a_render_error_naming_the_view_type() {
    /// A value whose formatting fails, as a broken `Display` would.
    struct Broken;
    impl fmt::Display for Broken {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }
    #[derive(Template)]
    #[template(source = "<p>{{ value }}</p>", ext = "html", askama = foundry_http::views::askama)]
    struct Page {
        value: Broken,
    }
    let err = View::template(&Page { value: Broken }).unwrap_err();
    assert!(matches!(err, ViewError::Render { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("Page"), "{message}");
    let err: foundry_core::Error = err.into();
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
