//! Maintenance mode: while the app is down every request gets a 503 (with `Retry-After`, and
//! `Refresh` when asked), except the health endpoints and browsers holding the bypass cookie.
//!
//! The state lives in a [`MaintenanceStore`] shared by every instance of the app (the
//! database, or a file in the storage directory when there is none). Each instance reads it
//! in the background every `[http.maintenance] check_interval_ms`, so a request pays one
//! atomic load to learn the app is up.
//!
//! Visiting `/<secret>` (from `down --secret <secret>`) sets a cookie signed with the app key
//! and redirects to `/`; that browser then gets through for twelve hours or until the next
//! `down` with another secret.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use foundry_core::url::UrlSigner;
use foundry_core::{AppKey, BoxFuture, Error};
use http::StatusCode;
use http::header::{COOKIE, HeaderName, HeaderValue, LOCATION, RETRY_AFTER, SET_COOKIE};
use serde::{Deserialize, Serialize};

/// The bypass cookie's name.
pub const BYPASS_COOKIE: &str = "foundry_maintenance";
/// How long a bypass cookie is valid.
pub const BYPASS_LIFETIME: Duration = Duration::from_secs(12 * 3600);

const REFRESH: HeaderName = HeaderName::from_static("refresh");

/// What `down` recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DownState {
    /// Visiting `/<secret>` gives a bypass cookie.
    pub secret: Option<String>,
    /// `Retry-After` seconds.
    pub retry: Option<u64>,
    /// `Refresh` seconds: browsers reload the page after that long.
    pub refresh: Option<u64>,
    /// Send every request here (a path) instead of answering 503 (the path itself gets 503).
    pub redirect: Option<String>,
    /// When the app went down (Unix seconds).
    pub since: u64,
}

impl DownState {
    /// Check what `down` was given; the message names the bad option.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(secret) = &self.secret {
            let ok = !secret.is_empty()
                && secret.len() <= 128
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                return Err(format!(
                    "--secret `{secret}` must be 1 to 128 letters, digits, `-`, `_` or `.` (it becomes a URL path)"
                ));
            }
        }
        if let Some(redirect) = &self.redirect
            && (!redirect.starts_with('/') || HeaderValue::from_str(redirect).is_err())
        {
            return Err(format!(
                "--redirect `{redirect}` must be a path starting with `/`"
            ));
        }
        Ok(())
    }
}

/// Where the maintenance state is kept.
pub trait MaintenanceStore: Send + Sync + 'static {
    /// The current state: `None` when the app is up.
    fn read(&self) -> BoxFuture<'_, Result<Option<DownState>, String>>;
    /// Record `state` (`None`: the app is up).
    fn write<'a>(&'a self, state: Option<&'a DownState>) -> BoxFuture<'a, Result<(), String>>;
    /// Where the state is kept, for messages.
    fn describe(&self) -> String;
}

/// The state as JSON in a file (`storage/framework/down`), for apps without a database.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl MaintenanceStore for FileStore {
    fn read(&self) -> BoxFuture<'_, Result<Option<DownState>, String>> {
        Box::pin(async move {
            match tokio::fs::read(&self.path).await {
                Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                    format!("{} is not a maintenance state ({e})", self.path.display())
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read {}: {e}", self.path.display())),
            }
        })
    }

    fn write<'a>(&'a self, state: Option<&'a DownState>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let result = match state {
                None => match tokio::fs::remove_file(&self.path).await {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    other => other,
                },
                Some(state) => {
                    if let Some(dir) = self.path.parent() {
                        tokio::fs::create_dir_all(dir)
                            .await
                            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                    }
                    let json = serde_json::to_vec(state).map_err(|e| e.to_string())?;
                    // Write then rename, so a reader never sees half a file.
                    let tmp = self.path.with_extension("tmp");
                    match tokio::fs::write(&tmp, json).await {
                        Ok(()) => tokio::fs::rename(&tmp, &self.path).await,
                        Err(e) => Err(e),
                    }
                }
            };
            result.map_err(|e| format!("cannot write {}: {e}", self.path.display()))
        })
    }

    fn describe(&self) -> String {
        format!("the file {}", self.path.display())
    }
}

/// Maintenance mode for one instance: the cached state and the bypass.
pub struct Maintenance {
    down: AtomicBool,
    state: RwLock<Option<Arc<DownState>>>,
    store: Arc<dyn MaintenanceStore>,
    signer: UrlSigner,
    exempt: Vec<String>,
}

impl std::fmt::Debug for Maintenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maintenance")
            .field("down", &self.is_down())
            .field("store", &self.store.describe())
            .field("exempt", &self.exempt)
            .finish()
    }
}

impl Maintenance {
    /// Maintenance over `store`; `key` signs bypass cookies; `exempt` paths (the health
    /// endpoints) always answer.
    pub fn new(store: Arc<dyn MaintenanceStore>, key: Option<AppKey>, exempt: Vec<String>) -> Self {
        Self {
            down: AtomicBool::new(false),
            state: RwLock::new(None),
            store,
            signer: UrlSigner::new(key),
            exempt,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MaintenanceStore> {
        &self.store
    }

    /// Whether this instance currently answers 503.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// The cached state.
    pub fn state(&self) -> Option<Arc<DownState>> {
        self.state.read().ok().and_then(|s| s.clone())
    }

    fn set(&self, state: Option<DownState>) {
        let down = state.is_some();
        if let Ok(mut slot) = self.state.write() {
            *slot = state.map(Arc::new);
        }
        self.down.store(down, Ordering::Relaxed);
    }

    /// Read the store now. A store that cannot be read leaves the cached state as it was.
    pub async fn refresh(&self) -> Result<(), String> {
        let state = self.store.read().await?;
        if state.as_ref() != self.state().as_deref() {
            self.set(state);
        }
        Ok(())
    }

    /// Take the app down, for every instance sharing the store.
    pub async fn down(&self, state: DownState) -> Result<(), String> {
        state.validate()?;
        self.store.write(Some(&state)).await?;
        self.set(Some(state));
        Ok(())
    }

    /// Bring the app back up, for every instance sharing the store.
    pub async fn up(&self) -> Result<(), String> {
        self.store.write(None).await?;
        self.set(None);
        Ok(())
    }

    /// Re-read the store every `interval` until `this` is dropped.
    pub fn watch(this: &Arc<Self>, interval: Duration) {
        let weak: Weak<Self> = Arc::downgrade(this);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticker.tick().await;
                let Some(this) = weak.upgrade() else { break };
                match this.refresh().await {
                    Ok(()) => failing = false,
                    Err(reason) if !failing => {
                        failing = true;
                        tracing::warn!(%reason, "cannot read the maintenance state; keeping the last one");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// The answer for `request` while the app is down; `None` lets it through.
    pub(crate) fn check(&self, request: &Request) -> Option<Response> {
        if !self.is_down() {
            return None;
        }
        let state = self.state()?;
        let path = request.uri().path();
        if self.exempt.iter().any(|p| p == path) {
            return None;
        }
        let now = SystemTime::now();
        if let Some(secret) = &state.secret {
            if path.strip_prefix('/') == Some(secret.as_str()) {
                return Some(self.bypass_response(secret, now));
            }
            if self.has_bypass(request, secret, now) {
                return None;
            }
        }
        if let Some(target) = &state.redirect
            && path != target
        {
            return Some(redirect(target, None));
        }
        let mut error = Error::unavailable("Service Unavailable");
        if let Some(retry) = state.retry {
            error = error.with_header(RETRY_AFTER, HeaderValue::from(retry));
        }
        if let Some(refresh) = state.refresh {
            error = error.with_header(REFRESH, HeaderValue::from(refresh));
        }
        Some(error.into_response())
    }

    /// What the bypass cookie signs: the secret, so a new `down` invalidates old cookies.
    fn subject(secret: &str) -> String {
        format!("/maintenance/{secret}")
    }

    fn bypass_response(&self, secret: &str, now: SystemTime) -> Response {
        let signed = self
            .signer
            .sign(&Self::subject(secret), Some(now + BYPASS_LIFETIME))
            .ok();
        // `…?expires=<secs>&signature=<hex>` becomes the cookie value `<secs>.<hex>`.
        let value = signed.as_deref().and_then(|url| {
            let (_, query) = url.split_once("?expires=")?;
            let (expires, signature) = query.split_once("&signature=")?;
            Some(format!("{expires}.{signature}"))
        });
        let cookie = value.map(|value| {
            format!(
                "{BYPASS_COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
                BYPASS_LIFETIME.as_secs()
            )
        });
        if cookie.is_none() {
            tracing::warn!("maintenance bypass refused: the app has no key (run key:generate)");
        }
        redirect("/", cookie)
    }

    fn has_bypass(&self, request: &Request, secret: &str, now: SystemTime) -> bool {
        let Some(value) = cookie(request, BYPASS_COOKIE) else {
            return false;
        };
        let Some((expires, signature)) = value.split_once('.') else {
            return false;
        };
        if !expires.bytes().all(|b| b.is_ascii_digit())
            || !signature.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return false;
        }
        let signed = format!(
            "{}?expires={expires}&signature={signature}",
            Self::subject(secret)
        );
        self.signer.verify(&signed, now).is_ok()
    }
}

/// The value of cookie `name`, if the request sends it.
fn cookie<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// The current Unix time in seconds, for [`DownState::since`].
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maintenance(dir: &std::path::Path) -> Maintenance {
        Maintenance::new(
            Arc::new(FileStore::new(dir.join("framework/down"))),
            Some(AppKey::generate().unwrap()),
            vec!["/health".into()],
        )
    }

    fn get(path: &str, cookie: Option<&str>) -> Request {
        let mut builder = http::Request::get(path);
        if let Some(c) = cookie {
            builder = builder.header(COOKIE, c);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn down_answers_503_with_headers_and_up_restores() {
        let dir = tempfile::tempdir().unwrap();
        let m = maintenance(dir.path());
        assert!(m.check(&get("/", None)).is_none());
        m.down(DownState {
            retry: Some(60),
            refresh: Some(15),
            ..DownState::default()
        })
        .await
        .unwrap();
        let response = m.check(&get("/", None)).unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "60");
        assert_eq!(response.headers()["refresh"], "15");
        assert!(m.check(&get("/health", None)).is_none(), "health answers");
        // A second instance on the same store learns it on refresh.
        let other = maintenance(dir.path());
        other.refresh().await.unwrap();
        assert!(other.is_down());
        m.up().await.unwrap();
        assert!(m.check(&get("/", None)).is_none());
        other.refresh().await.unwrap();
        assert!(!other.is_down());
    }

    #[tokio::test]
    async fn the_secret_sets_a_cookie_that_lets_the_browser_through() {
        let dir = tempfile::tempdir().unwrap();
        let m = maintenance(dir.path());
        m.down(DownState {
            secret: Some("let-me-in".into()),
            ..DownState::default()
        })
        .await
        .unwrap();
        let response = m.check(&get("/let-me-in", None)).unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()[LOCATION], "/");
        let set = response.headers()[SET_COOKIE].to_str().unwrap();
        let pair = set.split(';').next().unwrap();
        assert!(
            m.check(&get("/posts", Some(&format!("a=b; {pair}"))))
                .is_none()
        );
        // Tampered, malformed or foreign cookies get the 503.
        let (name, value) = pair.split_once('=').unwrap();
        let (expires, signature) = value.split_once('.').unwrap();
        let later = expires.parse::<u64>().unwrap() + 1000;
        for bad in [
            format!("{name}={later}.{signature}"),
            format!("{name}={expires}.{}", "0".repeat(64)),
            format!("{name}={expires}"),
            format!("{name}=x.y"),
            format!("{name}="),
        ] {
            let response = m.check(&get("/", Some(&bad))).unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{bad}");
        }
        // A cookie signed with another key does not pass.
        let stranger = maintenance(dir.path());
        stranger.refresh().await.unwrap();
        let response = stranger.check(&get("/", Some(pair))).unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // A new `down` with another secret invalidates the cookie.
        m.down(DownState {
            secret: Some("other".into()),
            ..DownState::default()
        })
        .await
        .unwrap();
        assert!(m.check(&get("/", Some(pair))).is_some());
    }

    #[tokio::test]
    async fn redirect_sends_everything_but_its_target_there() {
        let dir = tempfile::tempdir().unwrap();
        let m = maintenance(dir.path());
        m.down(DownState {
            redirect: Some("/maintenance".into()),
            ..DownState::default()
        })
        .await
        .unwrap();
        let response = m.check(&get("/posts", None)).unwrap();
        assert_eq!(
            (response.status(), &response.headers()[LOCATION]),
            (StatusCode::FOUND, &HeaderValue::from_static("/maintenance"))
        );
        let response = m.check(&get("/maintenance", None)).unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn bad_options_and_unreadable_state_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let m = maintenance(dir.path());
        for state in [
            DownState {
                secret: Some("a/b".into()),
                ..DownState::default()
            },
            DownState {
                secret: Some(String::new()),
                ..DownState::default()
            },
            DownState {
                redirect: Some("http://elsewhere".into()),
                ..DownState::default()
            },
        ] {
            assert!(m.down(state).await.is_err());
        }
        assert!(!m.is_down());
        std::fs::create_dir_all(dir.path().join("framework")).unwrap();
        std::fs::write(dir.path().join("framework/down"), "not json").unwrap();
        let err = m.refresh().await.unwrap_err();
        assert!(err.contains("not a maintenance state"), "{err}");
    }
}
