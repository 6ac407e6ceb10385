//! Serving a router with graceful shutdown.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use std::convert::Infallible;

use axum::ServiceExt as _;
use axum::extract::Request;
use axum::response::Response;
use tokio::net::TcpListener;
use tower::Service;

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
    let (fired_tx, mut fired_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        signal.await;
        let _ = fired_tx.send(true);
    };
    // The peer address (`ConnectInfo<SocketAddr>`) is what trusted-proxy handling and
    // `ClientIp` start from.
    let server = axum::serve(
        listener,
        service.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    let grace_timer = async move {
        // `wait_for` fails only if the sender is gone, which happens after it sent `true`.
        let _ = fired_rx.wait_for(|fired| *fired).await;
        tracing::info!(
            grace_secs = grace.as_secs_f64(),
            "shutting down: no new connections, waiting for in-flight requests"
        );
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.map(|()| Shutdown::Graceful),
        () = grace_timer => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "grace period over; dropping the remaining connections");
            Ok(Shutdown::GraceExpired)
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

    #[tokio::test]
    async fn in_flight_requests_finish_and_new_connections_are_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let entered = std::sync::Arc::new(tokio::sync::Notify::new());
        let server = tokio::spawn(serve(
            listener,
            app(entered.clone()),
            async {
                stop_rx.await.ok();
            },
            Duration::from_secs(30),
        ));
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            app(entered.clone()),
            async {
                stop_rx.await.ok();
            },
            Duration::from_millis(200),
        ));
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
