//! The front of the kernel: one service doing what every request needs — the request id,
//! trusted proxies, the body-size check, maintenance mode, panic catching, error rendering,
//! security headers, metrics and the access log.
//!
//! These are fused into one layer rather than five because each tower layer costs a future
//! wrapped around the next (moved on every call) and its own header lookups; together they
//! would be several times the cost of the handler behind a hello-world route. See
//! `docs/performance.md` for the figures.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use foundry_core::Error;
use http::header::{
    ACCEPT, CONTENT_LENGTH, Entry, HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY,
};
use http::{Method, StatusCode, Uri};
use tower::{Layer, Service};

use crate::maintenance::Maintenance;
use crate::observe::{Finished, Observer};
use crate::proxy::TrustedProxies;
use crate::render::{ErrorRenderer, X_REQUESTED_WITH, json_requested};
use crate::timeout::{Deadline, timed_out};

/// Request ids: keep a sane incoming one, otherwise make `<random prefix>-<counter>`, unique
/// across instances and much cheaper than a UUID per request.
#[derive(Debug)]
pub struct RequestIds {
    header: HeaderName,
    prefix: [u8; PREFIX_LEN],
    next: AtomicU64,
}

/// Hex digits of a made id's prefix (six random bytes).
const PREFIX_LEN: usize = 12;

/// Bytes of the longest made id: the prefix, `-`, and 16 hex digits.
const MADE_ID_LEN: usize = PREFIX_LEN + 1 + 16;

/// Room for this many made ids in one [`ID_BUFFER`].
const IDS_PER_BUFFER: usize = 128;

thread_local! {
    /// Where this thread writes the ids it makes: each id is a slice of one shared buffer (a
    /// reference count up), where an allocation of its own would cost an allocation and a
    /// free per request. A buffer is replaced when full and freed when its last id is.
    static ID_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl RequestIds {
    /// Ids carried in `header`, with a fresh random prefix.
    pub fn new(header: HeaderName) -> Self {
        let mut random = [0u8; PREFIX_LEN / 2];
        let seed = if getrandom::fill(&mut random).is_ok() {
            u64::from_be_bytes([
                0, 0, random[0], random[1], random[2], random[3], random[4], random[5],
            ])
        } else {
            // Without randomness the process id still tells instances on one machine apart.
            u64::from(std::process::id())
        };
        let mut prefix = [0u8; PREFIX_LEN];
        for (i, digit) in prefix.iter_mut().enumerate() {
            *digit = HEX[((seed >> (4 * (PREFIX_LEN - 1 - i))) & 0xf) as usize];
        }
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
        let mut id = [0u8; MADE_ID_LEN];
        id[..PREFIX_LEN].copy_from_slice(&self.prefix);
        id[PREFIX_LEN] = b'-';
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
        for i in 0..digits {
            id[PREFIX_LEN + digits - i] = HEX[((n >> (4 * i)) & 0xf) as usize];
        }
        let id = &id[..PREFIX_LEN + 1 + digits];
        let bytes = ID_BUFFER.with_borrow_mut(|buffer| {
            if buffer.capacity() - buffer.len() < id.len() {
                *buffer = BytesMut::with_capacity(IDS_PER_BUFFER * MADE_ID_LEN);
            }
            buffer.extend_from_slice(id);
            buffer.split().freeze()
        });
        HeaderValue::from_maybe_shared(bytes).unwrap_or(HeaderValue::from_static("-"))
    }

    /// The incoming id when it is short printable ASCII.
    fn keeps(incoming: &HeaderValue) -> bool {
        incoming.len() <= 128 && incoming.as_bytes().iter().all(|b| b.is_ascii_graphic())
    }
}

/// The request headers the front reads, found in one pass over the headers: for the few a
/// request carries that is cheaper than hashing each name for a lookup.
#[derive(Default)]
struct FrontHeaders<'a> {
    accept: Option<&'a HeaderValue>,
    requested_with: Option<&'a HeaderValue>,
    content_length: Option<&'a HeaderValue>,
    request_id: Option<&'a HeaderValue>,
}

impl<'a> FrontHeaders<'a> {
    fn scan(headers: &'a http::HeaderMap, request_id: Option<&HeaderName>) -> Self {
        let mut found = Self::default();
        // The first value of each, as `HeaderMap::get` would give.
        for (name, value) in headers {
            let slot = if name == ACCEPT {
                &mut found.accept
            } else if name == CONTENT_LENGTH {
                &mut found.content_length
            } else if name == X_REQUESTED_WITH {
                &mut found.requested_with
            } else if request_id == Some(name) {
                &mut found.request_id
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
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
    /// Answer 503 to a request not answered within this; the stack sets it here, instead of
    /// a timeout layer further in, when no layer between the front and the router would
    /// have to see the 503 (the clock is then read once for this and for metrics).
    pub timeout: Option<Duration>,
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
        let ids = front.request_ids.as_ref();
        let seen = FrontHeaders::scan(request.headers(), ids.map(RequestIds::header));
        let wants_json = json_requested(seen.accept, seen.requested_with);
        let too_large = front.max_body_bytes.is_some_and(|limit| {
            seen.content_length
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|len| len > limit)
        });
        let kept_id = seen.request_id.filter(|id| RequestIds::keeps(id)).cloned();
        let request_id = ids.map(|ids| {
            kept_id.unwrap_or_else(|| {
                let id = ids.make();
                // Handlers and logs read it from the request.
                request.headers_mut().insert(ids.header.clone(), id.clone());
                id
            })
        });
        let length_from_body = !matches!(*request.method(), Method::HEAD | Method::CONNECT);
        let now = (front.observer.is_some() || front.timeout.is_some()).then(Instant::now);
        // A limit too far off to represent is no limit.
        let deadline = front
            .timeout
            .zip(now)
            .and_then(|(limit, now)| now.checked_add(limit))
            .map(|at| Deadline::new(at.into()));
        let observed = front.observer.as_ref().zip(now).map(|(observer, started)| {
            if let Some(metrics) = &observer.metrics {
                metrics.started();
            }
            Observed {
                started,
                method: request.method().clone(),
                route: observer.route(request.uri().path()),
            }
        });
        // The path outlives the request only for the access log, or for the renderer's JSON
        // routes when no route was looked up.
        let uri = match &front.observer {
            Some(observer) => observer.access_log.is_some(),
            None => front.renderer.json_routes.is_some(),
        }
        .then(|| request.uri().clone());
        let mut https = false;
        if let Some(proxies) = &front.proxies
            && let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>()
            && let Some(forwarded) = proxies.forwarded(peer.0.ip(), request.headers())
        {
            https = forwarded.https == Some(true);
            request.extensions_mut().insert(forwarded);
        }
        let early = if too_large {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            Some(response)
        } else {
            front.maintenance.as_ref().and_then(|m| m.check(&request))
        };
        let state = match early {
            Some(response) => State::Early {
                response: Some(response),
            },
            None => State::Inner {
                future: self.inner.call(request),
            },
        };
        FrontFuture {
            state,
            deadline,
            wants_json,
            length_from_body,
            https,
            uri,
            request_id,
            observed,
            front: self.front.clone(),
        }
    }
}

/// What the front notes about a request it observes for metrics and the access log.
struct Observed {
    started: Instant,
    method: Method,
    route: Option<usize>,
}

pin_project_lite::pin_project! {
    /// Where a [`FrontFuture`]'s response comes from.
    #[project = StateProj]
    enum State<F> {
        /// The inner service.
        Inner { #[pin] future: F },
        /// The front itself (413, maintenance), taken when polled.
        Early { response: Option<Response> },
    }
}

pin_project_lite::pin_project! {
    /// Future of [`FrontService`].
    pub struct FrontFuture<F> {
        #[pin]
        state: State<F>,
        deadline: Option<Deadline>,
        wants_json: bool,
        // Neither HEAD nor CONNECT: hyper derives `Content-Length` from the body.
        length_from_body: bool,
        https: bool,
        uri: Option<Uri>,
        request_id: Option<HeaderValue>,
        observed: Option<Observed>,
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
        let response = match this.state.project() {
            StateProj::Early { response } => response.take().unwrap_or_default(),
            StateProj::Inner { mut future } => {
                // A panicking handler becomes a 500 like any other internal error; the future
                // is not polled again afterwards.
                match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                    Ok(Poll::Ready(Ok(response))) => response,
                    Ok(Poll::Ready(Err(err))) => return Poll::Ready(Err(err)),
                    Ok(Poll::Pending) => match this.deadline {
                        Some(deadline) => {
                            ready!(deadline.poll_expired(cx));
                            timed_out()
                        }
                        None => return Poll::Pending,
                    },
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
        let json_route = match (&front.observer, &*this.observed) {
            (Some(observer), Some(observed)) => {
                observed.route.is_some_and(|i| observer.is_json_route(i))
            }
            _ => false,
        };
        let mut response = front.renderer.render(
            response,
            *this.wants_json || json_route,
            json_path,
            this.request_id.as_ref(),
        );
        if *this.length_from_body {
            drop_implied_length(&mut response);
        }
        let headers = response.headers_mut();
        // Room for them all at once: growing while they are added rehashes them again.
        headers.reserve(
            front.headers.len()
                + usize::from(front.hsts.is_some())
                + usize::from(this.request_id.is_some()),
        );
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
        if let (Some(observer), Some(observed)) = (&front.observer, this.observed.take()) {
            let Observed {
                started,
                method,
                route,
            } = observed;
            observer.finish(&Finished {
                method: &method,
                route,
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

/// Drop a `Content-Length` that only repeats the body's exact length, on a response whose
/// length hyper writes itself (the request was neither HEAD nor CONNECT; not 1xx, 204 or
/// 304): the client receives the same header. axum sets it on every sized body; without it
/// a response with the default security headers, `Server` and a request id keeps six
/// headers, the most a header map holds in its first allocation. A seventh moves the map to
/// one past the allocator's thread cache, which cost ~1,100 instructions per request.
fn drop_implied_length(response: &mut Response) {
    let status = response.status();
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return;
    }
    let Some(length) = response.body().size_hint().exact() else {
        return;
    };
    if let Entry::Occupied(declared) = response.headers_mut().entry(CONTENT_LENGTH)
        && declared.iter().count() == 1
        && declared
            .get()
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            == Some(length)
    {
        declared.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[test]
    fn made_ids_are_the_prefix_and_the_counter_in_lowercase_hex() {
        let ids = RequestIds::new(HeaderName::from_static("x-request-id"));
        let prefix = std::str::from_utf8(&ids.prefix).unwrap().to_owned();
        assert!(
            prefix
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{prefix}"
        );
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
            assert_eq!(id(n), format!("{prefix}-{hex}"));
        }
        assert_eq!(ids.next.load(Ordering::Relaxed), 0, "the counter wraps");
    }

    #[test]
    fn ids_made_across_several_buffers_stay_what_they_were() {
        let ids = RequestIds::new(HeaderName::from_static("x-request-id"));
        let prefix = std::str::from_utf8(&ids.prefix).unwrap().to_owned();
        // Long ids fill buffers fastest; every id is kept while later ones are made.
        ids.next
            .store(u64::MAX - 3 * IDS_PER_BUFFER as u64, Ordering::Relaxed);
        let made: Vec<(u64, HeaderValue)> = (0..3 * IDS_PER_BUFFER + 5)
            .map(|_| (ids.next.load(Ordering::Relaxed), ids.make()))
            .collect();
        for (n, id) in &made {
            assert_eq!(id.to_str().unwrap(), format!("{prefix}-{n:x}"));
        }
    }

    /// A front with request ids and nothing else, around a handler that answers with the id
    /// it was given.
    fn echo_ids()
    -> FrontService<impl Service<Request, Response = Response, Error = Infallible> + Clone> {
        let front = Front {
            renderer: ErrorRenderer::new(false, "test"),
            request_ids: Some(RequestIds::new(HeaderName::from_static("x-request-id"))),
            headers: Vec::new(),
            hsts: None,
            hsts_always: false,
            max_body_bytes: None,
            proxies: None,
            maintenance: None,
            observer: None,
            timeout: None,
        };
        FrontLayer::new(front).layer(tower::service_fn(|request: Request| async move {
            let seen = request.headers().get_all("x-request-id").iter().cloned();
            Ok::<_, Infallible>(Response::new(Body::from(
                seen.map(|v| v.to_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join(","),
            )))
        }))
    }

    /// The id the handler saw and the one the response carries.
    async fn ids_for(incoming: Option<&[u8]>) -> (String, String) {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let mut request = Request::new(Body::empty());
        if let Some(value) = incoming {
            request
                .headers_mut()
                .insert("x-request-id", HeaderValue::from_bytes(value).unwrap());
        }
        let response = echo_ids().oneshot(request).await.unwrap();
        let sent = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (String::from_utf8(body.to_vec()).unwrap(), sent)
    }

    #[tokio::test]
    async fn a_sane_incoming_id_is_kept_and_anything_else_replaced() {
        let kept = ids_for(Some(b"trace-abc")).await;
        assert_eq!(kept, ("trace-abc".to_owned(), "trace-abc".to_owned()));
        let long = vec![b'a'; 129];
        for incoming in [
            Some(&b"has space"[..]),
            Some(&long),
            Some(b"tab\there"),
            None,
        ] {
            let (seen, sent) = ids_for(incoming).await;
            // The handler sees only the new id, and the response carries the same one.
            assert_eq!(seen, sent, "{incoming:?}");
            let (prefix, counter) = sent.split_once('-').unwrap();
            assert_eq!(prefix.len(), PREFIX_LEN, "{sent}");
            assert!(u64::from_str_radix(counter, 16).is_ok(), "{sent}");
        }
    }
}
