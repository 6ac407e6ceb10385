//! Responses handlers return besides `Json` and views: redirects (to a path or a named
//! route), file downloads (streamed), `204 No Content`, and `201 Created` with `Location`.
//!
//! ```
//! use foundry_core::{AppContext, Result};
//! use foundry_http::respond::{Created, Download, NoContent, Redirect};
//! use foundry_http::Json;
//! use axum::extract::State;
//!
//! async fn old_home() -> Redirect {
//!     Redirect::to("/posts").permanent()
//! }
//!
//! async fn after_save(State(ctx): State<AppContext>) -> Result<Redirect> {
//!     Ok(Redirect::route(ctx.urls(), "posts.show", [("post", 5)])?)
//! }
//!
//! async fn store() -> Created<Json<serde_json::Value>> {
//!     Created::at("/api/posts/5", Json(serde_json::json!({"data": {"id": 5}})))
//! }
//!
//! async fn destroy() -> NoContent {
//!     NoContent
//! }
//!
//! async fn invoice() -> Result<Download> {
//!     Download::file("storage/invoices/5.pdf").await.map(|d| d.name("invoice-5.pdf"))
//! }
//! ```

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use foundry_core::url::{RouteParams, UrlError};
use foundry_core::{Error, UrlGenerator};
use http::StatusCode;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::io::AsyncReadExt;

/// A redirect: `302 Found` by default, as Laravel's `redirect()`.
#[derive(Debug, Clone)]
pub struct Redirect {
    location: String,
    status: StatusCode,
}

impl Redirect {
    /// To a path or URL.
    pub fn to(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            status: StatusCode::FOUND,
        }
    }

    /// To a named route (`to_route`); extra parameters become the query string.
    pub fn route(
        urls: &UrlGenerator,
        name: &str,
        params: impl RouteParams,
    ) -> Result<Self, UrlError> {
        urls.route(name, params).map(Self::to)
    }

    /// Back where the request came from (its `Referer`), Laravel's `back()`. Only a referer
    /// on this app (under `[app] url`, or a plain path) is followed, so a link from another
    /// site cannot turn the app into a redirector; otherwise `fallback`.
    pub fn back(headers: &http::HeaderMap, urls: &UrlGenerator, fallback: &str) -> Self {
        let home = urls.to("/");
        let referer = headers
            .get(http::header::REFERER)
            .and_then(|v| v.to_str().ok())
            .filter(|r| r.starts_with(&home) || (r.starts_with('/') && !r.starts_with("//")));
        Self::to(referer.unwrap_or(fallback))
    }

    /// `301 Moved Permanently`.
    pub fn permanent(mut self) -> Self {
        self.status = StatusCode::MOVED_PERMANENTLY;
        self
    }

    /// `303 See Other` (after a form post, the browser follows with a `GET`).
    pub fn see_other(mut self) -> Self {
        self.status = StatusCode::SEE_OTHER;
        self
    }

    /// Where it points.
    pub fn location(&self) -> &str {
        &self.location
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        match HeaderValue::try_from(self.location) {
            Ok(location) => (self.status, [(LOCATION, location)]).into_response(),
            Err(_) => {
                Error::internal("redirect location is not a valid header value").into_response()
            }
        }
    }
}

/// `204 No Content`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// `201 Created` with a `Location` header and a body.
#[derive(Debug, Clone)]
pub struct Created<T> {
    location: String,
    body: T,
}

impl<T> Created<T> {
    /// The new resource lives at `location`.
    pub fn at(location: impl Into<String>, body: T) -> Self {
        Self {
            location: location.into(),
            body,
        }
    }
}

impl<T: IntoResponse> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::CREATED, self.body).into_response();
        match HeaderValue::try_from(self.location) {
            Ok(location) => {
                response.headers_mut().insert(LOCATION, location);
                response
            }
            Err(_) => {
                Error::internal("created location is not a valid header value").into_response()
            }
        }
    }
}

/// A file sent in chunks as it is read (never whole in memory), as an attachment
/// (`Content-Disposition: attachment`, Laravel's `download`) or inline (`file`).
#[derive(Debug)]
pub struct Download {
    file: tokio::fs::File,
    length: u64,
    name: String,
    content_type: &'static str,
    inline: bool,
}

/// Bytes read per chunk.
const CHUNK: usize = 64 * 1024;

/// Characters kept as they are in an RFC 5987 `filename*`.
const FILENAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Download {
    /// Open `path` for download; the name offered is the file's own. A missing file is a 404
    /// (the path is logged, never shown).
    pub async fn file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let file = tokio::fs::File::open(path).await.map_err(|err| {
            let source = format!("cannot open {} for download: {err}", path.display());
            if err.kind() == std::io::ErrorKind::NotFound {
                Error::not_found("Not Found").with_source(source)
            } else {
                Error::internal(source)
            }
        })?;
        let metadata = file
            .metadata()
            .await
            .map_err(|err| Error::internal(format!("cannot stat {}: {err}", path.display())))?;
        if !metadata.is_file() {
            return Err(Error::not_found("Not Found")
                .with_source(format!("{} is not a file", path.display())));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "download".to_owned());
        Ok(Self {
            file,
            length: metadata.len(),
            content_type: content_type_for(&PathBuf::from(&name)),
            name,
            inline: false,
        })
    }

    /// Offer the file under another name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self.content_type = content_type_for(&PathBuf::from(&self.name));
        self
    }

    /// Show it in the browser (`inline`) instead of saving it.
    pub fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// The `Content-Disposition` value: an ASCII `filename` for old clients and the exact
    /// name in `filename*`.
    fn disposition(&self) -> String {
        let fallback: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{}; filename=\"{fallback}\"; filename*=UTF-8''{}",
            if self.inline { "inline" } else { "attachment" },
            utf8_percent_encode(&self.name, FILENAME)
        )
    }
}

impl IntoResponse for Download {
    fn into_response(self) -> Response {
        let disposition = self.disposition();
        let stream = futures_util::stream::unfold(self.file, |mut file| async move {
            let mut buffer = vec![0u8; CHUNK];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buffer)), file))
                }
                Err(err) => Some((Err(err), file)),
            }
        });
        let mut response = Response::new(Body::from_stream(stream));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(self.length));
        if let Ok(value) = HeaderValue::try_from(disposition) {
            headers.insert(CONTENT_DISPOSITION, value);
        }
        response
    }
}

/// The media type of common file extensions; anything else is `application/octet-stream`.
fn content_type_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(response: Response) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[test]
    fn redirects_to_paths_and_named_routes() {
        let response = Redirect::to("/posts").into_response();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()[LOCATION], "/posts");
        assert_eq!(
            Redirect::to("/").permanent().into_response().status(),
            StatusCode::MOVED_PERMANENTLY
        );
        assert_eq!(
            Redirect::to("/").see_other().into_response().status(),
            StatusCode::SEE_OTHER
        );

        let urls = UrlGenerator::default().with_routes([("posts.show", "/posts/{post}")]);
        let redirect = Redirect::route(&urls, "posts.show", [("post", 5), ("tab", 2)]).unwrap();
        assert_eq!(redirect.location(), "/posts/5?tab=2");
        let err = Redirect::route(&urls, "posts.shwo", [("post", 5)]).unwrap_err();
        assert!(err.to_string().contains("posts.show"), "{err}");
        let mut headers = http::HeaderMap::new();
        assert_eq!(Redirect::back(&headers, &urls, "/home").location(), "/home");
        headers.insert(
            http::header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8000/posts?page=2"),
        );
        assert_eq!(
            Redirect::back(&headers, &urls, "/home").location(),
            "http://127.0.0.1:8000/posts?page=2"
        );
        headers.insert(
            http::header::REFERER,
            HeaderValue::from_static("https://evil.test/phish"),
        );
        assert_eq!(Redirect::back(&headers, &urls, "/home").location(), "/home");
        headers.insert(
            http::header::REFERER,
            HeaderValue::from_static("//evil.test/phish"),
        );
        assert_eq!(Redirect::back(&headers, &urls, "/home").location(), "/home");

        assert_eq!(
            Redirect::to("/bad\nheader").into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[tokio::test]
    async fn no_content_and_created() {
        let response = NoContent.into_response();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(body(response).await.is_empty());

        let response = Created::at("/api/posts/5", "made").into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[LOCATION], "/api/posts/5");
        assert_eq!(body(response).await, b"made");
    }

    #[tokio::test]
    async fn downloads_stream_the_file_with_a_disposition() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();

        let response = Download::file(&path).await.unwrap().into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(response.headers()[CONTENT_LENGTH], "200000");
        assert_eq!(
            response.headers()[CONTENT_DISPOSITION],
            "attachment; filename=\"report.csv\"; filename*=UTF-8''report.csv"
        );
        assert_eq!(body(response).await, content, "every chunk, in order");

        let response = Download::file(&path)
            .await
            .unwrap()
            .name("Bericht März \"final\".pdf")
            .inline()
            .into_response();
        assert_eq!(response.headers()[CONTENT_TYPE], "application/pdf");
        assert_eq!(
            response.headers()[CONTENT_DISPOSITION],
            "inline; filename=\"Bericht M_rz _final_.pdf\"; \
             filename*=UTF-8''Bericht%20M%C3%A4rz%20%22final%22.pdf"
        );
    }

    #[tokio::test]
    async fn a_missing_file_is_a_404_that_keeps_the_path_private() {
        let err = Download::file("/nonexistent/secret.pdf").await.unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert_eq!(err.public_message(), "Not Found");
        assert!(err.chain()[1].contains("/nonexistent/secret.pdf"));
        let dir = tempfile::tempdir().unwrap();
        let err = Download::file(dir.path()).await.unwrap_err();
        assert_eq!(
            err.status(),
            StatusCode::NOT_FOUND,
            "a directory is not a file"
        );
    }
}
