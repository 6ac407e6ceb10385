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

const X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");

/// Renders error responses; shared by every request.
#[derive(Clone)]
pub struct ErrorRenderer {
    debug: bool,
    app_name: Arc<str>,
    pub(crate) json_routes: Option<Arc<matchit::Router<()>>>,
}

impl std::fmt::Debug for ErrorRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorRenderer")
            .field("debug", &self.debug)
            .field("app_name", &self.app_name)
            .field("json_routes", &self.json_routes.is_some())
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
        }
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
            let page = self.html_page(&report, parts.status.as_u16(), shown_id);
            (page.into_bytes(), "text/html; charset=utf-8")
        };
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        parts.headers.remove(CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(body))
    }

    /// The HTML error page; server errors show the request id, for support requests.
    pub fn html_page(&self, report: &ErrorReport, status: u16, request_id: Option<&str>) -> String {
        let title = format!("{status} | {}", escape(report.message()));
        let mut details = String::new();
        if let Some(errors) = report.errors() {
            details.push_str("<ul class=\"errors\">");
            for (_, messages) in errors {
                for message in messages {
                    details.push_str(&format!("<li>{}</li>", escape(message)));
                }
            }
            details.push_str("</ul>");
        }
        if let Some(id) = request_id {
            details.push_str(&format!(
                "<p class=\"app\">Request id: <code>{}</code></p>",
                escape(id)
            ));
        }
        if self.debug && report.chain().len() > 1 {
            details.push_str("<section class=\"debug\"><h2>Error chain (debug mode)</h2><ol>");
            for link in report.chain() {
                details.push_str(&format!("<li><code>{}</code></li>", escape(link)));
            }
            details.push_str("</ol></section>");
        }
        format!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
         font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f7f7f8; color: #1f2328; }}
  main {{ max-width: 40rem; padding: 2rem; }}
  .status {{ font-size: 4rem; font-weight: 700; color: #b4472f; margin: 0; }}
  .message {{ font-size: 1.25rem; margin: .5rem 0 1.5rem; }}
  .app {{ color: #6e7781; font-size: .9rem; }}
  .debug {{ margin-top: 1.5rem; padding: 1rem; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }}
  .debug h2 {{ font-size: 1rem; margin-top: 0; }}
  code {{ white-space: pre-wrap; word-break: break-word; }}
</style>
</head>
<body>
<main>
  <p class="status">{status}</p>
  <p class="message">{message}</p>
  {details}
  <p class="app">{app}</p>
</main>
</body>
</html>
"#,
            message = escape(report.message()),
            app = escape(&self.app_name),
        )
    }
}

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether the request asks for JSON, as Laravel's `expectsJson()` decides it: the first type
/// in `Accept` is JSON (`…/json` or `…+json`), or the request says `X-Requested-With:
/// XMLHttpRequest`.
pub fn wants_json(headers: &HeaderMap) -> bool {
    if headers
        .get(X_REQUESTED_WITH)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest"))
    {
        return true;
    }
    let Some(accept) = headers.get(ACCEPT) else {
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
