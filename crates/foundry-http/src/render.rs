//! Error rendering: every error response leaves as JSON or as an HTML page.
//!
//! The kernel's front service ([`crate::front`]) applies an [`ErrorRenderer`] to every
//! response. It renders
//! - responses built from a [`foundry_core::Error`] (they carry an [`ErrorReport`]), and
//! - bare error responses with an empty body, such as axum's own 404 for an unknown path and
//!   405 for a known path with the wrong method (their headers, like `Allow`, are kept).
//!
//! JSON (`{"message": …}`) goes to clients that want it — `Accept: application/json` (or any
//! `+json` type) first in the header, `X-Requested-With: XMLHttpRequest`, or any route with
//! the [`RouteFlag::JsonErrors`](crate::middleware::RouteFlag) flag (the `api` group).
//! Everyone else gets an HTML page. In debug mode both add the private error chain; outside
//! debug mode nothing internal is shown.
//!
//! The route table of JSON routes is consulted only when an error is rendered.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::response::Response;
use foundry_core::{ErrorKind, ErrorReport};
use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};

pub(crate) const X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");

/// What an HTML error page shows.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage<'a> {
    /// The status code.
    pub status: u16,
    /// The status's title ("Not Found", "Page Expired", …).
    pub title: &'a str,
    /// The public message.
    pub message: &'a str,
    /// The request id, when there is one.
    pub request_id: Option<&'a str>,
    /// Validation errors by field.
    pub errors: Option<&'a [(String, Vec<String>)]>,
    /// The private error chain: empty outside debug mode.
    pub debug_chain: &'a [String],
    /// The app's name.
    pub app_name: &'a str,
}

/// The app's own error pages (e.g. `errors/404.html` templates); `None` means the default page.
pub trait ErrorPages: Send + Sync {
    /// The page for this error, or `None` to use the default one.
    fn render_page(&self, page: &ErrorPage<'_>) -> Option<String>;
}

/// Renders error responses; shared by every request.
#[derive(Clone)]
pub struct ErrorRenderer {
    debug: bool,
    app_name: Arc<str>,
    pub(crate) json_routes: Option<Arc<matchit::Router<()>>>,
    pages: Option<Arc<dyn ErrorPages>>,
}

impl std::fmt::Debug for ErrorRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorRenderer")
            .field("debug", &self.debug)
            .field("app_name", &self.app_name)
            .field("json_routes", &self.json_routes.is_some())
            .field("pages", &self.pages.is_some())
            .finish()
    }
}

impl ErrorRenderer {
    /// A renderer; `debug` adds the private error chain to bodies.
    pub fn new(debug: bool, app_name: &str) -> Self {
        Self {
            debug,
            app_name: app_name.into(),
            json_routes: None,
            pages: None,
        }
    }

    /// HTML error pages come from `pages` when it has one for the status.
    pub fn with_pages(mut self, pages: Arc<dyn ErrorPages>) -> Self {
        self.pages = Some(pages);
        self
    }

    /// Errors of requests to these path templates (`/api/posts/{post}`) render as JSON.
    pub fn with_json_routes<'a>(mut self, paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut router = matchit::Router::new();
        let mut any = false;
        for path in paths {
            // The same templates already went into the axum router, so they are valid and
            // distinct; a duplicate (one path, several methods) is simply already there.
            any |= router.insert(path, ()).is_ok();
        }
        self.json_routes = any.then(|| Arc::new(router));
        self
    }

    pub(crate) fn is_json_route(&self, path: &str) -> bool {
        self.json_routes
            .as_ref()
            .is_some_and(|routes| routes.at(path).is_ok())
    }

    /// Render `response` if it is an error this renderer owns; otherwise return it unchanged.
    /// `path` is the request's path, when JSON routes are configured; `request_id` the
    /// request's id, when there is one.
    pub fn render(
        &self,
        response: Response,
        wants_json: bool,
        path: Option<&str>,
        request_id: Option<&HeaderValue>,
    ) -> Response {
        if response.status().as_u16() < 400 {
            return response;
        }
        let from_error = response.extensions().get::<ErrorReport>().cloned();
        let report = match from_error.clone() {
            Some(report) => report,
            None if response.body().size_hint().exact() == Some(0) => {
                match ErrorKind::from_status(response.status()) {
                    Some(kind) => ErrorReport::from_kind(kind),
                    None => return response,
                }
            }
            // A handler wrote its own error body: respect it.
            None => return response,
        };
        let request_id = request_id.and_then(|v| v.to_str().ok());
        let server_error = response.status().is_server_error();
        if report.kind() == ErrorKind::Internal {
            tracing::error!(
                status = response.status().as_u16(),
                request_id = request_id.unwrap_or("-"),
                error = %report.chain().join(": "),
                "request failed"
            );
        }
        let json = wants_json || path.is_some_and(|p| self.is_json_route(p));
        let shown_id = request_id.filter(|_| server_error);
        if json && from_error.is_some() && !self.debug && shown_id.is_none() {
            // `Error::into_response` already wrote exactly this body.
            return response;
        }
        let (mut parts, _) = response.into_parts();
        let (body, content_type) = if json {
            (
                report.json_body_with(self.debug, shown_id),
                "application/json",
            )
        } else {
            // Every page shows the request id: a user quoting it helps support find the logs.
            let page = self.html_page(&report, parts.status.as_u16(), request_id);
            (page.into_bytes(), "text/html; charset=utf-8")
        };
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        parts.headers.remove(CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(body))
    }

    /// The HTML error page: the app's own for the status when it has one, else the default.
    pub fn html_page(&self, report: &ErrorReport, status: u16, request_id: Option<&str>) -> String {
        let chain = report.chain();
        let page = ErrorPage {
            status,
            title: status_title(status),
            message: report.message(),
            request_id,
            errors: report.errors(),
            debug_chain: if self.debug && chain.len() > 1 {
                chain
            } else {
                &[]
            },
            app_name: &self.app_name,
        };
        if let Some(html) = self.pages.as_ref().and_then(|p| p.render_page(&page)) {
            return html;
        }
        default_page(&page)
    }
}

/// The title of an error status, as Laravel's error pages word it.
pub fn status_title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        419 => "Page Expired",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        s if s >= 500 => "Server Error",
        _ => "Error",
    }
}

/// The built-in page: one inline-CSS layout for every status.
fn default_page(page: &ErrorPage<'_>) -> String {
    let status = page.status;
    let title = escape(page.title);
    let mut details = String::new();
    if let Some(errors) = page.errors {
        details.push_str("<ul class=\"errors\">");
        for (_, messages) in errors {
            for message in messages {
                details.push_str(&format!("<li>{}</li>", escape(message)));
            }
        }
        details.push_str("</ul>");
    }
    if let Some(id) = page.request_id {
        details.push_str(&format!(
            "<p class=\"meta\">Request id: <code>{}</code></p>",
            escape(id)
        ));
    }
    if !page.debug_chain.is_empty() {
        details.push_str("<section class=\"debug\"><h2>Error chain (debug mode)</h2><ol>");
        for link in page.debug_chain {
            details.push_str(&format!("<li><code>{}</code></li>", escape(link)));
        }
        details.push_str("</ol></section>");
    }
    // The message repeats the title for errors without one of their own ("Not Found").
    let message = if page.message.trim_end_matches('.') == page.title {
        String::new()
    } else {
        format!("<p class=\"message\">{}</p>", escape(page.message))
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status} | {title}</title>
<style>
  body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
         font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f7f7f8; color: #1f2328; }}
  main {{ max-width: 40rem; padding: 2rem; }}
  .head {{ display: flex; align-items: baseline; gap: 1rem; border-bottom: 1px solid #d0d7de; padding-bottom: .75rem; }}
  .status {{ font-size: 3rem; font-weight: 700; color: #b4472f; margin: 0; }}
  h1 {{ font-size: 1.5rem; font-weight: 600; margin: 0; }}
  .message {{ font-size: 1.1rem; margin: 1rem 0; }}
  .errors {{ padding-left: 1.25rem; }}
  .meta {{ color: #6e7781; font-size: .9rem; }}
  .debug {{ margin-top: 1.5rem; padding: 1rem; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }}
  .debug h2 {{ font-size: 1rem; margin-top: 0; }}
  code {{ white-space: pre-wrap; word-break: break-word; }}
</style>
</head>
<body>
<main>
  <div class="head"><p class="status">{status}</p><h1>{title}</h1></div>
  {message}
  {details}
  <p class="meta">{app}</p>
</main>
</body>
</html>
"#,
        app = escape(page.app_name),
    )
}

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Writing to a `String` cannot fail.
    let _ = escape_into(&mut out, text);
    out
}

/// [`escape`] into any writer (a view's output), without building a `String` first. Text
/// between the characters to escape is copied in runs, not one character at a time, and is
/// scanned eight bytes at a time: most text has nothing to escape.
pub fn escape_into(out: &mut impl std::fmt::Write, text: &str) -> std::fmt::Result {
    let mut run = 0;
    let mut words = text.as_bytes().chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        if may_need_escaping(word) {
            run = escape_bytes(out, text, run, offset, word)?;
        }
        offset += 8;
    }
    let rest = words.remainder();
    if may_need_escaping(rest) {
        run = escape_bytes(out, text, run, offset, rest)?;
    }
    out.write_str(&text[run..])
}

/// Writes `text[run..]` up to each byte of `bytes` (which starts at `offset` in `text`) that
/// needs escaping, then that byte's entity; returns where the text not yet written starts.
fn escape_bytes(
    out: &mut impl std::fmt::Write,
    text: &str,
    mut run: usize,
    offset: usize,
    bytes: &[u8],
) -> Result<usize, std::fmt::Error> {
    for (i, byte) in bytes.iter().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // The escaped bytes are ASCII, so `offset + i` is always on a character boundary.
        out.write_str(&text[run..offset + i])?;
        out.write_str(entity)?;
        run = offset + i + 1;
    }
    Ok(run)
}

/// Whether any of (at most eight) bytes is one of `&'"<>`, tested on all of them at once: a
/// byte is `&` or `'` when it reads 0x27 with its lowest bit set, `<` or `>` when it reads 0x3E
/// with its second bit set, and `"` is 0x22. Each test makes the matching bytes zero, and
/// `(v - 0x01…) & !v & 0x80…` is non-zero exactly when some byte of `v` is zero. Fewer than
/// eight bytes are padded with zeros, which match none of the tests.
fn may_need_escaping(word: &[u8]) -> bool {
    const fn splat(byte: u8) -> u64 {
        u64::from_ne_bytes([byte; 8])
    }
    let zero_byte = |v: u64| v.wrapping_sub(splat(0x01)) & !v;
    let mut bytes = [0; 8];
    bytes[..word.len()].copy_from_slice(word);
    let word = u64::from_ne_bytes(bytes);
    let found = zero_byte((word | splat(0x01)) ^ splat(0x27))
        | zero_byte((word | splat(0x02)) ^ splat(0x3E))
        | zero_byte(word ^ splat(0x22));
    found & splat(0x80) != 0
}

/// Whether the request asks for JSON, as Laravel's `expectsJson()` decides it: the first type
/// in `Accept` is JSON (`…/json` or `…+json`), or the request says `X-Requested-With:
/// XMLHttpRequest`.
pub fn wants_json(headers: &HeaderMap) -> bool {
    json_requested(headers.get(ACCEPT), headers.get(X_REQUESTED_WITH))
}

/// [`wants_json`] from the two headers it reads, for a caller that found them itself.
pub(crate) fn json_requested(
    accept: Option<&HeaderValue>,
    requested_with: Option<&HeaderValue>,
) -> bool {
    if requested_with.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest")) {
        return true;
    }
    let Some(accept) = accept else {
        return false;
    };
    let bytes = accept.as_bytes();
    let end = bytes
        .iter()
        .position(|b| *b == b',' || *b == b';')
        .unwrap_or(bytes.len());
    let media = bytes[..end].trim_ascii();
    media.ends_with(b"/json") || media.ends_with(b"+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn escape_replaces_the_five_characters_and_keeps_everything_else() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("plain — テキスト"), "plain — テキスト");
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("&&é<"), "&amp;&amp;é&lt;");
        let mut out = String::from("kept ");
        escape_into(&mut out, "<b>").unwrap();
        assert_eq!(out, "kept &lt;b&gt;");
    }

    #[test]
    fn escape_finds_every_special_byte_at_every_place_in_a_word() {
        // Each character to escape, and characters with bytes close to theirs, at every
        // position of texts that span one, two and three eight-byte words.
        let specials = ['&', '<', '>', '"', '\''];
        let near = ['%', '#', '$', '6', ';', '=', '?', 'é', '€'];
        for len in [1, 7, 8, 9, 15, 16, 17, 23] {
            for at in 0..len {
                for c in specials.iter().chain(&near) {
                    let text: String = (0..len).map(|i| if i == at { *c } else { 'a' }).collect();
                    let expected: String = text
                        .chars()
                        .map(|ch| match ch {
                            '&' => "&amp;".to_owned(),
                            '<' => "&lt;".to_owned(),
                            '>' => "&gt;".to_owned(),
                            '"' => "&quot;".to_owned(),
                            '\'' => "&#39;".to_owned(),
                            other => other.to_string(),
                        })
                        .collect();
                    assert_eq!(escape(&text), expected, "{text:?}");
                }
            }
        }
        assert_eq!(
            escape("<<<<<<<<>>>>>>>>"),
            "&lt;".repeat(8) + &"&gt;".repeat(8)
        );
    }

    #[test]
    fn wants_json_follows_the_first_accepted_type_and_ajax() {
        assert!(wants_json(&headers(&[("accept", "application/json")])));
        assert!(wants_json(&headers(&[(
            "accept",
            "application/problem+json; q=1"
        )])));
        assert!(wants_json(&headers(&[(
            "x-requested-with",
            "XMLHttpRequest"
        )])));
        assert!(!wants_json(&headers(&[(
            "accept",
            "text/html, application/json"
        )])));
        assert!(!wants_json(&headers(&[("accept", "*/*")])));
        assert!(!wants_json(&HeaderMap::new()));
    }

    #[test]
    fn pages_escape_messages() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let renderer = ErrorRenderer::new(false, "<App>");
        let page = renderer.html_page(&ErrorReport::from_kind(ErrorKind::NotFound), 404, None);
        assert!(page.contains("&lt;App&gt;") && !page.contains("<App>"));
    }

    #[test]
    fn json_routes_are_matched_by_template() {
        let renderer = ErrorRenderer::new(false, "x")
            .with_json_routes(["/api/posts/{post}", "/api/posts/{post}"]);
        assert!(renderer.is_json_route("/api/posts/5"));
        assert!(!renderer.is_json_route("/api/posts"));
        let bare = Response::builder().status(404).body(Body::empty()).unwrap();
        let rendered = renderer.render(bare, false, Some("/api/posts/5"), None);
        assert_eq!(rendered.headers()[CONTENT_TYPE], "application/json");
        assert!(
            ErrorRenderer::new(false, "x")
                .with_json_routes([])
                .json_routes
                .is_none()
        );
    }

    #[test]
    fn successes_pass_through_untouched() {
        let renderer = ErrorRenderer::new(true, "x");
        let response = Response::new(Body::empty());
        let rendered = renderer.render(response, false, None, None);
        assert_eq!(rendered.status(), http::StatusCode::OK);
        assert!(rendered.headers().get(CONTENT_TYPE).is_none());
    }
}
