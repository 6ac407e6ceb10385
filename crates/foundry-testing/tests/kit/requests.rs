//! Requests: methods, JSON and form bodies, headers, the cookie jar, the acting user and
//! skipped middleware.

use foundry_testing::prelude::*;

use crate::support::{NotesApp, TestUser};

#[tokio::test]
async fn requests_reach_the_real_router_in_the_testing_environment() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    assert_eq!(
        app.ctx().config().environment(),
        foundry::Environment::Testing
    );
    app.get("/notes")
        .await
        .assert_ok()
        .assert_exact_json(&json!({"data": []}));
    app.get("/nowhere").await.assert_not_found();
    app.post("/page").await.assert_method_not_allowed();
    app.get("/health").await.assert_ok();
    // The global stack is there: security headers and a request id.
    let response = app.get("/page").await;
    response.assert_header("x-frame-options", "SAMEORIGIN");
    assert!(response.header("x-request-id").is_some());
}

#[tokio::test]
async fn json_and_form_bodies_and_query_strings() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.post_json("/notes", &json!({"title": "First", "body": "hello"}))
        .await
        .assert_created()
        .assert_header("location", "/notes/1")
        .assert_json(&json!({"data": {"id": 1, "title": "First"}}));
    app.put_json("/notes/1", &json!({}))
        .await
        .assert_method_not_allowed();
    app.patch_json("/notes/1", &json!({}))
        .await
        .assert_method_not_allowed();
    app.delete_json("/notes/1", &json!({}))
        .await
        .assert_no_content();
    app.delete("/notes/1").await.assert_not_found();
    app.post_form("/form", &[("title", "Formed"), ("body", "by a browser")])
        .await
        .assert_ok()
        .assert_exact_json(&json!({"title": "Formed", "body": "by a browser"}));
    let echoed = app.get_json("/echo", &[("page", "2")]).await;
    echoed
        .assert_ok()
        .assert_json_path("accept", &json!("application/json"));
    app.get_json("/notes", &()).await.assert_ok();
}

#[tokio::test]
async fn headers_are_per_request() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.with_header("X-Tenant", "acme")
        .with_header("Accept", "text/plain")
        .get("/echo")
        .await
        .assert_json(&json!({"tenant": "acme", "accept": "text/plain"}));
    app.get("/echo").await.assert_json(&json!({"tenant": null}));
}

#[tokio::test]
async fn the_cookie_jar_keeps_cookies_across_requests() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.get("/echo").await.assert_json(&json!({"cookie": null}));
    app.get("/cookies/set").await.assert_ok();
    assert_eq!(app.cookie("flavor").as_deref(), Some("oatmeal"));
    app.get("/echo")
        .await
        .assert_json(&json!({"cookie": "flavor=oatmeal"}));
    app.with_cookie("theme", "dark");
    app.get("/echo")
        .await
        .assert_json(&json!({"cookie": "flavor=oatmeal; theme=dark"}));
    app.get("/cookies/forget").await.assert_ok();
    app.get("/echo")
        .await
        .assert_json(&json!({"cookie": "theme=dark"}));
    app.clear_cookies();
    app.get("/echo").await.assert_json(&json!({"cookie": null}));
}

#[tokio::test]
async fn acting_as_puts_the_user_in_request_extensions() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.get("/whoami")
        .await
        .assert_exact_json(&json!({"user": null}));
    app.acting_as(TestUser { name: "Ada".into() });
    app.get("/whoami")
        .await
        .assert_exact_json(&json!({"user": "Ada"}));
    app.request()
        .acting_as(TestUser {
            name: "Grace".into(),
        })
        .get("/whoami")
        .await
        .assert_exact_json(&json!({"user": "Grace"}));
    app.acting_as_guest();
    app.get("/whoami")
        .await
        .assert_exact_json(&json!({"user": null}));
}

#[tokio::test]
async fn route_middleware_can_be_skipped_by_name_or_group_or_all() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.get("/guarded")
        .await
        .assert_forbidden()
        .assert_see("denied by middleware");
    for app in [
        TestApp::builder::<NotesApp>()
            .sqlite()
            .without_middleware(["deny"])
            .boot()
            .await,
        TestApp::builder::<NotesApp>()
            .sqlite()
            .without_middleware(["guarded"])
            .boot()
            .await,
        TestApp::builder::<NotesApp>()
            .sqlite()
            .without_route_middleware()
            .boot()
            .await,
    ] {
        app.get("/guarded").await.assert_ok().assert_see("secret");
    }
    let err = TestApp::builder::<NotesApp>()
        .sqlite()
        .without_middleware(["nope"])
        .try_boot()
        .await
        .unwrap_err();
    assert!(err.contains("no middleware named `nope`"), "{err}");
    assert!(err.contains("deny"), "lists the registered names: {err}");
}

#[tokio::test]
async fn the_optional_global_layers_can_be_turned_off() {
    let app = TestApp::builder::<NotesApp>()
        .sqlite()
        .without_global_middleware()
        .boot()
        .await;
    let response = app.get("/page").await;
    response
        .assert_ok()
        .assert_header_missing("x-frame-options");
    response.assert_header_missing("x-request-id");
    // Error rendering stays: a 404 is still the framework's JSON.
    app.get_json("/nowhere", &())
        .await
        .assert_not_found()
        .assert_exact_json(&json!({"message": "Not Found"}));
}

#[tokio::test]
async fn configuration_comes_from_the_files_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[app]\nname = \"From toml\"\n[database]\nurl = \"sqlite:///nonexistent/dir/never.sqlite\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("foundry.testing.toml"),
        "[app]\nurl = \"http://testing.test\"\n",
    )
    .unwrap();
    let app = TestApp::builder::<NotesApp>()
        .sqlite()
        .root(dir.path())
        .var("FOUNDRY_SERVER__PORT", "9123")
        .boot()
        .await;
    let config = app.ctx().config();
    assert_eq!(config.app().name, "From toml");
    assert_eq!(config.app().url, "http://testing.test");
    let server: foundry::config::ServerConfig = config.section("server").unwrap();
    assert_eq!(server.port, 9123);
    // The database URL from the file is replaced by the test's own database.
    app.post_json("/notes", &json!({"title": "isolated"}))
        .await
        .assert_created();
    app.assert_database_count("notes", 1).await;
}

/// An app whose migration is not valid SQL.
struct BrokenApp;

struct BrokenMigration;

impl foundry::db::migrate::Migration for BrokenMigration {
    fn name(&self) -> &str {
        "2026_01_01_000000_broken"
    }
    fn up(&self, schema: &mut foundry::db::schema::Schema) {
        schema.raw("CREATE TABLE (this is not sql");
    }
    fn down(&self, _schema: &mut foundry::db::schema::Schema) {}
}

impl foundry::App for BrokenApp {
    fn routes(routes: foundry::Routes) -> foundry::Routes {
        routes
    }
    fn migrations() -> Vec<std::sync::Arc<dyn foundry::db::migrate::Migration>> {
        vec![std::sync::Arc::new(BrokenMigration)]
    }
}

#[tokio::test]
async fn an_app_that_cannot_boot_says_why() {
    let err = TestApp::builder::<BrokenApp>()
        .sqlite()
        .try_boot()
        .await
        .unwrap_err();
    assert!(err.contains("the migrations failed"), "{err}");
    assert!(err.contains("2026_01_01_000000_broken"), "{err}");
    let panic = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
        TestApp::builder::<BrokenApp>().sqlite().boot(),
    ))
    .await
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with(
            "TestApp::boot::<kit::requests::BrokenApp>() failed: the migrations failed"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn an_app_without_a_database_boots_without_one() {
    struct Plain;
    impl foundry::App for Plain {
        fn routes(routes: foundry::Routes) -> foundry::Routes {
            routes.get("/", || async { "plain" })
        }
    }
    let app = TestApp::builder::<Plain>().sqlite().boot().await;
    app.get("/").await.assert_ok().assert_see("plain");
    assert!(app.database().is_none());
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.db())).unwrap_err();
    let message = panic.downcast_ref::<&str>().unwrap();
    assert!(message.contains("this app has no database"), "{message}");
}
