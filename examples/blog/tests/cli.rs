//! The blog binary's command line: commands, suggestions, exit codes, configuration errors.

mod support;

use std::time::Duration;

use support::{blog, blog_in, run, texts};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn an_unknown_command_suggests_the_closest_and_exits_2() {
    let mut command = blog();
    command.arg("route:lst");
    let output = run(command, LIMIT);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("command \"route:lst\" is not defined"),
        "{stderr}"
    );
    assert!(stderr.contains("Did you mean one of these?"), "{stderr}");
    assert!(stderr.contains("    route:list"), "{stderr}");

    let mut command = blog();
    command.arg("key");
    let (_, stderr) = texts(&run(command, LIMIT));
    assert!(
        stderr.contains("key:generate"),
        "a namespace lists its commands: {stderr}"
    );
}

#[test]
fn a_bad_flag_is_a_usage_error_with_status_2() {
    let mut command = blog();
    command.args(["route:list", "--jsn"]);
    let output = run(command, LIMIT);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("--jsn") && stderr.contains("--json"),
        "{stderr}"
    );
}

#[test]
fn route_list_shows_method_path_name_and_middleware() {
    let mut command = blog();
    command.args(["route:list", "--json"]);
    let output = run(command, LIMIT);
    assert!(output.status.success(), "{:?}", texts(&output));
    let routes: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let status = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "api.status")
        .expect("the api.status route is listed");
    assert_eq!(status["path"], "/api/status");
    assert_eq!(status["methods"], serde_json::json!(["GET", "HEAD"]));
    assert_eq!(status["middleware"], serde_json::json!(["api"]));

    let mut command = blog();
    command.args(["route:list", "--path", "status"]);
    let (table, _) = texts(&run(command, LIMIT));
    assert!(
        table.contains("METHOD") && table.contains("MIDDLEWARE"),
        "{table}"
    );
    assert!(
        table.contains("/api/status") && !table.contains("welcome"),
        "{table}"
    );
    assert!(table.contains("Showing [1] routes"), "{table}");
}

#[test]
fn about_reports_environment_versions_and_drivers() {
    let mut command = blog();
    command
        .args(["about", "--json"])
        .env("FOUNDRY_ENV", "testing");
    let output = run(command, LIMIT);
    assert!(output.status.success(), "{:?}", texts(&output));
    let about: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(about["environment"]["environment"], "testing");
    assert_eq!(about["environment"]["application_name"], "RustForge Blog");
    assert_eq!(about["environment"]["debug_mode"], "OFF");
    assert!(
        about["environment"]["rust_version"]
            .as_str()
            .unwrap()
            .starts_with("1.")
    );
    assert_eq!(about["drivers"]["server"], "127.0.0.1:8000");

    let mut command = blog();
    command.arg("about");
    let (text, _) = texts(&run(command, LIMIT));
    assert!(
        text.contains("Debug Mode") && text.contains("ENABLED"),
        "{text}"
    );
}

#[test]
fn key_generate_writes_refuses_to_replace_and_forces() {
    let root = tempfile::tempdir().unwrap();
    let mut command = blog_in(root.path());
    command.arg("key:generate");
    let output = run(command, LIMIT);
    assert!(output.status.success(), "{:?}", texts(&output));
    let env = std::fs::read_to_string(root.path().join(".env")).unwrap();
    let first = env
        .trim()
        .strip_prefix("FOUNDRY_APP__KEY=base64:")
        .expect("a base64 key line");
    assert_eq!(first.len(), 44, "32 bytes in base64");

    let mut command = blog_in(root.path());
    command.arg("key:generate");
    let output = run(command, LIMIT);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("already set") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join(".env")).unwrap(),
        env,
        "untouched"
    );

    let mut command = blog_in(root.path());
    command.args(["key:generate", "--force"]);
    assert!(run(command, LIMIT).status.success());
    assert_ne!(
        std::fs::read_to_string(root.path().join(".env")).unwrap(),
        env
    );
}

#[test]
fn production_refuses_to_serve_without_a_key() {
    let root = tempfile::tempdir().unwrap();
    let mut command = blog_in(root.path());
    command
        .args(["serve", "--port", &support::free_port().to_string()])
        .env("FOUNDRY_ENV", "production");
    let output = run(command, LIMIT);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no application key is set"), "{stderr}");
    assert!(stderr.contains("key:generate"), "{stderr}");
}

#[test]
fn a_bad_configuration_value_names_the_key_and_the_source() {
    let mut command = blog();
    command.arg("about").env("FOUNDRY_SERVER__PORT", "eighty");
    let output = run(command, LIMIT);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("`server.port`"), "{stderr}");
    assert!(stderr.contains("FOUNDRY_SERVER__PORT"), "{stderr}");
    assert!(stderr.contains("expected an integer"), "{stderr}");

    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("foundry.toml"),
        "[server]\nport = \"http\"\n",
    )
    .unwrap();
    let mut command = blog_in(root.path());
    command.arg("about");
    let (_, stderr) = texts(&run(command, LIMIT));
    assert!(
        stderr.contains("foundry.toml") && stderr.contains("`server.port`"),
        "{stderr}"
    );
}

#[test]
fn completions_and_list_cover_every_command() {
    let mut command = blog();
    command.args(["completions", "bash"]);
    let output = run(command, LIMIT);
    assert!(output.status.success());
    let (script, _) = texts(&output);
    assert!(
        script.contains("route:list") && script.contains("key:generate"),
        "{script}"
    );

    let mut command = blog();
    command.args(["completions", "tcsh"]);
    assert_eq!(
        run(command, LIMIT).status.code(),
        Some(2),
        "an unsupported shell is a usage error"
    );

    let mut command = blog();
    command.arg("list");
    let (list, _) = texts(&run(command, LIMIT));
    for name in [
        "serve",
        "about",
        "key:generate",
        "route:list",
        "completions",
    ] {
        assert!(list.contains(name), "{name} missing from {list}");
    }
}
