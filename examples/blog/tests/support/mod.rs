//! Helpers for tests that run the real `blog` binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The blog binary with a clean, predictable environment.
pub(crate) fn blog() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blog"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if (name.starts_with("FOUNDRY_") && name != "FOUNDRY_TEST_DATABASE_URL")
            || name == "RUST_LOG"
        {
            command.env_remove(&name);
        }
    }
    command.env("NO_COLOR", "1");
    // Each run gets its own database, never the checkout's storage/database.sqlite.
    command.env("FOUNDRY_DATABASE__URL", "sqlite::memory:");
    command
}

/// The blog binary with its files (foundry.toml, .env) in `root`.
pub(crate) fn blog_in(root: &Path) -> Command {
    let mut command = blog();
    command.env("FOUNDRY_ROOT", root);
    command
}

/// Run to completion, failing the test if it takes longer than `limit`.
pub(crate) fn run(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the blog binary starts");
    wait_output(child, limit)
}

/// Wait for a spawned child, killing it and failing if it outlives `limit`.
pub(crate) fn wait_output(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait on child").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect output");
            panic!(
                "process still running after {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Text of stdout and stderr.
pub(crate) fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
