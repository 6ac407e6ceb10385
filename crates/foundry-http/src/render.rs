//! Error rendering: every error response leaves as JSON or as an HTML page.
//!
//! [`ErrorRenderLayer`] wraps the whole app. It renders
//! - responses built from a [`foundry_core::Error`] (they carry an [`ErrorReport`]), and
//! - bare error responses with an empty body, such as axum's own 404 for an unknown path and
//!   405 for a known path with the wrong method (their headers, like `Allow`, are kept).
//!
//! JSON (`{"message": …}`) goes to clients that want it — `Accept: application/json` (or any
//! `+json` type) first in the header, `X-Requested-With: XMLHttpRequest`, or any route in the
//! `api` group ([`JsonErrorsLayer`]). Everyone else gets an HTML page. In debug mode both add
//! the private error chain; outside debug mode nothing internal is shown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::response::Response;
use foundry_core::{ErrorKind, ErrorReport};
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Request};
use tower::{Layer, Service};

/// Marks a response whose errors must render as JSON (set by [`JsonErrorsLayer`]).
#[derive(Debug, Clone, Copy)]
pub struct PreferJson;

/// Renders error responses; shared by every request.
#[derive(Debug, Clone)]
pub struct ErrorRenderer {
    debug: bool,
    app_name: Arc<str>,
}

impl ErrorRenderer {
    /// A renderer; `debug` adds the private error chain to bodies.
    pub fn new(debug: bool, app_name: &str) -> Self {
        Self {
            debug,
            app_name: app_name.into(),
        }
    }

    /// Render `response` if it is an error this renderer owns; otherwise return it unchanged.
    pub fn render(&self, response: Response, wants_json: bool) -> Response {
        if response.status().as_u16() < 400 {
            return response;
        }
        let report = match response.extensions().get::<ErrorReport>() {
            Some(report) => report.clone(),
            None if response.body().size_hint().exact() == Some(0) => {
                match ErrorKind::from_status(response.status()) {
                    Some(kind) => ErrorReport::from_kind(kind),
                    None => return response,
                }
            }
            // A handler wrote its own error body: respect it.
            None => return response,
        };
        let json = wants_json || response.extensions().get::<PreferJson>().is_some();
        let from_error = response.extensions().get::<ErrorReport>().is_some();
        if json && from_error && !self.debug {
            // `Error::into_response` already wrote exactly this body.
            return response;
        }
        let (mut parts, _) = response.into_parts();
        let (body, content_type) = if json {
            let body = serde_json::to_vec(&report.json_body(self.debug)).unwrap_or_default();
            (body, "application/json")
        } else {
            (
                self.html_page(&report, parts.status.as_u16()).into_bytes(),
                "text/html; charset=utf-8",
            )
        };
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        parts.headers.remove(CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(body))
    }

    /// The HTML error page.
    pub fn html_page(&self, report: &ErrorReport, status: u16) -> String {
        let title = format!("{status} | {}", escape(report.message()));
        let mut details = String::new();
        if let Some(errors) = report.errors() {
            details.push_str("<ul class=\"errors\">");
            for messages in errors.values() {
                for message in messages.as_array().into_iter().flatten() {
                    let text = message
                        .as_str()
                        .map_or_else(|| message.to_string(), str::to_owned);
                    details.push_str(&format!("<li>{}</li>", escape(&text)));
                }
            }
            details.push_str("</ul>");
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

/// Whether the request asks for JSON, as Laravel's `expectsJson()` decides it.
pub fn wants_json(headers: &HeaderMap) -> bool {
    if headers
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest"))
    {
        return true;
    }
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let first = accept.split(',').next().unwrap_or("");
    let media = first.split(';').next().unwrap_or("").trim();
    media.ends_with("/json") || media.ends_with("+json")
}

/// Layer applying an [`ErrorRenderer`] to every response.
#[derive(Debug, Clone)]
pub struct ErrorRenderLayer {
    renderer: Arc<ErrorRenderer>,
}

impl ErrorRenderLayer {
    /// A layer over `renderer`.
    pub fn new(renderer: ErrorRenderer) -> Self {
        Self {
            renderer: Arc::new(renderer),
        }
    }
}

impl<S> Layer<S> for ErrorRenderLayer {
    type Service = ErrorRender<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ErrorRender {
            inner,
            renderer: self.renderer.clone(),
        }
    }
}

/// The service of [`ErrorRenderLayer`].
#[derive(Debug, Clone)]
pub struct ErrorRender<S> {
    inner: S,
    renderer: Arc<ErrorRenderer>,
}

impl<S, B> Service<Request<B>> for ErrorRender<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RenderFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let wants_json = wants_json(request.headers());
        RenderFuture {
            inner: self.inner.call(request),
            wants_json,
            renderer: self.renderer.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`ErrorRender`].
    pub struct RenderFuture<F> {
        #[pin]
        inner: F,
        wants_json: bool,
        renderer: Arc<ErrorRenderer>,
    }
}

impl<F, E> Future for RenderFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => {
                Poll::Ready(Ok(this.renderer.render(response, *this.wants_json)))
            }
            other => other,
        }
    }
}

/// Marks error responses of the routes it wraps to render as JSON (the `api` group).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonErrorsLayer;

impl<S> Layer<S> for JsonErrorsLayer {
    type Service = JsonErrors<S>;
    fn layer(&self, inner: S) -> Self::Service {
        JsonErrors { inner }
    }
}

/// The service of [`JsonErrorsLayer`].
#[derive(Debug, Clone)]
pub struct JsonErrors<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for JsonErrors<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = JsonErrorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        JsonErrorsFuture {
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`JsonErrors`].
    pub struct JsonErrorsFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, E> Future for JsonErrorsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.poll(cx) {
            Poll::Ready(Ok(mut response)) => {
                // Only error responses need the mark; successes skip the extension insert.
                if response.status().as_u16() >= 400 {
                    response.extensions_mut().insert(PreferJson);
                }
                Poll::Ready(Ok(response))
            }
            other => other,
        }
    }
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
        let page = renderer.html_page(&ErrorReport::from_kind(ErrorKind::NotFound), 404);
        assert!(page.contains("&lt;App&gt;") && !page.contains("<App>"));
    }

    #[test]
    fn successes_pass_through_untouched() {
        let renderer = ErrorRenderer::new(true, "x");
        let response = Response::new(Body::empty());
        let rendered = renderer.render(response, false);
        assert_eq!(rendered.status(), http::StatusCode::OK);
        assert!(rendered.headers().get(CONTENT_TYPE).is_none());
    }
}
