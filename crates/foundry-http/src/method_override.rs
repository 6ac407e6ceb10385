//! HTML form method spoofing: a `POST` with `_method=PUT|PATCH|DELETE` (form field) or an
//! `X-HTTP-Method-Override` header is routed as that method, as in Laravel.
//!
//! It has to run before routing, so the kernel wraps the router with it from outside. Only
//! `POST` requests are inspected; only `application/x-www-form-urlencoded` bodies are read
//! (up to [`MAX_FORM_BYTES`]; larger ones pass through unchanged), and the body is handed on
//! intact.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures_util::future::Either;
use http::Method;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName};
use http_body_util::BodyExt;
use tower::{Layer, Service};

/// Form bodies larger than this are not inspected for `_method`.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

const OVERRIDE_HEADER: HeaderName = HeaderName::from_static("x-http-method-override");

fn spoofable(value: &[u8]) -> Option<Method> {
    match value.to_ascii_uppercase().as_slice() {
        b"PUT" => Some(Method::PUT),
        b"PATCH" => Some(Method::PATCH),
        b"DELETE" => Some(Method::DELETE),
        _ => None,
    }
}

/// Layer applying method spoofing.
#[derive(Debug, Clone, Copy, Default)]
pub struct MethodOverrideLayer;

impl<S> Layer<S> for MethodOverrideLayer {
    type Service = MethodOverride<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MethodOverride { inner }
    }
}

/// The service of [`MethodOverrideLayer`].
#[derive(Debug, Clone)]
pub struct MethodOverride<S> {
    inner: S,
}

type BoxedResponse<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S> Service<Request> for MethodOverride<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, BoxedResponse<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if request.method() != Method::POST {
            return Either::Left(self.inner.call(request));
        }
        // One pass over the few headers a request has, rather than a hashed lookup for each.
        let (mut spoofed, mut content_type, mut content_length) = (None, None, None);
        for (name, value) in request.headers() {
            let slot = if name == CONTENT_TYPE {
                &mut content_type
            } else if name == CONTENT_LENGTH {
                &mut content_length
            } else if name == OVERRIDE_HEADER {
                &mut spoofed
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        if let Some(method) = spoofed.and_then(|v| spoofable(v.as_bytes())) {
            *request.method_mut() = method;
            return Either::Left(self.inner.call(request));
        }
        let is_form = content_type.is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
        let small = content_length
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|len| len <= MAX_FORM_BYTES);
        if !(is_form && small) {
            return Either::Left(self.inner.call(request));
        }
        // The inner service was polled ready; take that one and leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Either::Right(Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                // The client went away mid-body: let the handler see the (empty) remainder.
                Err(_) => Default::default(),
            };
            let spoofed = form_urlencoded::parse(&bytes)
                .find(|(key, _)| key == "_method")
                .and_then(|(_, value)| spoofable(value.as_bytes()));
            if let Some(method) = spoofed {
                parts.method = method;
            }
            inner
                .call(Request::from_parts(parts, Body::from(bytes)))
                .await
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::{post, put};
    use http::StatusCode;
    use tower::ServiceExt;

    fn app() -> MethodOverride<Router> {
        let router = Router::new()
            .route(
                "/posts/1",
                put(|body: String| async move { format!("put {body}") }),
            )
            .route("/posts", post(|| async { "post" }));
        MethodOverrideLayer.layer(router)
    }

    async fn send(request: Request) -> (StatusCode, String) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn form(path: &str, body: &'static str) -> Request {
        Request::post(path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn form_field_spoofs_and_the_body_survives() {
        let (status, body) = send(form("/posts/1", "title=Hi&_method=PUT")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "put title=Hi&_method=PUT");
    }

    #[tokio::test]
    async fn header_spoofs_and_other_methods_are_ignored() {
        let request = Request::post("/posts/1")
            .header("x-http-method-override", "put")
            .body(Body::from("x"))
            .unwrap();
        assert_eq!(send(request).await, (StatusCode::OK, "put x".into()));
        let (status, _) = send(form("/posts/1", "_method=GET")).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "only PUT, PATCH, DELETE"
        );
        let (status, body) = send(form("/posts", "title=plain")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "post"));
    }

    #[tokio::test]
    async fn json_bodies_are_not_read() {
        let request = Request::post("/posts/1")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"_method":"PUT"}"#))
            .unwrap();
        assert_eq!(send(request).await.0, StatusCode::METHOD_NOT_ALLOWED);
    }
}
