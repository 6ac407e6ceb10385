//! End to end: `foundry new` into a temporary directory, the generators, then `cargo build`
//! and `cargo test` inside the new app, sharing this build's target directory so only the app
//! itself and the few crates whose features differ are compiled.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The target directory this test binary was built in, unless CARGO_TARGET_DIR says otherwise.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // <target>/debug/foundry
            Path::new(env!("CARGO_BIN_EXE_foundry"))
                .ancestors()
                .nth(2)
                .unwrap()
                .to_path_buf()
        })
}

fn foundry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foundry"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("foundry runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Run foundry and require success.
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = foundry(dir, args);
    assert!(
        output.status.success(),
        "foundry {} failed:\n{}",
        args.join(" "),
        text(&output)
    );
    text(&output)
}

/// Run foundry and require it to fail with `code`, saying `expected`.
fn refused(dir: &Path, args: &[&str], code: i32, expected: &str) {
    let output = foundry(dir, args);
    let all = text(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "foundry {}: {all}",
        args.join(" ")
    );
    assert!(
        all.contains(expected),
        "foundry {}: expected `{expected}` in:\n{all}",
        args.join(" ")
    );
}

fn cargo(app: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(app)
        .args(args)
        .arg("--offline")
        .env("CARGO_TARGET_DIR", target_dir());
    // The app's own runs choose their database; FOUNDRY_TEST_DATABASE_URL passes through.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("FOUNDRY_") && name != "FOUNDRY_TEST_DATABASE_URL" {
            command.env_remove(&name);
        }
    }
    command.output().expect("cargo runs")
}

/// A test the app's author would write against the generated CRUD API (the foundry-testing
/// contract): validation, creation, the database.
const CRUD_TEST: &str = r#"
use foundry_testing::prelude::*;

#[tokio::test]
async fn comments_are_validated_created_and_listed() {
    let app = TestApp::boot::<e2e_shop::E2eShop>().await;
    app.post_json("/api/comments", &json!({})).await
        .assert_unprocessable()
        .assert_json_validation_errors(["post_id", "body"]);
    app.post_json("/api/comments", &json!({"post_id": 99, "body": "Hello"})).await
        .assert_unprocessable()
        .assert_json_validation_errors(["post_id"]);
    app.post_json("/api/posts", &json!({"title": "First", "body": "Text"})).await
        .assert_created()
        .assert_json(&json!({"data": {"title": "First"}}));
    app.post_json("/api/comments", &json!({"post_id": 1, "body": "Hello"})).await
        .assert_created();
    app.assert_database_count("comments", 1).await;
    app.get("/api/comments/1").await.assert_ok().assert_json_path("data.body", &json!("Hello"));
    app.get("/api/comments/2").await.assert_not_found();
}
"#;

#[test]
fn a_new_app_with_generated_files_builds_and_passes_its_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(tmp.path(), &["new", "e2e-shop"]);
    assert!(
        out.contains("Created e2e-shop (api template, SQLite)"),
        "{out}"
    );
    let app = tmp.path().join("e2e-shop");

    refused(tmp.path(), &["new", "e2e-shop"], 1, "already exists");
    refused(tmp.path(), &["new", "fn"], 1, "reserved word");
    refused(tmp.path(), &["new", "my.app"], 1, "`.` is not allowed");
    refused(
        tmp.path(),
        &["new", "x", "--template", "desktop"],
        2,
        "invalid value 'desktop'",
    );
    refused(
        tmp.path(),
        &["make:model", "Post"],
        1,
        "is not a RustForge app",
    );

    ok(
        &app,
        &[
            "make:model",
            "Post",
            "--fields",
            "title:string,body:text",
            "-mfsc",
        ],
    );
    ok(&app, &["make:request", "StorePostRequest"]);
    let out = ok(&app, &["make:migration", "add_published_to_posts_table"]);
    assert!(
        out.contains("The column `published` is a nullable string"),
        "{out}"
    );
    ok(
        &app,
        &[
            "make:controller",
            "PostController",
            "--api",
            "--requests",
            "--force",
        ],
    );
    ok(
        &app,
        &[
            "make:model",
            "Comment",
            "--fields",
            "post_id:foreign,body:text",
            "--all",
            "--api",
        ],
    );
    ok(&app, &["make:resource", "PostResource"]);
    let resource = std::fs::read_to_string(app.join("src/resources/post_resource.rs")).unwrap();
    assert!(
        resource.contains("impl JsonResource for PostResource")
            && resource.contains("out.field(\"title\", &post.title);"),
        "{resource}"
    );
    ok(&app, &["make:job", "SendWelcomeMail"]);
    let jobs = std::fs::read_to_string(app.join("src/jobs/mod.rs")).unwrap();
    assert!(
        jobs.contains("pub mod send_welcome_mail;")
            && jobs.contains("jobs.register::<send_welcome_mail::SendWelcomeMail>();"),
        "{jobs}"
    );
    ok(&app, &["make:middleware", "EnsureJson"]);
    ok(&app, &["make:command", "SendDigest"]);
    ok(&app, &["make:test", "PostTest"]);
    ok(&app, &["make:test", "CommentTest"]);
    std::fs::write(app.join("tests/crud.rs"), CRUD_TEST).unwrap();

    refused(
        &app,
        &["make:model", "Post"],
        1,
        "src/models/post.rs already exists",
    );
    refused(
        &app,
        &["make:modle", "Tag"],
        2,
        "did you mean `make:model`?",
    );
    refused(
        &app,
        &["make:policy", "PostPolicy"],
        1,
        "no authorization (policies) component yet",
    );
    refused(&app, &["make:job", "SendWelcomeMail"], 1, "exists");
    refused(
        &app,
        &["make:factory", "Ghost"],
        1,
        "there is no model Ghost",
    );
    refused(
        &app,
        &["make:migration", "create_posts_table"],
        1,
        "already exists",
    );

    let routes = std::fs::read_to_string(app.join("src/routes.rs")).unwrap();
    assert!(
        routes
            .contains(".api_resource(\"posts\", crate::controllers::post_controller::resource())"),
        "{routes}"
    );
    assert!(
        routes.contains(
            ".api_resource(\"comments\", crate::controllers::comment_controller::resource())"
        ),
        "{routes}"
    );
    let migrations = std::fs::read_to_string(app.join("migrations/mod.rs")).unwrap();
    let create = migrations
        .find("create_posts_table::CreatePostsTable")
        .unwrap();
    let alter = migrations
        .find("add_published_to_posts_table::AddPublishedToPostsTable")
        .unwrap();
    assert!(
        create < alter,
        "migrations register in the order they were made:\n{migrations}"
    );
    let test = std::fs::read_to_string(app.join("tests/comment_test.rs")).unwrap();
    assert!(
        test.contains("app.get(\"/api/comments\").await.assert_ok();"),
        "{test}"
    );
    assert!(
        test.contains("app.post_json(\"/api/comments\", &json!({})).await.assert_unprocessable();"),
        "{test}"
    );

    let build = cargo(&app, &["build"]);
    assert!(
        build.status.success(),
        "cargo build in the new app:\n{}",
        text(&build)
    );
    let test = cargo(&app, &["test"]);
    let out = text(&test);
    assert!(test.status.success(), "cargo test in the new app:\n{out}");
    for name in [
        "the_welcome_page_answers",
        "post_works",
        "comment_works",
        "comments_are_validated_created_and_listed",
    ] {
        assert!(
            out.contains(&format!("test {name} ... ok")),
            "{name} did not pass:\n{out}"
        );
    }

    // The app binary: migrations and seeders run (comments take the first post's id).
    let binary = target_dir().join("debug/e2e-shop");
    let database = format!("sqlite://{}", tmp.path().join("e2e.sqlite").display());
    for args in [
        &["migrate"][..],
        &["db:seed"],
        &["app:send-digest", "--name", "Ada"],
    ] {
        let output = Command::new(&binary)
            .current_dir(&app)
            .args(args)
            .env("FOUNDRY_DATABASE__URL", &database)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "e2e-shop {args:?}:\n{}",
            text(&output)
        );
        let all = text(&output);
        match args[0] {
            "migrate" => assert!(all.contains("_create_comments_table"), "{all}"),
            "db:seed" => assert!(all.contains("Seeded: CommentSeeder"), "{all}"),
            _ => assert!(all.contains("Hello, Ada!"), "{all}"),
        }
    }
}

#[test]
fn a_web_app_for_postgres_builds_and_passes_its_test() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(
        tmp.path(),
        &["new", "e2e-site", "--template", "web", "--db", "postgres"],
    );
    assert!(
        out.contains("Created e2e-site (web template, PostgreSQL)"),
        "{out}"
    );
    let app = tmp.path().join("e2e-site");
    assert!(app.join("resources/views/welcome.html").is_file());
    let askama = std::fs::read_to_string(app.join("askama.toml")).unwrap();
    assert!(
        askama.contains(r#"dirs = ["resources/views"]"#)
            && askama.contains("foundry::http::views::HtmlEscaper"),
        "typed views find resources/views and escape as interpreted views do: {askama}"
    );
    let env = std::fs::read_to_string(app.join(".env.example")).unwrap();
    assert!(env.contains("FOUNDRY_DATABASE__URL=postgres://"), "{env}");
    ok(
        &app,
        &[
            "make:model",
            "Page",
            "--fields",
            "title:string,body:text",
            "-m",
            "--resource",
        ],
    );
    let routes = std::fs::read_to_string(app.join("src/routes.rs")).unwrap();
    assert!(
        routes.contains(".resource(\"pages\", crate::controllers::page_controller::resource())"),
        "{routes}"
    );

    let test = cargo(&app, &["test"]);
    let out = text(&test);
    assert!(test.status.success(), "cargo test in the new app:\n{out}");
    assert!(
        out.contains("test the_welcome_page_answers ... ok"),
        "{out}"
    );
}
