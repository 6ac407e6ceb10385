//! HTTP operations through the booted kernel: configured middleware groups, trusted proxies,
//! metrics, the access log, static files and ETags.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use foundry::config::ConfigLoader;
use foundry::http::{ClientInfo, ClientIp};
use foundry::prelude::*;
use foundry::{AppKey, BootError, Kernel, MiddlewareRegistry};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct OpsApp;

async fn client(info: ClientInfo) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "ip": info.ip.map(|ip| ip.to_string()),
        "scheme": info.scheme,
        "host": info.host,
    }))
}

async fn ip(ClientIp(ip): ClientIp) -> String {
    ip.to_string()
}

impl App for OpsApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/", || async { "home" })
            .get("/client", client)
            .get("/layered", || async { "layered" })
            .layer(tower::util::MapResponseLayer::new(
                |mut r: axum::response::Response| {
                    r.headers_mut()
                        .insert("x-by-value", http::HeaderValue::from_static("1"));
                    r
                },
            ))
            .middleware("tagged")
            .get("/ip", ip)
            .get("/posts/{post}", |Path(post): Path<u64>| async move {
                format!("post {post}")
            })
            .group(
                |g| g.prefix("/api").middleware("api"),
                |api| {
                    api.get("/missing", || async {
                        Err::<String, _>(Error::not_found("nope"))
                    })
                },
            )
    }

    fn middleware(registry: MiddlewareRegistry<AppContext>) -> MiddlewareRegistry<AppContext> {
        registry.register(
            "tagged",
            tower::util::MapResponseLayer::new(|mut r: axum::response::Response| {
                r.headers_mut()
                    .insert("x-tagged", http::HeaderValue::from_static("yes"));
                r
            }),
        )
    }
}

/// Boot `OpsApp` in a fresh directory with `toml` as its foundry.toml.
async fn boot_with(
    toml: &str,
    vars: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Kernel, BootError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foundry.toml"), toml).unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(vars.iter().copied())
        .load()
        .unwrap();
    let kernel = Kernel::boot::<OpsApp>(config).await;
    (dir, kernel)
}

async fn boot(toml: &str) -> (tempfile::TempDir, Kernel) {
    let (dir, kernel) = boot_with(toml, &[]).await;
    (dir, kernel.unwrap())
}

async fn send(kernel: &Kernel, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// A request as `serve` hands it over: from `peer`, with `headers`.
fn from_peer(path: &str, peer: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::get(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

#[tokio::test]
async fn configured_groups_replace_the_defaults_and_unknown_names_stop_the_boot() {
    let (_dir, kernel) = boot("[http.groups]\napi = [\"json_errors\", \"tagged\"]\n").await;
    let (status, headers, body) = send(&kernel, get("/api/missing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-tagged"], "yes", "the configured member runs");
    assert!(body.starts_with('{'), "json_errors kept: {body}");
    let (_, headers, _) = send(&kernel, get("/")).await;
    assert!(
        !headers.contains_key("x-tagged"),
        "only on the group's routes"
    );

    let (_dir, err) = boot_with("[http.groups]\napi = [\"json_errors\", \"auth\"]\n", &[]).await;
    let message = err.unwrap_err().to_string();
    for part in [
        "unknown middleware `auth`",
        "http.groups.api",
        "registered middleware: ",
    ] {
        assert!(message.contains(part), "{part} missing in {message}");
    }
    for known in ["json_errors", "signed", "tagged", "web"] {
        assert!(message.contains(known), "{known} not listed in {message}");
    }
    let (_dir, err) = boot_with("[http.groups]\nweb = [\"web\"]\n", &[]).await;
    let message = err.unwrap_err().to_string();
    assert!(message.contains("contains itself"), "{message}");
}

#[tokio::test]
async fn route_middleware_by_name_and_by_value() {
    let (_dir, kernel) = boot("").await;
    let (status, headers, body) = send(&kernel, get("/layered")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "layered"));
    assert_eq!(headers["x-by-value"], "1");
    assert_eq!(headers["x-tagged"], "yes");
    let route = kernel
        .routes()
        .iter()
        .find(|r| r.path == "/layered")
        .unwrap();
    assert_eq!(route.middleware, ["(layer)", "tagged"]);
    let (_, headers, _) = send(&kernel, get("/client")).await;
    assert!(!headers.contains_key("x-by-value"), "only on its route");
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let (_dir, kernel) = boot("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\n").await;
    let forwarded = [
        ("x-forwarded-for", "203.0.113.7, 10.0.0.9"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "blog.example.com"),
        ("host", "internal:8000"),
    ];
    let (_, _, body) = send(&kernel, from_peer("/client", "10.1.2.3", &forwarded)).await;
    assert_eq!(
        body,
        r#"{"host":"blog.example.com","ip":"203.0.113.7","scheme":"https"}"#
    );
    // The same headers from an untrusted peer are ignored.
    let (_, _, body) = send(&kernel, from_peer("/client", "198.51.100.1", &forwarded)).await;
    assert_eq!(
        body,
        r#"{"host":"internal:8000","ip":"198.51.100.1","scheme":"http"}"#
    );
    // A malformed chain is not believed at all.
    let bad = [("x-forwarded-for", "203.0.113.7, bogus")];
    let (_, _, body) = send(&kernel, from_peer("/ip", "127.0.0.1", &bad)).await;
    assert_eq!(body, "127.0.0.1");
    // Without a connection there is no address: ClientIp refuses, ClientInfo says None.
    let (status, _, _) = send(&kernel, get("/ip")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, _, body) = send(&kernel, get("/client")).await;
    assert!(body.contains(r#""ip":null"#), "{body}");

    // No proxies configured: headers never count, even from loopback.
    let (_dir, plain) = boot("").await;
    let (_, _, body) = send(&plain, from_peer("/ip", "127.0.0.1", &forwarded)).await;
    assert_eq!(body, "127.0.0.1");
}

#[tokio::test]
async fn a_bad_proxy_entry_stops_the_boot_naming_the_key() {
    let (_dir, err) = boot_with("[http]\ntrusted_proxies = [\"10.0.0.0/40\"]\n", &[]).await;
    let message = err.unwrap_err().to_string();
    assert!(
        message.contains("http.trusted_proxies") && message.contains("10.0.0.0/40"),
        "{message}"
    );
}

#[tokio::test]
async fn hsts_follows_the_forwarded_scheme_in_production_over_http() {
    let key = AppKey::generate().unwrap().to_string();
    let vars = [
        ("FOUNDRY_ENV", "production"),
        ("FOUNDRY_APP__KEY", key.as_str()),
        ("FOUNDRY_APP__URL", "http://blog.test"),
    ];
    let (_dir, kernel) = boot_with("[http]\ntrusted_proxies = [\"*\"]\n", &vars).await;
    let kernel = kernel.unwrap();
    let https = [("x-forwarded-proto", "https")];
    let (_, headers, _) = send(&kernel, from_peer("/", "10.0.0.1", &https)).await;
    assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let (_, headers, _) = send(&kernel, from_peer("/", "10.0.0.1", &[])).await;
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
}

#[tokio::test]
async fn metrics_count_by_route_template_and_every_endpoint_can_be_turned_off() {
    let (_dir, kernel) = boot("").await;
    for path in ["/posts/1", "/posts/2", "/nowhere", "/api/missing"] {
        send(&kernel, get(path)).await;
    }
    let (status, headers, text) = send(&kernel, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for line in [
        r#"http_requests_total{route="/posts/{post}",method="GET",status="200"} 2"#,
        r#"http_requests_total{route="",method="GET",status="404"} 1"#,
        r#"http_requests_total{route="/api/missing",method="GET",status="404"} 1"#,
        r#"http_request_duration_seconds_count{route="/posts/{post}"} 2"#,
        "http_requests_in_flight 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("db_pool"), "no database, no pool gauges");

    let (_dir, off) =
        boot("[http]\nmetrics_path = \"\"\nhealth_path = \"\"\nready_path = \"\"\n").await;
    for path in ["/metrics", "/health", "/ready"] {
        assert_eq!(
            send(&off, get(path)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (_dir, moved) = boot("[http]\nmetrics_path = \"/internal/metrics\"\n").await;
    assert_eq!(
        send(&moved, get("/internal/metrics")).await.0,
        StatusCode::OK
    );
    assert_eq!(send(&moved, get("/metrics")).await.0, StatusCode::NOT_FOUND);
}

/// Collects what the `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_access_log_writes_one_line_per_request_through_tracing() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (_dir, kernel) = boot("[http.access_log]\nenabled = true\nlevel = \"debug\"\n").await;
    let request = Request::get("/posts/7")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    send(&kernel, request).await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("foundry::access"))
        .unwrap_or_else(|| panic!("no access line in {text}"));
    for part in [
        "DEBUG",
        "GET /posts/7 200",
        "route=\"/posts/{post}\"",
        "status=200",
        "request_id=\"req-42\"",
        "bytes=6",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }

    let (_dir, err) = boot_with("[http.access_log]\nenabled = true\nlevel = \"loud\"\n", &[]).await;
    let message = err.unwrap_err().to_string();
    assert!(
        message.contains("http.access_log.level") && message.contains("loud"),
        "{message}"
    );
}

#[tokio::test]
async fn static_files_are_served_with_cache_headers_and_never_outside_public() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("public/css")).unwrap();
    std::fs::write(dir.path().join("public/css/app.css"), "body{}").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "top secret").unwrap();
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[http.static_files]\ncache_control = \"public, max-age=60\"\n",
    )
    .unwrap();
    for env in ["production", "local"] {
        let config = ConfigLoader::new(dir.path())
            .vars([
                ("FOUNDRY_ENV", env),
                ("FOUNDRY_APP__KEY", &AppKey::generate().unwrap().to_string()),
            ])
            .load()
            .unwrap();
        let kernel = Kernel::boot::<OpsApp>(config).await.unwrap();
        let (status, headers, body) = send(&kernel, get("/css/app.css")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "body{}"), "{env}");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
        assert!(headers.contains_key(header::LAST_MODIFIED));
        for path in [
            "/../secret.txt",
            "/css/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/css/%2e%2e%2f%2e%2e%2fsecret.txt",
            "/css/missing.css",
        ] {
            let (status, headers, body) = send(&kernel, get(path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} ({env})");
            assert!(!body.contains("top secret"), "{path}");
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "the app's 404 page renders: {path}"
            );
        }
        assert_eq!(
            send(&kernel, get("/posts/3")).await.2,
            "post 3",
            "routes still answer"
        );
    }
}

#[tokio::test]
async fn etags_answer_conditional_gets_with_304() {
    let (_dir, kernel) = boot("[http.etag]\nenabled = true\n").await;
    let (status, headers, _) = send(&kernel, get("/posts/9")).await;
    assert_eq!(status, StatusCode::OK);
    let tag = headers[header::ETAG].to_str().unwrap().to_owned();
    let request = Request::get("/posts/9")
        .header(header::IF_NONE_MATCH, &tag)
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&kernel, request).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));
    assert_eq!(headers[header::ETAG], tag.as_str());
    assert!(headers.contains_key("x-request-id"), "the front still runs");
    let other = Request::get("/posts/10")
        .header(header::IF_NONE_MATCH, &tag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&kernel, other).await.0,
        StatusCode::OK,
        "another body, another tag"
    );

    let (_dir, off) = boot("").await;
    let (_, headers, _) = send(&off, get("/posts/9")).await;
    assert!(!headers.contains_key(header::ETAG), "off by default");
}
