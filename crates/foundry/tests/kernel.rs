//! The kernel end to end, without a socket: boot, services, error rendering.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use foundry::config::ConfigLoader;
use foundry::prelude::*;
use foundry::{BootError, BoxFuture, Kernel, ServicesBuilder};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct TestApp;

/// Counts how many instances were built, per lifetime.
struct Built {
    scoped: AtomicUsize,
    transient: AtomicUsize,
}

struct SingletonThing(usize);
struct ScopedThing(usize);
struct TransientThing(usize);

struct TestProvider;

impl ServiceProvider for TestProvider {
    fn register(&self, services: &mut ServicesBuilder, _config: &Config) -> Result<()> {
        let built = Arc::new(Built {
            scoped: AtomicUsize::new(0),
            transient: AtomicUsize::new(0),
        });
        services.singleton(SingletonThing(1));
        let counter = built.clone();
        services.scoped(move |_| {
            Ok(ScopedThing(
                counter.scoped.fetch_add(1, Ordering::SeqCst) + 1,
            ))
        });
        let counter = built.clone();
        services.transient(move |_| {
            Ok(TransientThing(
                counter.transient.fetch_add(1, Ordering::SeqCst) + 1,
            ))
        });
        services.singleton(built);
        Ok(())
    }
}

async fn lifetimes(
    Service(single): Service<SingletonThing>,
    Service(scoped_a): Service<ScopedThing>,
    Service(scoped_b): Service<ScopedThing>,
    Service(transient_a): Service<TransientThing>,
    Service(transient_b): Service<TransientThing>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "singleton": single.0,
        "scoped_same": Arc::ptr_eq(&scoped_a, &scoped_b),
        "scoped": scoped_a.0,
        "transient": [transient_a.0, transient_b.0],
    }))
}

async fn missing(Service(_thing): Service<String>) -> &'static str {
    "unreachable"
}

async fn secret_failure() -> Result<&'static str> {
    Err(Error::internal(std::io::Error::other(
        "database password is hunter2",
    )))
}

async fn not_yours() -> Result<&'static str> {
    Err(Error::forbidden("You may not edit this post."))
}

#[derive(serde::Deserialize)]
struct NewPost {
    title: String,
}

async fn create_post(Json(post): Json<NewPost>) -> String {
    post.title
}

async fn own_body() -> (StatusCode, &'static str) {
    (StatusCode::CONFLICT, "handler's own body")
}

impl App for TestApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/lifetimes", lifetimes)
            .get("/missing", missing)
            .get("/fail", secret_failure)
            .get("/forbidden", not_yours)
            .get("/own", own_body)
            .group(
                |g| g.prefix("/api").middleware("api"),
                |r| {
                    r.get("/fail", secret_failure)
                        .get("/forbidden", not_yours)
                        .post("/posts", create_post)
                },
            )
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(TestProvider)]
    }
}

async fn boot_with(vars: &[(&str, &str)]) -> Kernel {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(vars.iter().copied())
        .load()
        .unwrap();
    Kernel::boot::<TestApp>(config).await.unwrap()
}

async fn call(
    kernel: &Kernel,
    method: &str,
    path: &str,
    accept: Option<&str>,
) -> (StatusCode, http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let response = kernel
        .service()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

const JSON: Option<&str> = Some("application/json");
const BROWSER: Option<&str> =
    Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

#[tokio::test]
async fn service_lifetimes_through_the_extractor() {
    let kernel = boot_with(&[("FOUNDRY_ENV", "testing")]).await;
    let (status, _, first) = call(&kernel, "GET", "/lifetimes", None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["singleton"], 1);
    assert_eq!(
        first["scoped_same"], true,
        "one scoped instance per request"
    );
    assert_eq!(first["scoped"], 1);
    assert_eq!(
        first["transient"],
        serde_json::json!([1, 2]),
        "a new transient per resolution"
    );

    let (_, _, second) = call(&kernel, "GET", "/lifetimes", None).await;
    let second: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert_eq!(
        second["scoped"], 2,
        "the next request gets a new scoped instance"
    );
    assert_eq!(second["transient"], serde_json::json!([3, 4]));
}

#[tokio::test]
async fn an_unbound_service_is_a_500_that_names_the_type_only_in_debug() {
    let quiet = boot_with(&[("FOUNDRY_ENV", "production")]).await;
    let (status, _, body) = call(&quiet, "GET", "/missing", JSON).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["message"], "Server Error");
    assert!(
        json["request_id"].is_string(),
        "server errors carry the request id: {body}"
    );
    assert!(json.get("error_chain").is_none(), "{body}");

    let debug = boot_with(&[("FOUNDRY_ENV", "local")]).await;
    let (_, _, body) = call(&debug, "GET", "/missing", JSON).await;
    assert!(
        body.contains("no service is bound for type `alloc::string::String`"),
        "{body}"
    );
}

#[tokio::test]
async fn errors_render_as_json_for_json_clients_and_html_for_browsers() {
    let kernel = boot_with(&[("FOUNDRY_ENV", "production")]).await;

    let (status, headers, body) = call(&kernel, "GET", "/forbidden", JSON).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(body, r#"{"message":"You may not edit this post."}"#);

    let (status, headers, body) = call(&kernel, "GET", "/forbidden", BROWSER).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.starts_with("<!doctype html>"), "{body}");
    assert!(body.contains("You may not edit this post."), "{body}");

    // No Accept header at all (curl): HTML outside the api group …
    let (_, headers, _) = call(&kernel, "GET", "/forbidden", None).await;
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    // … and JSON inside it, even for a browser.
    let (status, headers, body) = call(&kernel, "GET", "/api/forbidden", BROWSER).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(body, r#"{"message":"You may not edit this post."}"#);
}

#[tokio::test]
async fn internal_details_show_only_in_debug_mode() {
    let production = boot_with(&[("FOUNDRY_ENV", "production")]).await;
    for accept in [JSON, BROWSER] {
        let (status, _, body) = call(&production, "GET", "/fail", accept).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("Server Error"), "{body}");
        assert!(!body.contains("hunter2"), "nothing internal leaks: {body}");
    }

    let local = boot_with(&[("FOUNDRY_ENV", "local")]).await;
    let (_, _, body) = call(&local, "GET", "/fail", JSON).await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["message"], "Server Error");
    assert_eq!(json["error_chain"][1], "database password is hunter2");
    let (_, _, html) = call(&local, "GET", "/fail", BROWSER).await;
    assert!(
        html.contains("Error chain (debug mode)") && html.contains("hunter2"),
        "{html}"
    );

    // Debug can be switched off in local, too.
    let quiet_local = boot_with(&[("FOUNDRY_ENV", "local"), ("FOUNDRY_APP__DEBUG", "false")]).await;
    let (_, _, body) = call(&quiet_local, "GET", "/fail", JSON).await;
    assert!(!body.contains("hunter2"), "{body}");
}

#[tokio::test]
async fn not_found_and_method_not_allowed_go_through_the_same_rendering() {
    let kernel = boot_with(&[("FOUNDRY_ENV", "production")]).await;
    let (status, _, body) = call(&kernel, "GET", "/no/such/page", JSON).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, r#"{"message":"Not Found"}"#);
    let (status, headers, body) = call(&kernel, "GET", "/no/such/page", BROWSER).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.contains("<p class=\"status\">404</p>"), "{body}");

    let (status, headers, body) = call(&kernel, "DELETE", "/forbidden", JSON).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        headers[header::ALLOW],
        "GET,HEAD",
        "the Allow header survives rendering"
    );
    assert_eq!(body, r#"{"message":"Method Not Allowed"}"#);
    let (_, _, body) = call(&kernel, "DELETE", "/forbidden", BROWSER).await;
    assert!(
        body.contains("Method Not Allowed") && body.contains("405"),
        "{body}"
    );
}

#[tokio::test]
async fn a_handlers_own_error_body_is_left_alone() {
    let kernel = boot_with(&[]).await;
    let (status, _, body) = call(&kernel, "GET", "/own", BROWSER).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, "handler's own body");
}

#[tokio::test]
async fn extractor_rejections_are_rendered_errors() {
    let kernel = boot_with(&[("FOUNDRY_ENV", "production")]).await;
    let post = |content_type: &str, body: &'static str| {
        Request::post("/api/posts")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let read = |response: axum::response::Response| async move {
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    };
    let (status, body) = read(
        kernel
            .service()
            .oneshot(post("application/json", r#"{"title":"Hi"}"#))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Hi"));
    let (status, body) = read(
        kernel
            .service()
            .oneshot(post("application/json", "{"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with(r#"{"message":"Failed to parse the request body as JSON"#),
        "{body}"
    );
    let (status, body) = read(
        kernel
            .service()
            .oneshot(post("application/json", "{}"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("missing field `title`"), "{body}");
    let (status, body) = read(
        kernel
            .service()
            .oneshot(post("text/plain", "x"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(body.contains("Content-Type: application/json"), "{body}");
}

struct BrokenProvider;

impl ServiceProvider for BrokenProvider {
    fn name(&self) -> &'static str {
        "broken"
    }

    fn register(&self, _: &mut ServicesBuilder, _: &Config) -> Result<()> {
        Ok(())
    }

    fn boot<'a>(&'a self, _: &'a AppContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(Error::unavailable("mail server unreachable")) })
    }
}

struct BrokenApp;

impl App for BrokenApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/", || async { "x" })
            .middleware("no-such-middleware")
    }
}

struct BrokenBootApp;

impl App for BrokenBootApp {
    fn routes(routes: Routes) -> Routes {
        routes
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(BrokenProvider)]
    }
}

#[tokio::test]
async fn boot_failures_say_who_failed_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        ConfigLoader::new(dir.path())
            .vars(Vec::<(String, String)>::new())
            .load()
            .unwrap()
    };
    let err = Kernel::boot::<BrokenBootApp>(config()).await.unwrap_err();
    assert!(matches!(err, BootError::Provider { phase: "boot", .. }));
    assert_eq!(
        err.to_string(),
        "service provider `broken` failed to boot: mail server unreachable"
    );

    let err = Kernel::boot::<BrokenApp>(config()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unknown middleware `no-such-middleware` on route GET /"),
        "{text}"
    );
}

/// Binds its own validation settings: German messages, no presence verifier.
struct GermanValidation;

impl ServiceProvider for GermanValidation {
    fn register(&self, services: &mut ServicesBuilder, _: &Config) -> Result<()> {
        services.singleton(foundry::validation::ValidationSettings {
            locale: Some("de".into()),
            ..Default::default()
        });
        Ok(())
    }
}

struct GermanApp;

impl App for GermanApp {
    fn routes(routes: Routes) -> Routes {
        routes
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(GermanValidation)]
    }
}

#[tokio::test]
async fn validation_settings_are_bound_at_boot_unless_the_app_binds_its_own() {
    use foundry::validation::ValidationSettings;
    let settings_of = |kernel: &Kernel| {
        kernel
            .context()
            .services()
            .get::<ValidationSettings>()
            .unwrap()
    };
    // The kernel's: with a database, it counts rows for `unique` and `exists`.
    let kernel = boot_with(&[("FOUNDRY_DATABASE__URL", "sqlite::memory:")]).await;
    assert!(settings_of(&kernel).presence_verifier.is_some());
    assert_eq!(settings_of(&kernel).locale, None);
    // Without one there is no verifier (such rules are then a server error).
    let kernel = boot_with(&[]).await;
    assert!(settings_of(&kernel).presence_verifier.is_none());

    // A provider's own binding is kept as it is.
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let kernel = Kernel::boot::<GermanApp>(config).await.unwrap();
    let settings = settings_of(&kernel);
    assert!(settings.presence_verifier.is_none());
    assert_eq!(settings.locale.as_deref(), Some("de"));
}
