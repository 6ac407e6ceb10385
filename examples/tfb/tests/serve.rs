//! The real binary over a real socket: hyper's `Date` header next to the configured `Server`,
//! and the first run in `local` migrating and seeding the database `DATABASE_URL` names.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One `GET` on a fresh connection: the head (lowercased) and the body.
fn get(port: u16, path: &str) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((head.to_ascii_lowercase(), body.to_owned()))
}

#[test]
fn the_binary_migrates_seeds_and_serves_with_date_and_server_headers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tfb"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("FOUNDRY_") || name == "RUST_LOG" || name == "DATABASE_URL" {
            command.env_remove(&name);
        }
    }
    let database = dir.path().join("tfb.sqlite");
    command
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .env("FOUNDRY_ENV", "local")
        .env("FOUNDRY_ROOT", env!("CARGO_MANIFEST_DIR"))
        .args(["serve", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _server = Server(command.spawn().expect("the tfb binary starts"));

    // Seeding 10,000 rows comes before the first answer; allow a slow machine.
    let started = Instant::now();
    let (head, body) = loop {
        match get(port, "/plaintext") {
            Ok(answer) => break answer,
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("no answer on port {port} after 60 s: {e}"),
        }
    };
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\r\nserver: rustforge"), "{head}");
    assert!(head.contains("\r\ndate: "), "{head}");
    assert_eq!(body, "Hello, World!");

    let (head, body) = get(port, "/db").expect("/db answers");
    assert!(head.starts_with("http/1.1 200"), "{head}\n{body}");
    assert!(head.contains("\r\ndate: "), "{head}");
    let world: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        world["id"]
            .as_i64()
            .is_some_and(|id| (1..=10_000).contains(&id)),
        "{world}"
    );
    assert!(database.exists(), "DATABASE_URL chose the database file");
}
