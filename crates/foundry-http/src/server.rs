//! Serving a router with graceful shutdown.
//!
//! The accept loop is ours rather than `axum::serve`'s: per request it hands the app a clone
//! of the service and the peer address, and per poll of a connection it checks shutdown with
//! one atomic load instead of polling a watch channel. On a hello-world route those two were
//! a tenth of the request's instructions.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use futures_util::future::Either;
use http::Extensions;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::Service;
use tower::util::{Oneshot, ServiceExt as _};

/// How a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Every in-flight request finished within the grace period.
    Graceful,
    /// The grace period ran out; the remaining connections were dropped.
    GraceExpired,
}

/// Serve `router` on `listener` until `signal` resolves, then stop accepting connections and
/// give in-flight requests up to `grace` to finish.
///
/// HTTP/1.1, and with the `http2` feature (on by default) HTTP/2 over cleartext with prior
/// knowledge (`h2c`) on the same port. Each request carries the peer address as
/// `ConnectInfo<SocketAddr>`, which trusted-proxy handling and `ClientIp` start from. Idle keep-alive connections are closed at once when
/// `signal` resolves; a connection with a request in flight is closed after its response.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let router = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
/// let outcome = foundry_http::serve(listener, router, foundry_http::shutdown_signal(), Duration::from_secs(30)).await?;
/// # Ok(()) }
/// ```
pub async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    signal: F,
    grace: Duration,
) -> std::io::Result<Shutdown>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    let connections = Arc::new(Connections::default());
    let extensions = extensions_with_room();
    let mut signal = pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
        };
        let service = PeerService {
            service: RefCell::new(service.clone()),
            peer,
            extensions: extensions.clone(),
        };
        let mut watch = connections.watch();
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // One buffer per HTTP/1 write instead of head and body as separate slices: the
            // body is copied once, and the kernel's single-slice send costs less than the
            // vectored one (2–8% more requests/s on small responses; docs/performance.md).
            builder.http1().writev(false);
            let mut connection =
                pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
            let served = poll_fn(|cx| {
                if watch.shutdown_requested(cx) {
                    connection.as_mut().graceful_shutdown();
                }
                connection.as_mut().poll(cx)
            })
            .await;
            if let Err(err) = served {
                tracing::trace!(%peer, %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections, waiting for in-flight requests"
    );
    connections.shut_down();
    tokio::select! {
        () = connections.all_closed() => Ok(Shutdown::Graceful),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "grace period over; dropping the remaining connections");
            Ok(Shutdown::GraceExpired)
        }
    }
}

/// A failed `accept`: a connection that died before it was accepted is skipped; anything else
/// (out of file descriptors, most often) is logged and retried after a second, as hyper did.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The app's service as hyper calls it on one connection.
struct PeerService<S> {
    /// The connection's own copy, called in place: hyper calls through a shared reference,
    /// and a call never re-enters, so borrowing it beats copying it for every request.
    service: RefCell<S>,
    peer: SocketAddr,
    /// Cloned into each request: see [`extensions_with_room`].
    extensions: Extensions,
}

/// An empty extension map with room for what a request collects on its way through the stack
/// (the peer address, axum's original URI, matched path and path parameters, …). Left to
/// itself the map starts with room for three and is rebuilt on the fourth insert, on every
/// request; a clone of this one keeps its size.
fn extensions_with_room() -> Extensions {
    #[derive(Clone)]
    struct Slot<const N: u8>;
    let mut extensions = Extensions::new();
    extensions.insert(Slot::<0>);
    extensions.insert(Slot::<1>);
    extensions.insert(Slot::<2>);
    extensions.insert(Slot::<3>);
    extensions.insert(Slot::<4>);
    extensions.insert(Slot::<5>);
    extensions.insert(Slot::<6>);
    // Clearing keeps the allocation.
    extensions.clear();
    extensions
}

impl<S> hyper::service::Service<http::Request<Incoming>> for PeerService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Pin<Box<Oneshot<S, Request>>>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let mut request = request.map(Body::new);
        // hyper leaves a request's extensions empty, so this moves the clone's map in.
        request.extensions_mut().extend(self.extensions.clone());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let mut service = self.service.borrow_mut();
        // The app's stack is always ready at once; then the request goes straight in, and the
        // future hyper keeps is the service's own rather than one holding the request too.
        match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(service.call(request)),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => Either::Right(Box::pin(service.clone().oneshot(request))),
        }
    }
}

/// The open connections: told to finish when the server shuts down, counted until they have.
#[derive(Default)]
struct Connections {
    shutting_down: AtomicBool,
    next_id: AtomicU64,
    open: AtomicUsize,
    /// The waker of each connection's task, by connection id, to wake idle ones at shutdown.
    wakers: Mutex<HashMap<u64, Waker>>,
    last_closed: Notify,
}

impl Connections {
    fn watch(self: &Arc<Self>) -> ConnectionWatch {
        self.open.fetch_add(1, Ordering::AcqRel);
        ConnectionWatch {
            connections: self.clone(),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            waker: None,
            told: false,
        }
    }

    fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let wakers = std::mem::take(&mut *self.lock_wakers());
        for waker in wakers.into_values() {
            waker.wake();
        }
    }

    async fn all_closed(&self) {
        loop {
            let notified = self.last_closed.notified();
            let mut notified = pin!(notified);
            // Registered before the count is read, so a connection closing in between wakes it.
            notified.as_mut().enable();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    fn lock_wakers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waker>> {
        // A panic while holding it leaves a map of wakers, still usable.
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's view of [`Connections`]; dropping it counts the connection closed.
struct ConnectionWatch {
    connections: Arc<Connections>,
    id: u64,
    /// The waker last registered, so an unchanged one costs no lock.
    waker: Option<Waker>,
    told: bool,
}

impl ConnectionWatch {
    /// True once, when the connection should start its graceful shutdown; otherwise makes sure
    /// the shutdown will wake this task.
    fn shutdown_requested(&mut self, cx: &Context<'_>) -> bool {
        if self.told {
            return false;
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            self.connections
                .lock_wakers()
                .insert(self.id, waker.clone());
            self.waker = Some(waker);
        }
        // Read after registering: `shut_down` sets the flag before it takes the wakers.
        self.told = self.connections.shutting_down.load(Ordering::Acquire);
        self.told
    }
}

impl Drop for ConnectionWatch {
    fn drop(&mut self) {
        if self.waker.is_some() {
            self.connections.lock_wakers().remove(&self.id);
        }
        if self.connections.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.connections.last_closed.notify_waiters();
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn request(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await?;
        let mut out = String::new();
        stream.read_to_string(&mut out).await?;
        Ok(out)
    }

    /// A server on a free port serving `router` until the sender is used, with `grace`.
    async fn start(
        router: Router,
        grace: Duration,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<Shutdown>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            router,
            async {
                stopped.await.ok();
            },
            grace,
        ));
        (addr, stop, server)
    }

    /// A router whose `/slow/{ms}` says when a request entered it, then sleeps `ms`.
    fn app(entered: std::sync::Arc<tokio::sync::Notify>) -> Router {
        Router::new().route(
            "/slow/{ms}",
            get(
                move |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                    entered.notify_one();
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "done"
                },
            ),
        )
    }

    /// What the server answers a client that opens with HTTP/2's connection preface and an
    /// empty SETTINGS frame: up to the first nine bytes it sends back before it closes.
    async fn answer_to_h2_preface() -> Vec<u8> {
        let router = Router::new().route("/", get(|| async { "hi" }));
        let (addr, stop, server) = start(router, Duration::from_secs(1)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        // A SETTINGS frame with no settings: length 0, type 4, no flags, stream 0.
        opening.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        stream.write_all(&opening).await.unwrap();
        let mut answer = Vec::new();
        let mut byte = [0];
        // A reset connection ends the answer like a closed one.
        while answer.len() < 9 && matches!(stream.read(&mut byte).await, Ok(1)) {
            answer.push(byte[0]);
        }
        drop(stream);
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        answer
    }

    #[cfg(feature = "http2")]
    #[tokio::test]
    async fn with_http2_a_client_with_prior_knowledge_speaks_h2() {
        let answer = answer_to_h2_preface().await;
        // The server's own SETTINGS frame: type 4 on stream 0.
        assert_eq!(answer.len(), 9, "{answer:?}");
        assert_eq!(answer[3], 4, "{answer:?}");
        assert_eq!(&answer[5..9], &[0, 0, 0, 0], "{answer:?}");
    }

    #[cfg(not(feature = "http2"))]
    #[tokio::test]
    async fn without_http2_the_preface_is_refused() {
        // HTTP/1.1 cannot read it: the connection is closed without an HTTP/2 frame.
        let answer = answer_to_h2_preface().await;
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
            "{answer:?}"
        );
    }

    /// Bytes `0, 1, …, 250, 0, 1, …`: a body whose every byte says where it belongs.
    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn bodies_larger_than_the_write_buffer_arrive_whole_sized_or_streamed() {
        // hyper flattens head and body into one write buffer (`writev(false)`): a body far
        // past its size, given whole or in chunks of unknown total, must still arrive intact.
        const LEN: usize = 3 * 1024 * 1024 + 7;
        let router = Router::new()
            .route("/sized", get(|| async { patterned(LEN) }))
            .route(
                "/streamed",
                get(|| async {
                    let chunks = patterned(LEN)
                        .chunks(100_000)
                        .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                        .collect::<Vec<_>>();
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            );
        let (addr, stop, server) = start(router, Duration::from_secs(1)).await;
        for (path, framing) in [
            ("/sized", format!("content-length: {LEN}\r\n")),
            ("/streamed", "transfer-encoding: chunked\r\n".to_owned()),
        ] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(
                    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await
                .unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.unwrap();
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
            assert!(head.contains(&framing), "{path}: {head}");
            let body = if path == "/sized" {
                raw[end..].to_vec()
            } else {
                dechunk(&raw[end..])
            };
            assert_eq!(body.len(), LEN, "{path}");
            assert!(body == patterned(LEN), "{path}: the body's bytes differ");
        }
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    /// The data of a chunked body (sizes in hex, each chunk followed by CRLF, ending at 0).
    fn dechunk(mut raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap(), 16).unwrap();
            if size == 0 {
                return out;
            }
            let data = &raw[line_end + 2..];
            out.extend_from_slice(&data[..size]);
            raw = &data[size + 2..];
        }
    }

    #[tokio::test]
    async fn in_flight_requests_finish_and_new_connections_are_refused() {
        let entered = std::sync::Arc::new(tokio::sync::Notify::new());
        let (addr, stop_tx, server) = start(app(entered.clone()), Duration::from_secs(30)).await;
        let slow = tokio::spawn(request(addr, "/slow/3000"));
        entered.notified().await;
        stop_tx.send(()).unwrap();
        // The listener closes at once; the slow request still runs for seconds.
        let stopped_at = std::time::Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            assert!(
                stopped_at.elapsed() < Duration::from_secs(2),
                "new connections are refused"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let response = slow.await.unwrap().unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("done"), "{response}");
        assert_eq!(server.await.unwrap().unwrap(), Shutdown::Graceful);
    }

    #[tokio::test]
    async fn the_grace_period_bounds_the_wait() {
        let entered = std::sync::Arc::new(tokio::sync::Notify::new());
        let (addr, stop_tx, server) = start(app(entered.clone()), Duration::from_millis(200)).await;
        let _slow = tokio::spawn(request(addr, "/slow/10000"));
        entered.notified().await;
        let stopped_at = std::time::Instant::now();
        stop_tx.send(()).unwrap();
        assert_eq!(server.await.unwrap().unwrap(), Shutdown::GraceExpired);
        assert!(
            stopped_at.elapsed() < Duration::from_secs(5),
            "did not wait for the slow request"
        );
    }
}
