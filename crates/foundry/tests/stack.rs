//! The global HTTP stack through the booted kernel: request ids, security headers, CORS,
//! compression, timeouts, body limits and panics.

use std::time::Duration;

use axum::body::Body;
use foundry::config::ConfigLoader;
use foundry::prelude::*;
use foundry::{AppKey, BootError, Kernel};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct StackApp;

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    "slow"
}

async fn boom() -> &'static str {
    panic!("the flux capacitor broke")
}

async fn big() -> String {
    "RustForge ".repeat(500)
}

async fn echo(body: String) -> String {
    body
}

impl App for StackApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/", || async { "home" })
            .get("/slow", slow)
            .get("/boom", boom)
            .get("/big", big)
            .post("/echo", echo)
            .get("/own-server", || async {
                ([(header::SERVER, "mine")], "x")
            })
    }
}

async fn boot(vars: &[(&str, &str)]) -> Result<Kernel, BootError> {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars(vars.iter().copied())
        .load()
        .unwrap();
    Kernel::boot::<StackApp>(config).await
}

async fn send(kernel: &Kernel, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn request_ids_are_made_or_kept_and_returned() {
    let kernel = boot(&[]).await.unwrap();
    let (_, first, _) = send(&kernel, get("/")).await;
    let (_, second, _) = send(&kernel, get("/")).await;
    let first = first["x-request-id"].to_str().unwrap().to_owned();
    let second = second["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (prefix, counter) = first.split_once('-').unwrap();
    assert_eq!(prefix.len(), 12);
    assert!(u64::from_str_radix(counter, 16).is_ok(), "{first}");

    let incoming = Request::get("/")
        .header("x-request-id", "trace-abc")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&kernel, incoming).await;
    assert_eq!(headers["x-request-id"], "trace-abc");

    let off = boot(&[("FOUNDRY_HTTP__REQUEST_ID__ENABLED", "false")])
        .await
        .unwrap();
    let (_, headers, _) = send(&off, get("/")).await;
    assert!(headers.get("x-request-id").is_none());
}

#[tokio::test]
async fn security_headers_on_pages_and_errors_hsts_only_in_production_https() {
    let kernel = boot(&[]).await.unwrap();
    for path in ["/", "/missing"] {
        let (_, headers, _) = send(&kernel, get(path)).await;
        assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            headers[header::REFERRER_POLICY],
            "strict-origin-when-cross-origin"
        );
        assert!(
            headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
            "no HSTS in local"
        );
    }
    let key = AppKey::generate().unwrap().to_string();
    let production = boot(&[
        ("FOUNDRY_ENV", "production"),
        ("FOUNDRY_APP__KEY", &key),
        ("FOUNDRY_APP__URL", "https://blog.test"),
        (
            "FOUNDRY_HTTP__SECURITY_HEADERS__CONTENT_SECURITY_POLICY",
            "default-src 'self'",
        ),
        ("FOUNDRY_HTTP__SECURITY_HEADERS__X_FRAME_OPTIONS", ""),
    ])
    .await
    .unwrap();
    let (_, headers, _) = send(&production, get("/")).await;
    assert_eq!(
        headers[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'self'"
    );
    assert!(
        headers.get(header::X_FRAME_OPTIONS).is_none(),
        "an empty value leaves it out"
    );
}

#[tokio::test]
async fn configured_response_headers_are_added_unless_the_handler_sets_them() {
    let kernel = boot(&[("FOUNDRY_HTTP__RESPONSE_HEADERS__SERVER", "RustForge")])
        .await
        .unwrap();
    for path in ["/", "/missing"] {
        let (_, headers, _) = send(&kernel, get(path)).await;
        assert_eq!(headers[header::SERVER], "RustForge", "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN", "{path}");
    }
    let (_, headers, _) = send(&kernel, get("/own-server")).await;
    assert_eq!(
        headers[header::SERVER],
        "mine",
        "the handler's own header wins"
    );
    let (_, headers, _) = send(&boot(&[]).await.unwrap(), get("/")).await;
    assert!(headers.get(header::SERVER).is_none(), "none by default");

    for (name, value, problem) in [
        (
            "FOUNDRY_HTTP__RESPONSE_HEADERS__BAD(NAME",
            "x",
            "`bad(name` is not a header name",
        ),
        (
            "FOUNDRY_HTTP__RESPONSE_HEADERS__SERVER",
            "a\u{7}b",
            "is not a valid header value",
        ),
    ] {
        let Err(error) = boot(&[(name, value)]).await else {
            panic!("a bad header stops the boot: {name}");
        };
        let message = error.to_string();
        assert!(message.contains("http.response_headers."), "{message}");
        assert!(message.contains(problem), "{message}");
    }
}

#[tokio::test]
async fn cors_is_off_by_default_and_configurable() {
    let preflight = || {
        Request::builder()
            .method("OPTIONS")
            .uri("/echo")
            .header(header::ORIGIN, "https://app.test")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let off = boot(&[]).await.unwrap();
    let (_, headers, _) = send(&off, preflight()).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let on = boot(&[
        ("FOUNDRY_HTTP__CORS__ENABLED", "true"),
        ("FOUNDRY_HTTP__CORS__ALLOWED_ORIGINS", "https://app.test"),
        ("FOUNDRY_HTTP__CORS__MAX_AGE_SECS", "600"),
    ])
    .await
    .unwrap();
    let (status, headers, _) = send(&on, preflight()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.test"
    );
    assert_eq!(headers[header::ACCESS_CONTROL_MAX_AGE], "600");
    let other = Request::get("/")
        .header(header::ORIGIN, "https://evil.test")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&on, other).await;
    assert!(
        headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "origin not listed"
    );

    let err = boot(&[
        ("FOUNDRY_HTTP__CORS__ENABLED", "true"),
        ("FOUNDRY_HTTP__CORS__SUPPORTS_CREDENTIALS", "true"),
    ])
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("`http.cors.supports_credentials`"),
        "{err}"
    );
}

#[cfg(feature = "compression")]
#[tokio::test]
async fn responses_are_compressed_for_clients_that_accept_it() {
    let kernel = boot(&[("FOUNDRY_HTTP__COMPRESSION__ENABLED", "true")])
        .await
        .unwrap();
    let request = Request::get("/big")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&kernel, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert!(body.len() < 5000 / 4, "compressed: {} bytes", body.len());
    let (_, headers, body) = send(&kernel, get("/big")).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body.len(), 5000);

    let off = boot(&[]).await.unwrap();
    let request = Request::get("/big")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&off, request).await;
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "off by default"
    );
}

/// Without the codecs, asking for compression stops the boot instead of serving uncompressed
/// responses unannounced.
#[cfg(not(feature = "compression"))]
#[tokio::test]
async fn compression_without_the_feature_stops_the_boot() {
    let err = boot(&[("FOUNDRY_HTTP__COMPRESSION__ENABLED", "true")])
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`http.compression.enabled`") && message.contains("`compression` feature"),
        "{message}"
    );
    assert!(
        boot(&[]).await.is_ok(),
        "off by default, so the boot succeeds"
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_503() {
    // The front keeps the time itself when nothing stands between it and the router, and
    // a timeout layer does behind CORS otherwise: the same answer either way.
    for vars in [
        &[("FOUNDRY_HTTP__TIMEOUT_SECS", "1")][..],
        &[
            ("FOUNDRY_HTTP__TIMEOUT_SECS", "1"),
            ("FOUNDRY_HTTP__CORS__ENABLED", "true"),
        ],
    ] {
        let kernel = boot(vars).await.unwrap();
        let request = Request::get("/slow")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, "https://app.test")
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = send(&kernel, request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{vars:?}");
        let id = headers["x-request-id"].to_str().unwrap();
        let expected = format!(r#"{{"message":"Service Unavailable","request_id":"{id}"}}"#);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            expected,
            "server errors carry the request id ({vars:?})"
        );
        assert_eq!(
            headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            vars.len() == 2,
            "CORS headers exactly when CORS is on ({vars:?})"
        );
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let kernel = boot(&[("FOUNDRY_HTTP__MAX_BODY_BYTES", "16")])
        .await
        .unwrap();
    let post = |body: &'static str, declare: bool| {
        let mut request = Request::post("/echo").header(header::ACCEPT, "application/json");
        if declare {
            request = request.header(header::CONTENT_LENGTH, body.len());
        }
        request.body(Body::from(body)).unwrap()
    };
    let (status, _, body) = send(&kernel, post("small", true)).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"small"[..]));
    let (status, _, body) = send(&kernel, post("a body well over sixteen bytes", true)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"message":"Payload Too Large"}"#
    );
    let (status, _, _) = send(&kernel, post("a body well over sixteen bytes", false)).await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "also without Content-Length"
    );
}

#[tokio::test]
async fn panics_become_500s_with_the_request_id_and_nothing_leaks() {
    let key = AppKey::generate().unwrap().to_string();
    let kernel = boot(&[("FOUNDRY_ENV", "production"), ("FOUNDRY_APP__KEY", &key)])
        .await
        .unwrap();
    let request = Request::get("/boom")
        .header(header::ACCEPT, "application/json")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&kernel, request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(headers["x-request-id"], "req-42");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"message":"Server Error","request_id":"req-42"}"#
    );

    let (status, _, html) = send(&kernel, get("/boom")).await;
    let html = String::from_utf8(html).unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(html.contains("Request id: <code>"), "{html}");
    assert!(!html.contains("flux capacitor"), "{html}");

    let local = boot(&[]).await.unwrap();
    let request = Request::get("/boom")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = send(&local, request).await;
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("panic: the flux capacitor broke")
    );
    // The kernel keeps serving after a panic.
    assert_eq!(send(&local, get("/")).await.0, StatusCode::OK);
}
