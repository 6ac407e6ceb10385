//! Static files (`[http.static_files]`): `public/` under the app root, served before the
//! routes as a web server in front of the app would, with a configurable `Cache-Control`.
//!
//! Outside `local` the directory is indexed once at boot, so a request that is not for a
//! file costs a set lookup, not a filesystem call (files added later are not seen until the
//! next start; releases ship their assets with the binary anyway). In `local` every `GET`
//! under the prefix looks at the disk, so new files show up at once. A path that is not a
//! file (missing, a directory, `..`, a dotfile) goes on to the routes, and so to the app's
//! 404 page.

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use http::header::CACHE_CONTROL;
use http::{HeaderValue, Method, Uri};
use tower::{Layer, Service, ServiceExt};
use tower_http::services::ServeDir;

/// Indexing stops here; larger directories are looked up on disk per request.
const MAX_INDEXED: usize = 20_000;

/// The configured static files.
#[derive(Debug)]
pub struct StaticFiles {
    dir: PathBuf,
    /// The prefix without its trailing `/` (`""` for the root).
    prefix: String,
    index: Option<HashSet<String>>,
    cache_control: Option<HeaderValue>,
    serve: ServeDir,
}

impl StaticFiles {
    /// Files of `dir` at `prefix`; `index` builds the in-memory index (outside `local`).
    /// `None` when `dir` is not a directory.
    pub fn new(
        dir: &Path,
        prefix: &str,
        cache_control: Option<HeaderValue>,
        index: bool,
    ) -> Option<Self> {
        if !dir.is_dir() {
            return None;
        }
        let index = if index { build_index(dir) } else { None };
        Some(Self {
            dir: dir.to_path_buf(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            index,
            cache_control,
            serve: ServeDir::new(dir).append_index_html_on_directories(false),
        })
    }

    /// The file a request path names, as a `/`-separated path relative to the directory.
    fn file_for(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?;
        let decoded = if rest.contains('%') {
            percent_encoding::percent_decode_str(rest)
                .decode_utf8()
                .ok()?
                .into_owned()
        } else {
            rest.to_owned()
        };
        // Every segment a plain, visible name: no `..`, `.`, empty segments or dotfiles.
        let safe = !decoded.contains('\\')
            && !decoded.contains('\0')
            && decoded
                .split('/')
                .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
        if !safe {
            return None;
        }
        let found = match &self.index {
            Some(index) => index.contains(&decoded),
            None => self.dir.join(&decoded).is_file(),
        };
        found.then_some(decoded)
    }
}

/// Every regular, non-hidden file under `dir`; `None` when there are too many.
fn build_index(dir: &Path) -> Option<HashSet<String>> {
    let mut files = HashSet::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, relative)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            // `metadata` follows symlinks, as serving does.
            match std::fs::metadata(entry.path()) {
                Ok(meta) if meta.is_dir() => pending.push((entry.path(), child)),
                Ok(meta) if meta.is_file() => {
                    files.insert(child);
                    if files.len() > MAX_INDEXED {
                        return None;
                    }
                }
                _ => {}
            }
        }
    }
    Some(files)
}

/// Layer serving [`StaticFiles`] in front of the routes.
#[derive(Debug, Clone)]
pub struct StaticFilesLayer {
    files: Arc<StaticFiles>,
}

impl StaticFilesLayer {
    /// A layer over `files`.
    pub fn new(files: StaticFiles) -> Self {
        Self {
            files: Arc::new(files),
        }
    }
}

impl<S> Layer<S> for StaticFilesLayer {
    type Service = StaticFilesService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        StaticFilesService {
            inner,
            files: self.files.clone(),
        }
    }
}

/// The service of [`StaticFilesLayer`].
#[derive(Debug, Clone)]
pub struct StaticFilesService<S> {
    inner: S,
    files: Arc<StaticFiles>,
}

impl<S> Service<Request> for StaticFilesService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let file = matches!(*request.method(), Method::GET | Method::HEAD)
            .then(|| self.files.file_for(request.uri().path()))
            .flatten();
        let Some(file) = file else {
            return Either::Right(self.inner.call(request));
        };
        // ServeDir resolves the path itself; hand it the checked relative one.
        if let Ok(uri) = Uri::builder()
            .path_and_query(format!("/{}", encode(&file)))
            .build()
        {
            *request.uri_mut() = uri;
        }
        let files = self.files.clone();
        Either::Left(Box::pin(async move {
            let response = match files.serve.clone().oneshot(request).await {
                Ok(response) => response.map(Body::new),
                Err(never) => match never {},
            };
            let mut response = response;
            if let Some(cache) = &files.cache_control
                && (response.status().is_success() || response.status().as_u16() == 304)
            {
                response
                    .headers_mut()
                    .entry(CACHE_CONTROL)
                    .or_insert_with(|| cache.clone());
            }
            Ok(response)
        }))
    }
}

fn encode(path: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(path, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(index: bool) -> (tempfile::TempDir, StaticFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("public/css")).unwrap();
        std::fs::write(dir.path().join("public/css/app.css"), "body{}").unwrap();
        std::fs::write(dir.path().join("public/a b.txt"), "spaced").unwrap();
        std::fs::write(dir.path().join("public/.env"), "SECRET=1").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
        let files = StaticFiles::new(&dir.path().join("public"), "/", None, index).unwrap();
        (dir, files)
    }

    #[test]
    fn only_real_visible_files_inside_the_directory_match() {
        for index in [true, false] {
            let (_dir, f) = files(index);
            assert_eq!(f.file_for("/css/app.css").as_deref(), Some("css/app.css"));
            assert_eq!(f.file_for("/a%20b.txt").as_deref(), Some("a b.txt"));
            for path in [
                "/css",
                "/",
                "/missing.css",
                "/../secret.txt",
                "/css/../../secret.txt",
                "/%2e%2e/secret.txt",
                "/..%2fsecret.txt",
                "/.env",
                "/css/./app.css",
                "//etc/passwd",
                "/%ff",
            ] {
                assert_eq!(f.file_for(path), None, "{path} (index: {index})");
            }
        }
    }

    #[test]
    fn a_prefix_is_required_and_stripped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.js"), "x").unwrap();
        let f = StaticFiles::new(dir.path(), "/assets/", None, true).unwrap();
        assert_eq!(f.file_for("/assets/app.js").as_deref(), Some("app.js"));
        assert_eq!(f.file_for("/app.js"), None);
        assert_eq!(f.file_for("/assetsapp.js"), None);
        assert!(StaticFiles::new(&dir.path().join("nope"), "/", None, true).is_none());
    }
}
