//! ETags and conditional GET (`[http.etag]`).
//!
//! A successful `GET` or `HEAD` response with a body of known size (up to
//! `max_body_bytes`) gets an `ETag` from a hash of its body, unless the handler set one. A
//! request whose `If-None-Match` matches it gets `304 Not Modified` without the body. Without
//! `If-None-Match`, `If-Modified-Since` is compared with the response's `Last-Modified` when
//! it has one.
//!
//! The handler still runs: this saves the bandwidth, not the work.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use http::header::{CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

/// Layer adding ETags and answering conditional `GET`s.
#[derive(Debug, Clone, Copy)]
pub struct EtagLayer {
    weak: bool,
    max_body_bytes: usize,
}

impl EtagLayer {
    /// Weak (`W/"…"`) or strong ETags, for bodies up to `max_body_bytes`.
    pub fn new(weak: bool, max_body_bytes: usize) -> Self {
        Self {
            weak,
            max_body_bytes,
        }
    }
}

impl<S> Layer<S> for EtagLayer {
    type Service = Etag<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Etag {
            inner,
            config: *self,
        }
    }
}

/// The service of [`EtagLayer`].
#[derive(Debug, Clone)]
pub struct Etag<S> {
    inner: S,
    config: EtagLayer,
}

impl<S> Service<Request> for Etag<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return Either::Right(self.inner.call(request));
        }
        let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
        let if_modified_since = request.headers().get(IF_MODIFIED_SINCE).cloned();
        let config = self.config;
        let future = self.inner.call(request);
        Either::Left(Box::pin(async move {
            let response = future.await?;
            Ok(conditional(config, response, if_none_match, if_modified_since).await)
        }))
    }
}

async fn conditional(
    config: EtagLayer,
    response: Response,
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let size = response.body().size_hint().exact();
    let response = match size {
        Some(size)
            if size > 0
                && usize::try_from(size).is_ok_and(|s| s <= config.max_body_bytes)
                && !response.headers().contains_key(ETAG) =>
        {
            let (mut parts, body) = response.into_parts();
            let Ok(collected) = body.collect().await else {
                // A body that fails to read cannot be sent either.
                let mut failed = Response::new(Body::empty());
                *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return failed;
            };
            let bytes = collected.to_bytes();
            if let Ok(tag) = HeaderValue::from_str(&tag_for(&bytes, config.weak)) {
                parts.headers.insert(ETAG, tag);
            }
            Response::from_parts(parts, Body::from(bytes))
        }
        _ => response,
    };
    let not_modified = match (&if_none_match, response.headers().get(ETAG)) {
        (Some(wanted), Some(tag)) => matches_any(wanted, tag),
        (Some(_), None) => false,
        (None, _) => unmodified_since(response.headers(), if_modified_since.as_ref()),
    };
    if not_modified {
        let (mut parts, _) = response.into_parts();
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    response
}

fn tag_for(body: &[u8], weak: bool) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(36);
    if weak {
        tag.push_str("W/");
    }
    tag.push('"');
    for byte in &digest[..16] {
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    tag
}

/// `If-None-Match` uses the weak comparison: `W/` prefixes are ignored.
fn matches_any(wanted: &HeaderValue, tag: &HeaderValue) -> bool {
    let (Ok(wanted), Ok(tag)) = (wanted.to_str(), tag.to_str()) else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let tag = opaque(tag);
    wanted
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == tag)
}

fn unmodified_since(headers: &HeaderMap, since: Option<&HeaderValue>) -> bool {
    let parse = |v: &HeaderValue| httpdate::parse_http_date(v.to_str().ok()?).ok();
    match (
        headers.get(LAST_MODIFIED).and_then(parse),
        since.and_then(parse),
    ) {
        (Some(modified), Some(since)) => modified <= since,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn call(request: http::Request<Body>, response: Response) -> Response {
        let service = EtagLayer::new(true, 1024).layer(tower::service_fn(move |_req: Request| {
            let response = Response::from_parts(
                {
                    let (parts, _) = http::Response::new(()).into_parts();
                    let mut parts = parts;
                    parts.status = response.status();
                    parts.headers = response.headers().clone();
                    parts
                },
                Body::from("hello etag"),
            );
            async move { Ok::<_, Infallible>(response) }
        }));
        service.oneshot(request).await.unwrap()
    }

    fn request(method: Method, headers: &[(&'static str, &str)]) -> http::Request<Body> {
        let mut builder = http::Request::builder().method(method).uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn tags_and_304s() {
        let ok = || Response::new(Body::empty());
        let first = call(request(Method::GET, &[]), ok()).await;
        let tag = first.headers()[ETAG].to_str().unwrap().to_owned();
        assert!(tag.starts_with("W/\"") && tag.len() == 36, "{tag}");
        let again = call(request(Method::GET, &[("if-none-match", &tag)]), ok()).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[ETAG], tag.as_str());
        assert!(
            again
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
        let strong = tag.trim_start_matches("W/");
        let listed = format!("\"other\", {strong}");
        let head = call(request(Method::HEAD, &[("if-none-match", &listed)]), ok()).await;
        assert_eq!(
            head.status(),
            StatusCode::NOT_MODIFIED,
            "weak comparison, lists"
        );
        let stale = call(request(Method::GET, &[("if-none-match", "\"nope\"")]), ok()).await;
        assert_eq!(stale.status(), StatusCode::OK);
        assert_eq!(
            stale.into_body().collect().await.unwrap().to_bytes(),
            "hello etag"
        );
        let post = call(request(Method::POST, &[("if-none-match", "*")]), ok()).await;
        assert!(!post.headers().contains_key(ETAG), "only GET and HEAD");
        let mut missing = Response::new(Body::empty());
        *missing.status_mut() = StatusCode::NOT_FOUND;
        let missing = call(request(Method::GET, &[("if-none-match", "*")]), missing).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn if_modified_since_compares_with_last_modified() {
        let dated = || {
            let mut r = Response::new(Body::empty());
            r.headers_mut().insert(
                LAST_MODIFIED,
                HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"),
            );
            r
        };
        let later = [("if-modified-since", "Thu, 22 Oct 2026 07:28:00 GMT")];
        assert_eq!(
            call(request(Method::GET, &later), dated()).await.status(),
            StatusCode::NOT_MODIFIED
        );
        let earlier = [("if-modified-since", "Tue, 20 Oct 2026 07:28:00 GMT")];
        assert_eq!(
            call(request(Method::GET, &earlier), dated()).await.status(),
            StatusCode::OK
        );
        let garbage = [("if-modified-since", "yesterday")];
        assert_eq!(
            call(request(Method::GET, &garbage), dated()).await.status(),
            StatusCode::OK
        );
    }
}
