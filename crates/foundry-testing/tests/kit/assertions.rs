//! Response assertions: they pass on the right response, and a failure names the request,
//! the status and the body, with a diff for JSON.

use std::panic::{AssertUnwindSafe, catch_unwind};

use foundry_testing::prelude::*;

use crate::support::NotesApp;

/// The panic message of `assertion`, which must fail.
fn failure(assertion: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(assertion)).expect_err("the assertion should fail");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .expect("a text panic")
}

async fn app_with_two_notes() -> TestApp {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    for title in ["First", "Second"] {
        app.post_json("/notes", &json!({"title": title}))
            .await
            .assert_created();
    }
    app
}

#[tokio::test]
async fn json_assertions_pass_on_matching_bodies() {
    let app = app_with_two_notes().await;
    let response = app.get("/notes").await;
    response
        .assert_ok()
        .assert_successful()
        .assert_header("content-type", "application/json")
        .assert_json(&json!({"data": [{"title": "First"}]}))
        .assert_json_path("data.1.title", &json!("Second"))
        .assert_json_path("data.0.id", &json!(1.0))
        .assert_json_count(2, "data")
        .assert_json_structure(&json!({"data": {"*": ["id", "title", "body", "created_at"]}}));
    assert_eq!(response.status(), 200);
    assert_eq!(response.json()["data"][0]["title"], "First");
    assert_eq!(response.json_path("data.1.id"), Some(json!(2)));
    assert!(response.text().starts_with("{\"data\":["));
    assert_eq!(response.request_line(), "GET /notes");
}

#[tokio::test]
async fn validation_errors_are_asserted_by_field() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let response = app.post_json("/notes", &json!({"title": "x"})).await;
    response
        .assert_unprocessable()
        .assert_client_error()
        .assert_json_validation_errors(["title"])
        .assert_json_missing_validation_errors(["body"]);
    let message = failure(|| {
        response.assert_json_validation_errors(["title", "body"]);
    });
    assert!(
        message
            .contains("expected validation errors for [body]; the response has errors for [title]"),
        "{message}"
    );
}

#[tokio::test]
async fn a_failing_status_shows_the_request_status_and_body() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let response = app.post_json("/notes", &json!({})).await;
    let message = failure(|| {
        response.assert_created();
    });
    assert!(
        message.contains("expected status 201 Created, got 422 Unprocessable Entity"),
        "{message}"
    );
    assert!(message.contains("request:  POST /notes"), "{message}");
    assert!(
        message.contains("status:   422 Unprocessable Entity"),
        "{message}"
    );
    assert!(
        message.contains("\"The title field is required.\""),
        "the body, pretty: {message}"
    );
}

#[tokio::test]
async fn a_failing_json_subset_shows_a_diff() {
    let app = app_with_two_notes().await;
    let response = app.get("/notes/1").await;
    let message = failure(|| {
        response.assert_json(&json!({"data": {"title": "Frist", "extra": true}}));
    });
    assert!(message.contains("request:  GET /notes/1"), "{message}");
    assert!(message.contains("status:   200 OK"), "{message}");
    assert!(
        message.contains("data.title: expected \"Frist\", got \"First\""),
        "{message}"
    );
    assert!(
        message.contains("data.extra: missing, expected true"),
        "{message}"
    );
    assert!(
        message.contains("diff (- expected, + actual):"),
        "{message}"
    );
    assert!(message.contains("-     \"title\": \"Frist\""), "{message}");
    assert!(message.contains("+     \"title\": \"First\""), "{message}");
    // The diff shows only what was asked about: the id is in the body, not in the diff.
    let diff = &message[message.find("diff (").unwrap()..];
    assert!(!diff.contains("\"id\""), "{diff}");
}

#[tokio::test]
async fn exact_json_paths_counts_and_structures_fail_with_reasons() {
    let app = app_with_two_notes().await;
    let response = app.get("/notes").await;
    let exact = failure(|| {
        response.assert_exact_json(&json!({"data": []}));
    });
    assert!(
        exact.contains("data: expected 0 element(s), got 2"),
        "{exact}"
    );
    let path = failure(|| {
        response.assert_json_path("data.0.title", &json!("Second"));
    });
    assert!(
        path.contains("data.0.title: expected \"Second\", got \"First\""),
        "{path}"
    );
    let nothing = failure(|| {
        response.assert_json_path("data.7.title", &json!("x"));
    });
    assert!(
        nothing.contains("the JSON has nothing at path `data.7.title`"),
        "{nothing}"
    );
    let count = failure(|| {
        response.assert_json_count(3, "data");
    });
    assert!(
        count.contains("expected 3 element(s) at `data`, got 2"),
        "{count}"
    );
    let structure = failure(|| {
        response.assert_json_structure(&json!({"data": {"*": ["id", "slug"]}, "meta": []}));
    });
    assert!(structure.contains("data.0.slug: missing"), "{structure}");
    assert!(structure.contains("data.1.slug: missing"), "{structure}");
    assert!(structure.contains("meta: missing"), "{structure}");
}

#[tokio::test]
async fn html_headers_and_redirects() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let page = app.get("/page").await;
    page.assert_ok()
        .assert_see("Tom & Jerry")
        .assert_see_text("Tom & Jerry First Second")
        .assert_see_html("<h1>Tom &amp; Jerry</h1>")
        .assert_see_in_order(["First", "Second"])
        .assert_dont_see("Spike");
    let unseen = failure(|| {
        page.assert_see("Spike");
    });
    assert!(
        unseen.contains("expected to see \"Spike\" in the body"),
        "{unseen}"
    );
    assert!(
        unseen.contains("<h1>Tom &amp; Jerry</h1>"),
        "the body is shown: {unseen}"
    );
    let order = failure(|| {
        page.assert_see_in_order(["Second", "First"]);
    });
    assert!(order.contains("expected to see \"First\" after"), "{order}");

    let redirect = app.get("/old").await;
    redirect.assert_redirect("/page").assert_status(303);
    let wrong = failure(|| {
        redirect.assert_redirect("/elsewhere");
    });
    assert!(
        wrong.contains("expected a redirect to `/elsewhere`, got one to `/page`"),
        "{wrong}"
    );
    let not_redirect = failure(|| {
        page.assert_redirect("/page");
    });
    assert!(not_redirect.contains("got status 200 OK"), "{not_redirect}");
    let header = failure(|| {
        page.assert_header("x-frame-options", "DENY");
    });
    assert!(
        header
            .contains("expected header `x-frame-options: DENY`, got `x-frame-options: SAMEORIGIN`"),
        "{header}"
    );
}

#[tokio::test]
async fn bodies_in_failures_are_cut() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    let long = "x".repeat(10_000);
    app.post_json("/notes", &json!({"title": long}))
        .await
        .assert_created();
    let response = app.get("/notes").await;
    let message = failure(|| {
        response.assert_not_found();
    });
    assert!(message.contains("more bytes)"), "{message}");
    assert!(message.len() < 6_000, "{} bytes", message.len());
}

#[tokio::test]
#[should_panic(expected = "request:  DELETE /notes/42")]
async fn should_panic_sees_the_request() {
    let app = TestApp::builder::<NotesApp>().sqlite().boot().await;
    app.delete("/notes/42").await.assert_no_content();
}
