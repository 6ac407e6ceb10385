//! Rate limits are exact across processes: three blog servers sharing one Redis allow
//! exactly the limit together, whatever the interleaving of concurrent clients.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{blog_in, free_port};

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn redis_url() -> Option<String> {
    match std::env::var("FOUNDRY_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FOUNDRY_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FOUNDRY_REQUIRE_SERVICES=1 but FOUNDRY_TEST_REDIS_URL is not set"
            );
            eprintln!("skipping: FOUNDRY_TEST_REDIS_URL is not set");
            None
        }
    }
}

/// Kills the servers even when an assertion fails.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn three_processes_sharing_redis_allow_exactly_the_limit() {
    let Some(url) = redis_url() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let prefix = format!(
        "blog_throttle_{}_{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    std::fs::write(
        root.path().join("foundry.toml"),
        format!(
            "[app]\nname = \"Throttled Blog\"\n\n[cache]\ndefault = \"redis\"\nprefix = \"{prefix}\"\n\n\
             [cache.stores.redis]\ndriver = \"redis\"\nurl = \"{url}\"\n"
        ),
    )
    .unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let servers = Servers(
        ports
            .iter()
            .map(|port| {
                blog_in(root.path())
                    .args(["serve", "--port", &port.to_string()])
                    .env("FOUNDRY_ENV", "testing")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("the blog starts")
            })
            .collect(),
    );
    let started = Instant::now();
    for &port in &ports {
        while get(port, "/api/status").is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "a blog never answered"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    let limit = blog::API_REQUESTS_PER_MINUTE as usize;
    let clients: Vec<_> = (0..12)
        .map(|client| {
            let ports = ports.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for i in 0..15 {
                    let port = ports[(client + i) % ports.len()];
                    let response = get(port, "/api/greeting").expect("a response");
                    let status = response.get(9..12).unwrap_or_default().to_owned();
                    if status == "429" {
                        assert!(response.contains("retry-after:"), "{response}");
                        assert!(response.contains("x-ratelimit-reset:"), "{response}");
                    } else {
                        assert_eq!(status, "200", "{response}");
                        assert!(response.contains("x-ratelimit-limit: 60"), "{response}");
                    }
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<String> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    let allowed = statuses.iter().filter(|s| *s == "200").count();
    let limited = statuses.iter().filter(|s| *s == "429").count();
    assert_eq!(statuses.len(), 180);
    assert_eq!((allowed, limited), (limit, 180 - limit));
    drop(servers);
}
