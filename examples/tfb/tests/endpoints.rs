//! Every TechEmpower endpoint through the real app (routes, groups, the global stack), on a
//! fresh database per test: SQLite, or PostgreSQL when `FOUNDRY_TEST_DATABASE_URL` is set.

use std::collections::HashSet;

use foundry::db::seed::Seeder;
use foundry::db::{Db, ModelExt};
use foundry_testing::prelude::*;
use tfb::models::{Fortune, World};
use tfb::seed::{DatabaseSeeder, FORTUNES, FortuneSeeder, WORLDS};

async fn seeded() -> TestApp {
    let app = TestApp::boot::<tfb::Tfb>().await;
    DatabaseSeeder
        .run(&app.db())
        .await
        .expect("the benchmark data seeds");
    app
}

/// The stored random number of world `id`.
async fn stored(db: &Db, id: i64) -> i32 {
    World::find_or_fail(db, id)
        .await
        .expect("the world exists")
        .random_number
}

/// Checks one `{"id","randomNumber"}` object against the database and returns its id.
async fn assert_world(db: &Db, world: &serde_json::Value) -> i64 {
    let object = world.as_object().expect("a world is an object");
    assert_eq!(object.len(), 2, "only id and randomNumber: {world}");
    let id = world["id"].as_i64().expect("an integer id");
    let number = world["randomNumber"]
        .as_i64()
        .expect("an integer randomNumber");
    assert!((1..=WORLDS).contains(&id), "{world}");
    assert!((1..=10_000).contains(&number), "{world}");
    assert_eq!(i64::from(stored(db, id).await), number, "{world}");
    id
}

#[tokio::test]
async fn json_and_plaintext_say_hello_with_a_server_header() {
    let app = TestApp::boot::<tfb::Tfb>().await;
    app.get("/json")
        .await
        .assert_ok()
        .assert_header("content-type", "application/json")
        .assert_header("server", "RustForge")
        .assert_exact_json(&json!({"message": "Hello, World!"}));
    let plain = app.get("/plaintext").await;
    plain
        .assert_ok()
        .assert_header("content-type", "text/plain; charset=utf-8")
        .assert_header("server", "RustForge");
    assert_eq!(plain.text(), "Hello, World!");
}

#[tokio::test]
async fn the_seeder_writes_ten_thousand_worlds_and_the_twelve_fortunes() {
    let app = seeded().await;
    let db = app.db();
    app.assert_database_count("world", WORLDS).await;
    app.assert_database_count("fortune", 12).await;
    let numbers: Vec<i32> = db.table("world").pluck_as("random_number").await.unwrap();
    assert!(numbers.iter().all(|n| (1..=10_000).contains(n)));
    assert!(
        numbers.iter().collect::<HashSet<_>>().len() > 1_000,
        "the numbers are random, not one value"
    );
    let ids: Vec<i64> = db
        .table("world")
        .order_by_asc("id")
        .pluck_as("id")
        .await
        .unwrap();
    assert_eq!(ids, (1..=WORLDS).collect::<Vec<_>>());
    for (id, message) in FORTUNES {
        app.assert_database_has("fortune", &json!({"id": id, "message": message}))
            .await;
    }
}

#[tokio::test]
async fn db_is_one_random_world() {
    let app = seeded().await;
    let db = app.db();
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let response = app.get("/db").await;
        response
            .assert_ok()
            .assert_header("content-type", "application/json")
            .assert_header("server", "RustForge");
        ids.insert(assert_world(&db, &response.json()).await);
    }
    assert!(
        ids.len() > 1,
        "20 requests read more than one world: {ids:?}"
    );
}

#[tokio::test]
async fn a_missing_world_is_a_json_404_not_a_crash() {
    // Worlds not seeded: the random id finds nothing.
    let app = TestApp::boot::<tfb::Tfb>().await;
    app.get("/db")
        .await
        .assert_not_found()
        .assert_header("content-type", "application/json");
    app.get("/queries?queries=3").await.assert_not_found();
    app.get("/updates?queries=3").await.assert_not_found();
}

#[tokio::test]
async fn queries_reads_n_worlds_and_treats_bad_counts_as_one_or_caps_them_at_500() {
    let app = seeded().await;
    let db = app.db();
    let response = app.get("/queries?queries=20").await;
    response
        .assert_ok()
        .assert_header("content-type", "application/json")
        .assert_json_count(20, "");
    for world in response.json().as_array().unwrap() {
        assert_world(&db, world).await;
    }
    for (query, count) in [
        ("", 1),
        ("?queries=", 1),
        ("?queries=0", 1),
        ("?queries=-7", 1),
        ("?queries=foo", 1),
        ("?queries=2.5", 1),
        ("?queries=99999999999999999999", 1),
        ("?queries=1", 1),
        ("?queries=499", 499),
        ("?queries=500", 500),
        ("?queries=501", 500),
        ("?queries=100000", 500),
        ("?other=5", 1),
    ] {
        let response = app.get(&format!("/queries{query}")).await;
        response.assert_ok();
        let worlds = response.json();
        let worlds = worlds
            .as_array()
            .unwrap_or_else(|| panic!("{query}: a list"));
        assert_eq!(worlds.len(), count, "/queries{query}");
    }
}

#[tokio::test]
async fn updates_gives_n_distinct_worlds_new_numbers_and_stores_them() {
    let app = seeded().await;
    let db = app.db();
    let response = app.get("/updates?queries=20").await;
    response
        .assert_ok()
        .assert_header("content-type", "application/json")
        .assert_json_count(20, "");
    let worlds = response.json();
    let mut ids = HashSet::new();
    for world in worlds.as_array().unwrap() {
        // assert_world compares with the stored row: the new number was written.
        ids.insert(assert_world(&db, world).await);
    }
    assert_eq!(ids.len(), 20, "distinct worlds: {worlds}");
    app.get("/updates?queries=500")
        .await
        .assert_ok()
        .assert_json_count(500, "");
    for (query, count) in [
        ("", 1),
        ("?queries=abc", 1),
        ("?queries=0", 1),
        ("?queries=600", 500),
    ] {
        app.get(&format!("/updates{query}"))
            .await
            .assert_ok()
            .assert_json_count(count, "");
    }
    app.assert_database_count("world", WORLDS).await;
}

#[tokio::test]
async fn fortunes_are_sorted_escaped_utf8_html_with_the_one_added_at_request_time() {
    let app = TestApp::boot::<tfb::Tfb>().await;
    FortuneSeeder.run(&app.db()).await.unwrap();
    let response = app.get("/fortunes").await;
    response
        .assert_ok()
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_header("server", "RustForge");
    let html = response.text();
    assert!(
        html.starts_with("<!DOCTYPE html><html><head><title>Fortunes</title>"),
        "{html}"
    );
    assert!(html.ends_with("</table></body></html>"), "{html}");
    assert!(
        !html.contains("<script>"),
        "markup in a message is escaped: {html}"
    );
    assert!(html.contains(
        "<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr>"
    ), "{html}");
    assert!(
        html.contains("<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>"),
        "{html}"
    );
    assert!(html.contains("<tr><td>0</td><td>Additional fortune added at request time.</td></tr>"));
    assert!(
        html.contains("aren&#39;t broken."),
        "quotes are escaped too: {html}"
    );
    // 12 stored + 1 added, in message order (byte order, as Rust sorts strings).
    let ids: Vec<i64> = html
        .split("<tr><td>")
        .skip(1)
        .map(|row| row.split('<').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, [11, 4, 5, 2, 8, 0, 3, 7, 10, 6, 9, 1, 12], "{html}");
    // Nothing is cached: a fortune stored later appears on the next request.
    Fortune::force_create(
        &app.db(),
        json!({"id": 13, "message": "A new one & <b>bold</b>"}),
    )
    .await
    .unwrap();
    app.get("/fortunes")
        .await
        .assert_ok()
        .assert_see_html("<tr><td>13</td><td>A new one &amp; &lt;b&gt;bold&lt;/b&gt;</td></tr>");
}

#[tokio::test]
async fn validate_accepts_a_valid_signup() {
    let app = TestApp::boot::<tfb::Tfb>().await;
    app.post_json(
        "/validate",
        &json!({"name": "Ada Lovelace", "email": "ada@example.com", "age": 36}),
    )
    .await
    .assert_ok()
    .assert_header("server", "RustForge")
    .assert_exact_json(&json!({"ok": true}));
    app.post_json(
        "/validate",
        &json!({"name": "x".repeat(50), "email": "a@b.co", "age": 18}),
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn validate_answers_laravels_422_with_every_failed_field_in_rule_order() {
    let app = TestApp::boot::<tfb::Tfb>().await;
    app.post_json("/validate", &json!({}))
        .await
        .assert_unprocessable()
        .assert_header("content-type", "application/json")
        .assert_exact_json(&json!({
            "message": "The name field is required. (and 2 more errors)",
            "errors": {
                "name": ["The name field is required."],
                "email": ["The email field is required."],
                "age": ["The age field is required."],
            }
        }));
    let response = app
        .post_json(
            "/validate",
            &json!({"name": "x".repeat(51), "email": "not-an-email", "age": 17}),
        )
        .await;
    response.assert_unprocessable().assert_exact_json(&json!({
        "message": "The name field must not be greater than 50 characters. (and 2 more errors)",
        "errors": {
            "name": ["The name field must not be greater than 50 characters."],
            "email": ["The email field must be a valid email address."],
            "age": ["The age field must be at least 18."],
        }
    }));
    let keys: Vec<String> = response.json()["errors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(
        response.text().find("\"name\"") < response.text().find("\"age\""),
        "errors in rule order: {}",
        response.text()
    );
    // Wrong types are validation errors, not deserialization failures. As in Laravel, `min`
    // still runs on a non-integer (as a length, with the numeric message: the field has a
    // numeric rule).
    app.post_json(
        "/validate",
        &json!({"name": 42, "email": "ada@example.com", "age": "old"}),
    )
    .await
    .assert_unprocessable()
    .assert_exact_json(&json!({
        "message": "The name field must be a string. (and 2 more errors)",
        "errors": {
            "name": ["The name field must be a string."],
            "age": ["The age field must be an integer.", "The age field must be at least 18."],
        }
    }));
}

#[tokio::test]
async fn validate_rejects_a_body_that_is_not_json_with_a_clear_error() {
    let app = TestApp::boot::<tfb::Tfb>().await;
    let response = app
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json")
        .send_body(http::Method::POST, "/validate", b"{\"name\":".to_vec())
        .await;
    response.assert_client_error();
    assert!(
        response.json()["message"].is_string(),
        "a JSON message: {}",
        response.text()
    );
}
