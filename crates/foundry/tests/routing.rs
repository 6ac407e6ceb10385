//! Named routes, URL generation, signed URLs, resources and method spoofing through the
//! booted kernel.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use foundry::config::ConfigLoader;
use foundry::http::Resource;
use foundry::prelude::*;
use foundry::{AppKey, Kernel};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct UrlApp;

async fn show(State(ctx): State<AppContext>, Path(post): Path<u64>) -> Result<String> {
    let next = ctx.urls().route("posts.show", [("post", post + 1)])?;
    Ok(format!("post {post}, next {next}"))
}

async fn update(Path(post): Path<u64>, body: String) -> String {
    format!("updated {post} with {body}")
}

async fn destroy(Path(post): Path<u64>) -> String {
    format!("deleted {post}")
}

async fn broken_link(State(ctx): State<AppContext>) -> Result<String> {
    Ok(ctx.urls().route("posts.shwo", [("post", 1)])?)
}

async fn unsubscribe(Path(user): Path<u64>) -> String {
    format!("unsubscribed {user}")
}

impl App for UrlApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .resource(
                "posts",
                Resource::new()
                    .show(show)
                    .update(update)
                    .destroy(destroy)
                    .where_number(),
            )
            .get("/broken", broken_link)
            .get("/unsubscribe/{user}", unsubscribe)
            .name("unsubscribe")
            .middleware("signed")
    }
}

async fn kernel() -> Kernel {
    let dir = tempfile::tempdir().unwrap();
    let key = AppKey::generate().unwrap().to_string();
    let config = ConfigLoader::new(dir.path())
        .vars([("FOUNDRY_ENV", "local"), ("FOUNDRY_APP__KEY", key.as_str())])
        .load()
        .unwrap();
    Kernel::boot::<UrlApp>(config).await.unwrap()
}

async fn send(kernel: &Kernel, request: Request<Body>) -> (StatusCode, String) {
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn handlers_build_urls_of_named_routes() {
    let kernel = kernel().await;
    assert_eq!(
        send(&kernel, get("/posts/4")).await,
        (StatusCode::OK, "post 4, next /posts/5".into())
    );
    assert_eq!(
        kernel
            .context()
            .urls()
            .route("posts.update", [("post", 9)])
            .unwrap(),
        "/posts/9"
    );
    let (status, body) = send(&kernel, get("/posts/four")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "numeric constraint: {body}");
    let (status, body) = send(&kernel, get("/broken")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("route [posts.shwo] not defined; did you mean [posts.show]?"),
        "{body}"
    );
}

#[tokio::test]
async fn signed_routes_accept_valid_signatures_only() {
    let kernel = kernel().await;
    let urls = kernel.context().urls();
    let signed = urls.signed_route("unsubscribe", [("user", 3)]).unwrap();
    assert_eq!(
        send(&kernel, get(&signed)).await,
        (StatusCode::OK, "unsubscribed 3".into())
    );

    let (status, body) = send(&kernel, get("/unsubscribe/3")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        r#"{"message":"Invalid signature.","error_chain":["Invalid signature.","invalid signature"]}"#
    );
    let tampered = signed.replace("/3?", "/4?");
    assert_eq!(send(&kernel, get(&tampered)).await.0, StatusCode::FORBIDDEN);

    let expired = urls
        .temporary_signed_route(
            "unsubscribe",
            [("user", 3)],
            SystemTime::now() - Duration::from_secs(1),
        )
        .unwrap();
    let (status, body) = send(&kernel, get(&expired)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("expired"), "the debug chain says why: {body}");
    let fresh = urls
        .temporary_signed_route(
            "unsubscribe",
            [("user", 3)],
            SystemTime::now() + Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(send(&kernel, get(&fresh)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn html_forms_spoof_put_and_delete() {
    let kernel = kernel().await;
    let form = |body: &'static str| {
        Request::post("/posts/2")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(
        send(&kernel, form("_method=PUT&title=x")).await,
        (StatusCode::OK, "updated 2 with _method=PUT&title=x".into())
    );
    assert_eq!(
        send(&kernel, form("_method=DELETE")).await,
        (StatusCode::OK, "deleted 2".into())
    );
    assert_eq!(
        send(&kernel, form("title=x")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}
