//! The front of the kernel: one service doing what every request needs — the request id,
//! trusted proxies, the body-size check, maintenance mode, panic catching, error rendering,
//! security headers, metrics and the access log.
//!
//! These are fused into one layer rather than five because each tower layer costs a future
//! wrapped around the next (moved on every call) and its own header lookups; together they
//! would be several times the cost of the handler behind a hello-world route. See
//! `docs/performance.md` for the figures.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use foundry_core::Error;
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY};
use http::{Method, StatusCode, Uri};
use tower::{Layer, Service};

use crate::maintenance::Maintenance;
use crate::observe::{Finished, Observer};
use crate::proxy::TrustedProxies;
use crate::render::{ErrorRenderer, wants_json};

/// Request ids: keep a sane incoming one, otherwise make `<random prefix>-<counter>`, unique
/// across instances and much cheaper than a UUID per request.
#[derive(Debug)]
pub struct RequestIds {
    header: HeaderName,
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    /// Ids carried in `header`, with a fresh random prefix.
    pub fn new(header: HeaderName) -> Self {
        let mut bytes = [0u8; 6];
        let prefix = if getrandom::fill(&mut bytes).is_ok() {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        } else {
            // Without randomness the process id still tells instances on one machine apart.
            format!("{:012x}", std::process::id())
        };
        Self {
            header,
            prefix,
            next: AtomicU64::new(1),
        }
    }

    /// The header name.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    fn make(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // `<prefix>-<n in lowercase hex>`, written by hand: `format!` costs more than the
        // rest of the id.
        let mut hex = [0u8; 16];
        let mut start = hex.len();
        let mut rest = n;
        loop {
            start -= 1;
            hex[start] = b"0123456789abcdef"[(rest & 0xf) as usize];
            rest >>= 4;
            if rest == 0 {
                break;
            }
        }
        let mut id = Vec::with_capacity(self.prefix.len() + 1 + hex.len() - start);
        id.extend_from_slice(self.prefix.as_bytes());
        id.push(b'-');
        id.extend_from_slice(&hex[start..]);
        HeaderValue::from_maybe_shared(bytes::Bytes::from(id))
            .unwrap_or(HeaderValue::from_static("-"))
    }

    /// The incoming id when it is short printable ASCII, otherwise a new one.
    fn for_request(&self, request: &Request) -> HeaderValue {
        match request.headers().get(&self.header) {
            Some(value)
                if value.len() <= 128 && value.as_bytes().iter().all(|b| b.is_ascii_graphic()) =>
            {
                value.clone()
            }
            _ => self.make(),
        }
    }
}

/// What the front service does; shared by every request.
#[derive(Debug)]
pub struct Front {
    /// Renders error responses.
    pub renderer: ErrorRenderer,
    /// Request ids, when enabled.
    pub request_ids: Option<RequestIds>,
    /// Headers added to every response that does not set them itself.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `Strict-Transport-Security`, when it may be sent at all (production).
    pub hsts: Option<HeaderValue>,
    /// Send HSTS on every response (the app's URL is https), not only to clients a trusted
    /// proxy says came over https.
    pub hsts_always: bool,
    /// Bodies declaring a larger `Content-Length` get 413 before any handler runs.
    pub max_body_bytes: Option<usize>,
    /// Proxies whose forwarding headers are believed.
    pub proxies: Option<TrustedProxies>,
    /// Maintenance mode.
    pub maintenance: Option<Arc<Maintenance>>,
    /// Metrics and the access log.
    pub observer: Option<Observer>,
}
/// Layer applying a [`Front`].
#[derive(Debug, Clone)]
pub struct FrontLayer {
    front: Arc<Front>,
}

impl FrontLayer {
    /// A layer over `front`.
    pub fn new(front: Front) -> Self {
        Self {
            front: Arc::new(front),
        }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = FrontService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        FrontService {
            inner,
            front: self.front.clone(),
        }
    }
}

/// The service of [`FrontLayer`].
#[derive(Debug, Clone)]
pub struct FrontService<S> {
    inner: S,
    front: Arc<Front>,
}

impl<S> Service<Request> for FrontService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let front = &self.front;
        let wants_json = wants_json(request.headers());
        let observed = front.observer.as_ref().map(|observer| {
            if let Some(metrics) = &observer.metrics {
                metrics.started();
            }
            (Instant::now(), request.method().clone())
        });
        let uri = (front.renderer.json_routes.is_some() || observed.is_some())
            .then(|| request.uri().clone());
        let request_id = front.request_ids.as_ref().map(|ids| {
            let id = ids.for_request(&request);
            // Handlers and logs read it from the request.
            request.headers_mut().insert(ids.header.clone(), id.clone());
            id
        });
        let mut https = false;
        if let Some(proxies) = &front.proxies
            && let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>()
            && let Some(forwarded) = proxies.forwarded(peer.0.ip(), request.headers())
        {
            https = forwarded.https == Some(true);
            request.extensions_mut().insert(forwarded);
        }
        let too_large = front.max_body_bytes.is_some_and(|limit| {
            request
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|len| len > limit)
        });
        let early = if too_large {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            Some(response)
        } else {
            front.maintenance.as_ref().and_then(|m| m.check(&request))
        };
        let inner = match early {
            Some(_) => None,
            None => Some(self.inner.call(request)),
        };
        FrontFuture {
            inner,
            early,
            wants_json,
            https,
            uri,
            request_id,
            observed,
            front: self.front.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`FrontService`].
    pub struct FrontFuture<F> {
        #[pin]
        inner: Option<F>,
        early: Option<Response>,
        wants_json: bool,
        https: bool,
        uri: Option<Uri>,
        request_id: Option<HeaderValue>,
        observed: Option<(Instant, Method)>,
        front: Arc<Front>,
    }

    impl<F> PinnedDrop for FrontFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // A request dropped before it finished (the client went away) leaves the gauge.
            let this = this.project();
            if this.observed.is_some()
                && let Some(metrics) = this.front.observer.as_ref().and_then(|o| o.metrics.as_ref())
            {
                metrics.finished();
            }
        }
    }
}

impl<F, E> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.inner.as_pin_mut() {
            None => this.early.take().unwrap_or_default(),
            Some(mut inner) => {
                // A panicking handler becomes a 500 like any other internal error; the future
                // is not polled again afterwards.
                match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
                    Ok(Poll::Ready(Ok(response))) => response,
                    Ok(other) => return other,
                    Err(payload) => {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a handler panicked".to_owned());
                        Error::internal(format!("panic: {message}")).into_response()
                    }
                }
            }
        };
        let front = &**this.front;
        let path = this.uri.as_ref().map(Uri::path);
        let json_path = path.filter(|_| front.renderer.json_routes.is_some());
        let mut response = front.renderer.render(
            response,
            *this.wants_json,
            json_path,
            this.request_id.as_ref(),
        );
        let headers = response.headers_mut();
        for (name, value) in &front.headers {
            headers.entry(name).or_insert_with(|| value.clone());
        }
        if let Some(hsts) = &front.hsts
            && (front.hsts_always || *this.https)
        {
            headers
                .entry(STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| hsts.clone());
        }
        if let (Some(observer), Some((started, method))) = (&front.observer, this.observed.take()) {
            observer.finish(&Finished {
                method: &method,
                path: path.unwrap_or(""),
                status: response.status(),
                elapsed: started.elapsed(),
                request_id: this.request_id.as_ref(),
                bytes: response.body().size_hint().exact(),
            });
            if let Some(metrics) = &observer.metrics {
                metrics.finished();
            }
        }
        if let (Some(ids), Some(id)) = (&front.request_ids, this.request_id.take()) {
            response.headers_mut().insert(ids.header.clone(), id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_ids_are_the_prefix_and_the_counter_in_lowercase_hex() {
        let ids = RequestIds::new(HeaderName::from_static("x-request-id"));
        assert_eq!(ids.prefix.len(), 12);
        let id = |n: u64| {
            ids.next.store(n, Ordering::Relaxed);
            ids.make().to_str().unwrap().to_owned()
        };
        for (n, hex) in [
            (0, "0"),
            (1, "1"),
            (10, "a"),
            (255, "ff"),
            (0xdead_beef, "deadbeef"),
            (u64::MAX, "ffffffffffffffff"),
        ] {
            assert_eq!(id(n), format!("{}-{hex}", ids.prefix));
        }
        assert_eq!(ids.next.load(Ordering::Relaxed), 0, "the counter wraps");
    }

    #[test]
    fn a_sane_incoming_id_is_kept_and_anything_else_replaced() {
        let ids = RequestIds::new(HeaderName::from_static("x-request-id"));
        let with = |value: &[u8]| {
            let mut request = Request::new(Body::empty());
            request
                .headers_mut()
                .insert("x-request-id", HeaderValue::from_bytes(value).unwrap());
            ids.for_request(&request)
        };
        assert_eq!(with(b"trace-abc"), "trace-abc");
        let long = vec![b'a'; 129];
        for bad in [&b"has space"[..], &long, b"tab\there"] {
            let made = with(bad);
            assert!(made.to_str().unwrap().starts_with(&ids.prefix), "{made:?}");
        }
    }
}
