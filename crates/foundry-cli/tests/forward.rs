//! The `foundry` binary: what it owns, what it forwards, and its errors outside an app.

use std::path::Path;
use std::process::{Command, Output};

fn foundry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foundry"))
        .current_dir(dir)
        .args(args)
        .env_remove("FOUNDRY_CARGO")
        .output()
        .expect("foundry runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn outside_an_app_the_error_says_so_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let output = foundry(dir.path(), &["route:list"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("is not a RustForge app: there is no Cargo.toml"),
        "{text}"
    );
    assert!(
        text.contains("run `foundry` from the directory of a RustForge app"),
        "{text}"
    );

    std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let text = stderr(&foundry(dir.path(), &["serve"]));
    assert!(
        text.contains("has no [package] (a workspace root?)"),
        "{text}"
    );

    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\n[dependencies]\nserde = \"1\"\n",
    )
    .unwrap();
    let text = stderr(&foundry(dir.path(), &["serve"]));
    assert!(text.contains("does not depend on `foundry`"), "{text}");

    std::fs::write(dir.path().join("Cargo.toml"), "[package\n").unwrap();
    let text = stderr(&foundry(dir.path(), &["serve"]));
    assert!(
        text.contains("cannot parse") && text.contains("Cargo.toml"),
        "{text}"
    );
}

#[test]
fn inside_an_app_commands_are_forwarded_to_cargo_run_and_the_status_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"app\"\n[dependencies]\nfoundry = { path = \"../foundry\" }\n",
    )
    .unwrap();
    // A stand-in for cargo that shows what it was asked to do.
    let fake = dir.path().join("fake-cargo");
    std::fs::write(&fake, "#!/bin/sh\necho \"cargo $* in $(pwd)\"\nexit 3\n").unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_foundry"))
        .current_dir(dir.path())
        .args(["route:list", "--json"])
        .env("FOUNDRY_CARGO", &fake)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("cargo run --quiet -- route:list --json in "),
        "{stdout}"
    );
    assert_eq!(
        output.status.code(),
        Some(3),
        "the app's exit status is ours"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_foundry"))
        .current_dir(dir.path())
        .arg("about")
        .env("FOUNDRY_CARGO", dir.path().join("no-such-cargo"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is cargo installed and on PATH?"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_and_version_work_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let output = foundry(dir.path(), &["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("foundry {}", env!("CARGO_PKG_VERSION"))
    );
    let output = foundry(dir.path(), &[]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("Usage:"));
}
