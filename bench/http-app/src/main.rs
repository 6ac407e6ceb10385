//! The app `bench/http.sh` measures: `GET /{api,web}/{plaintext,json}` through the `api` and
//! `web` middleware groups and the whole global stack, with the framework's defaults, and
//! `POST /api/echo` (a JSON body read into a struct and sent back). It has no database, like
//! the bare axum baseline it is compared with.

use std::process::ExitCode;

use foundry::prelude::*;
use serde::{Deserialize, Serialize};

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "message": "Hello, World!" }))
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

struct HttpBench;

impl App for HttpBench {
    fn routes(routes: Routes) -> Routes {
        routes
            .group(
                |g| g.prefix("/api").middleware("api"),
                |r| {
                    r.get("/plaintext", plaintext)
                        .get("/json", json)
                        .post("/echo", echo)
                },
            )
            .group(
                |g| g.prefix("/web").middleware("web"),
                |r| r.get("/plaintext", plaintext).get("/json", json),
            )
    }
}

fn main() -> ExitCode {
    foundry::run::<HttpBench>()
}
