//! The app `bench/http.sh` measures: `GET /{api,web}/{plaintext,json}` through the `api` and
//! `web` middleware groups and the whole global stack, with the framework's defaults. It has
//! no database, like the bare axum baseline it is compared with.

use std::process::ExitCode;

use foundry::prelude::*;

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "message": "Hello, World!" }))
}

struct HttpBench;

impl App for HttpBench {
    fn routes(routes: Routes) -> Routes {
        routes
            .group(
                |g| g.prefix("/api").middleware("api"),
                |r| r.get("/plaintext", plaintext).get("/json", json),
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
