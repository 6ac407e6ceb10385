//! Graceful shutdown of the real blog binary on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{blog, free_port, wait_output};

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_0() {
    let port = free_port();
    let child = blog()
        .args(["serve", "--port", &port.to_string()])
        .env("FOUNDRY_ENV", "testing")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the blog starts");
    let pid = child.id().to_string();

    let started = Instant::now();
    while get(port, "/api/status").is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the blog never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The request is on the wire before the signal, and a second gives the server ample time
    // to accept it and enter the handler, which then sleeps for five.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the blog accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /_demo/slow?ms=5000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let slow = std::thread::spawn(move || {
        let mut response = String::new();
        stream.read_to_string(&mut response).map(|_| response)
    });
    std::thread::sleep(Duration::from_millis(1000));
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());

    // The listener closes at once; the slow request still runs for four more seconds.
    let signalled_at = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            signalled_at.elapsed() < Duration::from_millis(3500),
            "new connections are refused after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let response = slow
        .join()
        .unwrap()
        .expect("the in-flight request completes");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains(r#"{"slept_ms":5000}"#), "{response}");

    let output = wait_output(child, Duration::from_secs(20));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "exit status 0\n{logs}");
    assert!(logs.contains("received SIGTERM"), "{logs}");
    assert!(
        logs.contains("blog shutdown hook ran"),
        "shutdown hooks run: {logs}"
    );
}

#[test]
fn production_logs_are_json_lines_and_sigint_also_stops_gracefully() {
    let port = free_port();
    let key = blog().args(["key:generate", "--show"]).output().unwrap();
    let key = String::from_utf8(key.stdout).unwrap();
    let child = blog()
        .args(["serve", "--port", &port.to_string()])
        .env("FOUNDRY_ENV", "production")
        .env("FOUNDRY_APP__KEY", key.trim())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the blog starts");
    let started = Instant::now();
    while get(port, "/api/status").is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the blog never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = wait_output(child, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("listening on http://127.0.0.1:"))),
        "{logs}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "received SIGINT"),
        "{logs}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "{logs}"
    );
}
