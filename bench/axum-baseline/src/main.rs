//! Bare axum servers: the baseline RustForge's benchmarks measure against.
//!
//! `axum-baseline hello <port>` serves `GET /api/hello` with the same JSON the kernel
//! benchmark's RustForge route returns, and `GET /{api,web}/{plaintext,json}` and
//! `POST /api/echo` as `bench/http.sh`'s app does, on the same runtime setup (multi-threaded
//! tokio).

use axum::Json;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

async fn hello() -> Json<Value> {
    Json(json!({ "message": "Hello, World!" }))
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

/// What `POST /api/echo` reads and sends back.
#[derive(Deserialize, Serialize)]
struct Post {
    title: String,
    views: u32,
}

async fn echo(Json(post): Json<Post>) -> Json<Post> {
    Json(post)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8001);
    if mode != "hello" {
        eprintln!("usage: axum-baseline hello <port>");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route("/api/hello", get(hello))
            .route("/api/plaintext", get(plaintext))
            .route("/api/json", get(hello))
            .route("/api/echo", post(echo))
            .route("/web/plaintext", get(plaintext))
            .route("/web/json", get(hello));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the baseline port");
        axum::serve(listener, app).await.expect("serve");
    });
}
