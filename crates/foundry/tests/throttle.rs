//! The cache and the `throttle` middleware through a booted app.

use axum::body::Body;
use foundry::cache::{Cache, Limit, RateLimiter};
use foundry::config::ConfigLoader;
use foundry::prelude::*;
use foundry::{BootError, BoxFuture, Kernel, ServicesBuilder};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Limiters;

impl ServiceProvider for Limiters {
    fn register(&self, _: &mut ServicesBuilder, _: &Config) -> Result<()> {
        Ok(())
    }

    fn boot<'a>(&'a self, ctx: &'a AppContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let limiter = ctx.make::<RateLimiter>()?;
            // Per user (a header stands in for authentication here).
            limiter.define("per_user", |request| {
                let user = request
                    .headers
                    .get("x-user")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("guest");
                Limit::per_minute(2).by(user.to_owned()).gcra()
            });
            limiter.define("free", |_| Limit::none());
            Ok(())
        })
    }
}

async fn visits(Service(cache): Service<Cache>) -> Result<String> {
    let n = cache.increment("visits", 1).await?;
    Ok(n.to_string())
}

struct ThrottledApp;

impl App for ThrottledApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/visits", visits)
            .get("/inline", || async { "ok" })
            .middleware("throttle:3,1")
            .get("/default", || async { "ok" })
            .middleware("throttle")
            .get("/user", || async { "ok" })
            .middleware("throttle:per_user")
            .get("/free", || async { "ok" })
            .middleware("throttle:free")
            .get("/nobody", || async { "ok" })
            .middleware("throttle:undefined")
            .group(
                |g| g.prefix("/api").middleware("api"),
                |r| r.get("/once", || async { "ok" }).middleware("throttle:1,1"),
            )
    }

    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        vec![Box::new(Limiters)]
    }
}

async fn boot<A: App>() -> std::result::Result<Kernel, BootError> {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars([("FOUNDRY_ENV", "testing")])
        .load()
        .unwrap();
    Kernel::boot::<A>(config).await
}

async fn get(
    kernel: &Kernel,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = kernel
        .service()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn header_u64(headers: &http::HeaderMap, name: &str) -> u64 {
    headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn handlers_take_the_cache_as_a_service() {
    let kernel = boot::<ThrottledApp>().await.unwrap();
    assert_eq!(get(&kernel, "/visits", &[]).await.2, "1");
    assert_eq!(get(&kernel, "/visits", &[]).await.2, "2");
    let cache = kernel.context().make::<Cache>().unwrap();
    assert_eq!(cache.name(), "memory");
    assert_eq!(cache.get::<i64>("visits").await.unwrap(), Some(2));
}

#[tokio::test]
async fn inline_limits_count_down_then_answer_429_with_retry_headers() {
    let kernel = boot::<ThrottledApp>().await.unwrap();
    for remaining in [2, 1, 0] {
        let (status, headers, _) = get(&kernel, "/inline", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header_u64(&headers, "x-ratelimit-limit"), 3);
        assert_eq!(header_u64(&headers, "x-ratelimit-remaining"), remaining);
    }
    let (status, headers, body) = get(&kernel, "/inline", &[("accept", "application/json")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry = header_u64(&headers, "retry-after");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header_u64(&headers, "x-ratelimit-remaining"), 0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = header_u64(&headers, "x-ratelimit-reset");
    assert!(reset > now && reset <= now + 61, "{reset} vs {now}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["message"], "Too Many Attempts.");
    // A browser gets the HTML error page.
    let (status, headers, body) = get(&kernel, "/inline", &[("accept", "text/html")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert!(body.contains("Too Many Attempts."), "{body}");
    // Plain `throttle` is 60 per minute.
    let (_, headers, _) = get(&kernel, "/default", &[]).await;
    assert_eq!(header_u64(&headers, "x-ratelimit-limit"), 60);
}

#[tokio::test]
async fn api_routes_render_429_as_json() {
    let kernel = boot::<ThrottledApp>().await.unwrap();
    assert_eq!(get(&kernel, "/api/once", &[]).await.0, StatusCode::OK);
    let (status, _, body) = get(&kernel, "/api/once", &[("accept", "text/html")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["message"], "Too Many Attempts.");
}

#[tokio::test]
async fn named_limiters_count_per_key() {
    let kernel = boot::<ThrottledApp>().await.unwrap();
    let ada = [("x-user", "ada")];
    let bob = [("x-user", "bob")];
    assert_eq!(get(&kernel, "/user", &ada).await.0, StatusCode::OK);
    assert_eq!(get(&kernel, "/user", &ada).await.0, StatusCode::OK);
    assert_eq!(
        get(&kernel, "/user", &ada).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let (status, headers, _) = get(&kernel, "/user", &bob).await;
    assert_eq!(status, StatusCode::OK, "bob has his own count");
    assert_eq!(header_u64(&headers, "x-ratelimit-remaining"), 1);
    // Clearing the key lets ada back in.
    let limiter = kernel.context().make::<RateLimiter>().unwrap();
    limiter.clear("throttle:per_user:ada").await.unwrap();
    assert_eq!(get(&kernel, "/user", &ada).await.0, StatusCode::OK);
    // `Limit::none()` passes everything, without headers.
    for _ in 0..5 {
        let (status, headers, _) = get(&kernel, "/free", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!headers.contains_key("x-ratelimit-limit"));
    }
}

#[tokio::test]
async fn an_undefined_limiter_is_a_server_error_naming_it() {
    let kernel = boot::<ThrottledApp>().await.unwrap();
    let (status, _, _) = get(&kernel, "/nobody", &[("accept", "application/json")]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

struct BadThrottle;

impl App for BadThrottle {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/", || async { "ok" })
            .middleware("throttle:10,soon")
    }
}

#[tokio::test]
async fn bad_throttle_parameters_fail_the_boot() {
    let err = boot::<BadThrottle>().await.unwrap_err().to_string();
    assert!(
        err.contains("middleware `throttle:10,soon` on route GET / cannot be built")
            && err.contains("`soon` is not a whole number of minutes"),
        "{err}"
    );
}

struct UnknownStore;

impl App for UnknownStore {
    fn routes(routes: Routes) -> Routes {
        routes
    }
}

#[tokio::test]
async fn cache_configuration_errors_fail_the_boot() {
    let dir = tempfile::tempdir().unwrap();
    let load = |vars: Vec<(&str, &str)>| ConfigLoader::new(dir.path()).vars(vars).load();
    let config = load(vec![("FOUNDRY_CACHE__DEFAULT", "nope")]).unwrap();
    let err = Kernel::boot::<UnknownStore>(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cache store `nope` is not defined"), "{err}");

    std::fs::write(
        dir.path().join("foundry.toml"),
        "[cache.stores.fast]\ndriver = \"memcached\"\n",
    )
    .unwrap();
    let err = match load(vec![]) {
        Ok(config) => Kernel::boot::<UnknownStore>(config)
            .await
            .unwrap_err()
            .to_string(),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("memcached"), "{err}");

    std::fs::write(
        dir.path().join("foundry.toml"),
        "[cache]\ndefault = \"db\"\n[cache.stores.db]\ndriver = \"database\"\n",
    )
    .unwrap();
    let config = load(vec![]).unwrap();
    let err = Kernel::boot::<UnknownStore>(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no database"), "{err}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[http]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let config = ConfigLoader::new(dir.path())
        .vars([("FOUNDRY_ENV", "testing")])
        .load()
        .unwrap();
    let kernel = Kernel::boot::<ThrottledApp>(config).await.unwrap();
    let send = |peer: &'static str, client: &'static str| {
        let kernel = &kernel;
        async move {
            let mut request = Request::get("/inline")
                .header("x-forwarded-for", client)
                .body(Body::empty())
                .unwrap();
            let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            kernel.service().oneshot(request).await.unwrap().status()
        }
    };
    // `/inline` allows 3 a minute per client: the proxy's own address is not the key.
    for _ in 0..3 {
        assert_eq!(send("10.0.0.2", "203.0.113.7").await, StatusCode::OK);
    }
    assert_eq!(
        send("10.0.0.2", "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(send("10.0.0.2", "203.0.113.8").await, StatusCode::OK);
    // An untrusted peer cannot pick a fresh bucket by inventing X-Forwarded-For.
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert_eq!(send("192.0.2.50", client).await, StatusCode::OK);
    }
    assert_eq!(
        send("192.0.2.50", "198.51.100.4").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
