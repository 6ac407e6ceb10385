//! The request timeout: a request not answered within the limit gets an empty 503, which the
//! front renders like any other error.
//!
//! The timer is armed only when the request first has to wait: most requests are answered
//! in the first poll, and a timer registered and cancelled in the runtime's timer wheel for
//! each of them costs more than the rest of the stack. The deadline still counts from when
//! the request arrived.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::StatusCode;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// Layer answering 503 to requests that take longer than a duration.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Option<Duration>,
}

impl TimeoutLayer {
    /// Requests may take `limit`.
    pub fn new(limit: Duration) -> Self {
        Self { limit: Some(limit) }
    }

    /// No limit: requests pass through. The stack uses this rather than leaving the layer
    /// out, which would wrap every request in one more future to choose between the two.
    pub fn off() -> Self {
        Self { limit: None }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Option<Duration>,
}

impl<S> Service<Request> for Timeout<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        TimeoutFuture {
            // A limit too far off to represent is no limit.
            deadline: self
                .limit
                .and_then(|limit| Instant::now().checked_add(limit))
                .map(Deadline::new),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Timeout`].
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        deadline: Option<Deadline>,
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        ready!(deadline.poll_expired(cx));
        Poll::Ready(Ok(timed_out()))
    }
}

/// When a request runs out of time; the timer behind it is made only once the request has
/// to wait.
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Instant,
    // Boxed: only a request that has to wait needs it, and inline it would make every
    // request's future larger (it is moved as it is wrapped).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    pub(crate) fn new(at: Instant) -> Self {
        Self { at, sleep: None }
    }

    /// Ready once the deadline has passed; otherwise wakes the task when it does.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        self.sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)))
            .as_mut()
            .poll(cx)
    }
}

/// The answer to a request that ran out of time: an empty 503, rendered by the front.
pub(crate) fn timed_out() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn get_path(limit: Duration, path: &str) -> (StatusCode, String) {
        let router = Router::new()
            .route("/fast", get(|| async { "fast" }))
            .route("/never", get(std::future::pending::<&'static str>))
            .route(
                "/waits",
                get(|| async {
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    "waited"
                }),
            );
        let response = TimeoutLayer::new(limit)
            .layer(router)
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn answers_in_time_pass_through() {
        let limit = Duration::from_secs(600);
        assert_eq!(
            get_path(limit, "/fast").await,
            (StatusCode::OK, "fast".to_owned())
        );
        // The request waits, so the timer is armed, and finishes before the limit.
        assert_eq!(
            get_path(limit, "/waits").await,
            (StatusCode::OK, "waited".to_owned())
        );
    }

    #[tokio::test]
    async fn without_a_limit_a_slow_request_still_gets_its_answer() {
        let router = Router::new().route(
            "/waits",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                "waited"
            }),
        );
        let response = TimeoutLayer::off()
            .layer(router)
            .oneshot(Request::get("/waits").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_over_the_limit_gets_an_empty_503() {
        let (status, body) = get_path(Duration::from_millis(20), "/never").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "");
    }

    #[tokio::test]
    async fn a_zero_limit_still_answers_what_is_ready_at_once() {
        assert_eq!(
            get_path(Duration::ZERO, "/fast").await,
            (StatusCode::OK, "fast".to_owned())
        );
        assert_eq!(
            get_path(Duration::ZERO, "/never").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
