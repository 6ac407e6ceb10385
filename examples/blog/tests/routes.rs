//! The blog's pages and endpoints other than posts, booted by foundry-testing.

use foundry_testing::prelude::*;

#[tokio::test]
async fn welcome_page_is_html_with_the_tagline_service() {
    let app = TestApp::boot::<blog::Blog>().await;
    app.with_header("Accept", "text/html")
        .get("/")
        .await
        .assert_ok()
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_see("RustForge Blog")
        .assert_see("RustForge Blog runs on RustForge");
}

#[tokio::test]
async fn status_and_hello_are_json() {
    let app = TestApp::boot::<blog::Blog>().await;
    app.get("/api/status")
        .await
        .assert_ok()
        .assert_header("content-type", "application/json")
        .assert_json(&json!({"app": "RustForge Blog", "environment": "testing"}));
    app.get("/api/hello")
        .await
        .assert_ok()
        .assert_exact_json(&json!({"message": "Hello, World!"}));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::boot::<blog::Blog>().await;
    app.get("/health").await.assert_ok();
    app.get("/ready").await.assert_ok();
}

#[tokio::test]
async fn api_errors_are_json_and_web_errors_are_html() {
    let app = TestApp::boot::<blog::Blog>().await;
    app.with_header("Accept", "text/html")
        .get("/api/missing")
        .await
        .assert_not_found()
        // Unmatched paths belong to no group.
        .assert_header("content-type", "text/html; charset=utf-8");
    app.get_json("/missing/1", &())
        .await
        .assert_not_found()
        .assert_header("content-type", "application/json")
        .assert_exact_json(&json!({"message": "Not Found"}));

    // A wrong method on an api route is JSON even for a browser: the route is in the group.
    app.with_header("Accept", "text/html")
        .post("/api/status")
        .await
        .assert_method_not_allowed()
        .assert_header("content-type", "application/json")
        .assert_exact_json(&json!({"message": "Method Not Allowed"}));
    app.with_header("Accept", "text/html")
        .post("/")
        .await
        .assert_method_not_allowed()
        .assert_header("content-type", "text/html; charset=utf-8");
}

#[tokio::test]
async fn the_slow_demo_route_sleeps_outside_production() {
    let app = TestApp::boot::<blog::Blog>().await;
    app.get_json("/_demo/slow", &[("ms", "1")])
        .await
        .assert_ok()
        .assert_exact_json(&json!({"slept_ms": 1}));
    // A bad query is a 400, rendered as JSON by the `api` group.
    app.get("/_demo/slow?ms=soon")
        .await
        .assert_bad_request()
        .assert_header("content-type", "application/json");
}

#[tokio::test]
async fn the_slow_demo_route_does_not_exist_in_production() {
    let app = TestApp::builder::<blog::Blog>()
        .environment(foundry::Environment::Production)
        .var(
            "FOUNDRY_APP__KEY",
            "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .boot()
        .await;
    app.get_json("/_demo/slow", &[("ms", "1")])
        .await
        .assert_not_found();
}
