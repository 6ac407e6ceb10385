//! The blog's routes through the real kernel, without a socket.

use axum::body::Body;
use foundry::Kernel;
use foundry::config::ConfigLoader;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn kernel(env: &str) -> Kernel {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ConfigLoader::new(root)
        .dotenv(false)
        .vars([
            ("FOUNDRY_ENV", env),
            ("FOUNDRY_DATABASE__URL", "sqlite::memory:"),
        ])
        .load()
        .unwrap();
    Kernel::boot::<blog::Blog>(config).await.unwrap()
}

async fn get(kernel: &Kernel, path: &str, accept: &str) -> (StatusCode, String, String) {
    send(kernel, "GET", path, accept).await
}

async fn send(
    kernel: &Kernel,
    method: &str,
    path: &str,
    accept: &str,
) -> (StatusCode, String, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap();
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn welcome_page_is_html_with_the_tagline_service() {
    let kernel = kernel("testing").await;
    let (status, content_type, body) = get(&kernel, "/", "text/html").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body.contains("<h1>RustForge Blog</h1>"), "{body}");
    assert!(body.contains("RustForge Blog runs on RustForge"), "{body}");
}

#[tokio::test]
async fn status_endpoint_is_json() {
    let kernel = kernel("testing").await;
    let (status, content_type, body) = get(&kernel, "/api/status", "*/*").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["app"], "RustForge Blog");
    assert_eq!(json["environment"], "testing");
}

#[tokio::test]
async fn api_errors_are_json_and_web_errors_are_html() {
    let kernel = kernel("testing").await;
    let (status, content_type, body) = get(&kernel, "/api/missing", "text/html").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        content_type, "text/html; charset=utf-8",
        "unmatched paths have no group: {body}"
    );
    let (status, content_type, body) = get(&kernel, "/missing/1", "application/json").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/json")
    );
    assert_eq!(body, r#"{"message":"Not Found"}"#);

    // A wrong method on an api route is JSON even for a browser: the route is in the group.
    let (status, content_type, body) = send(&kernel, "POST", "/api/status", "text/html").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "application/json")
    );
    assert_eq!(body, r#"{"message":"Method Not Allowed"}"#);
    let (status, content_type, _) = send(&kernel, "POST", "/", "text/html").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "text/html; charset=utf-8")
    );
}

#[tokio::test]
async fn the_slow_demo_route_does_not_exist_in_production() {
    let kernel = kernel("production").await;
    let (status, _, body) = get(&kernel, "/_demo/slow?ms=1", "application/json").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
