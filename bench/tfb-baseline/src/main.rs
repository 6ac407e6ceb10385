//! The TechEmpower endpoints of `examples/tfb`, hand-written on bare axum and sqlx with
//! PostgreSQL: the baseline `bench/tfb.sh` compares the RustForge app with.
//!
//! `tfb-baseline <port> <postgres url> <pool size>` serves the same paths with the same
//! bodies and content types (and a `Server` header): prepared statements, one query per
//! world, one `UPDATE … FROM UNNEST` for `/updates`, the fortunes table written with a
//! `String` and an escaping function, validation checked field by field.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::header::{CONTENT_TYPE, SERVER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

const SERVER_NAME: HeaderValue = HeaderValue::from_static("axum");

#[derive(Serialize)]
struct World {
    id: i64,
    #[serde(rename = "randomNumber")]
    random_number: i32,
}

#[derive(Deserialize)]
struct Count {
    queries: Option<String>,
}

impl Count {
    fn get(&self) -> usize {
        self.queries
            .as_deref()
            .and_then(|q| q.trim().parse::<i64>().ok())
            .map_or(1, |n| n.clamp(1, 500) as usize)
    }
}

fn random_id() -> i64 {
    fastrand::i64(1..=10_000)
}

fn random_number() -> i32 {
    fastrand::i32(1..=10_000)
}

fn server(mut response: Response) -> Response {
    response.headers_mut().insert(SERVER, SERVER_NAME);
    response
}

fn failed(error: &sqlx::Error) -> Response {
    eprintln!("query failed: {error}");
    server(StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn json() -> Response {
    server(Json(json!({ "message": "Hello, World!" })).into_response())
}

async fn plaintext() -> Response {
    server("Hello, World!".into_response())
}

async fn find(pool: &PgPool, id: i64) -> Result<World, sqlx::Error> {
    let (id, random_number) =
        sqlx::query_as::<_, (i64, i32)>("SELECT id, random_number FROM world WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?;
    Ok(World { id, random_number })
}

async fn db(State(pool): State<PgPool>) -> Response {
    match find(&pool, random_id()).await {
        Ok(world) => server(Json(world).into_response()),
        Err(e) => failed(&e),
    }
}

async fn queries(State(pool): State<PgPool>, Query(count): Query<Count>) -> Response {
    let mut worlds = Vec::with_capacity(count.get());
    for _ in 0..count.get() {
        match find(&pool, random_id()).await {
            Ok(world) => worlds.push(world),
            Err(e) => return failed(&e),
        }
    }
    server(Json(worlds).into_response())
}

async fn updates(State(pool): State<PgPool>, Query(count): Query<Count>) -> Response {
    let n = count.get();
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let id = random_id();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // Key order: concurrent requests lock rows in the same order.
    ids.sort_unstable();
    let mut worlds = Vec::with_capacity(n);
    for id in ids {
        match find(&pool, id).await {
            Ok(mut world) => {
                world.random_number = random_number();
                worlds.push(world);
            }
            Err(e) => return failed(&e),
        }
    }
    let ids: Vec<i64> = worlds.iter().map(|w| w.id).collect();
    let numbers: Vec<i32> = worlds.iter().map(|w| w.random_number).collect();
    let written = sqlx::query(
        "UPDATE world SET random_number = new.random_number \
         FROM UNNEST($1::bigint[], $2::int[]) AS new(id, random_number) WHERE world.id = new.id",
    )
    .bind(ids)
    .bind(numbers)
    .execute(&pool)
    .await;
    match written {
        Ok(_) => server(Json(worlds).into_response()),
        Err(e) => failed(&e),
    }
}

/// HTML escaping with the same entities as RustForge's views.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

async fn fortunes(State(pool): State<PgPool>) -> Response {
    let rows = sqlx::query_as::<_, (i64, String)>("SELECT id, message FROM fortune")
        .fetch_all(&pool)
        .await;
    let mut fortunes = match rows {
        Ok(rows) => rows,
        Err(e) => return failed(&e),
    };
    fortunes.push((0, "Additional fortune added at request time.".to_owned()));
    fortunes.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    let mut html = String::with_capacity(2048);
    html.push_str(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>\
         <tr><th>id</th><th>message</th></tr>",
    );
    for (id, message) in &fortunes {
        let _ = write!(html, "<tr><td>{id}</td><td>");
        escape(&mut html, message);
        html.push_str("</td></tr>");
    }
    html.push_str("</table></body></html>");
    let mut response = server(html.into_response());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `name: required|string|max:50`, `email: required|email`, `age: required|integer|min:18`,
/// with Laravel's messages and 422 shape.
async fn validate(Json(input): Json<Value>) -> Response {
    // In rule order, as Laravel reports them (serde_json's map would sort the keys).
    let mut errors: Vec<(&str, String)> = Vec::new();
    let mut fail = |field: &'static str, message: String| errors.push((field, message));
    match input.get("name") {
        None | Some(Value::Null) => fail("name", "The name field is required.".into()),
        Some(Value::String(s)) if s.is_empty() => {
            fail("name", "The name field is required.".into());
        }
        Some(Value::String(s)) if s.chars().count() > 50 => fail(
            "name",
            "The name field must not be greater than 50 characters.".into(),
        ),
        Some(Value::String(_)) => {}
        Some(_) => fail("name", "The name field must be a string.".into()),
    }
    match input.get("email") {
        None | Some(Value::Null) => fail("email", "The email field is required.".into()),
        Some(Value::String(s)) if s.is_empty() => {
            fail("email", "The email field is required.".into());
        }
        Some(Value::String(s)) if is_email(s) => {}
        Some(_) => fail(
            "email",
            "The email field must be a valid email address.".into(),
        ),
    }
    match input.get("age") {
        None | Some(Value::Null) => fail("age", "The age field is required.".into()),
        Some(Value::Number(n)) if n.is_i64() => {
            if n.as_i64().is_some_and(|age| age < 18) {
                fail("age", "The age field must be at least 18.".into());
            }
        }
        Some(_) => fail("age", "The age field must be an integer.".into()),
    }
    if errors.is_empty() {
        return server(Json(json!({ "ok": true })).into_response());
    }
    let first = &errors[0].1;
    let message = match errors.len() {
        1 => first.clone(),
        2 => format!("{first} (and 1 more error)"),
        n => format!("{first} (and {} more errors)", n - 1),
    };
    server(
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(Invalid {
                message,
                errors: Errors(errors),
            }),
        )
            .into_response(),
    )
}

#[derive(Serialize)]
struct Invalid<'a> {
    message: String,
    errors: Errors<'a>,
}

/// Field → its messages, in the order the fields failed.
struct Errors<'a>(Vec<(&'a str, String)>);

impl Serialize for Errors<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(field, message)| (field, [message])))
    }
}

/// One `@`, a non-empty local part, and a domain with a dot and no spaces.
fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(url), Some(pool_size)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: tfb-baseline <port> <postgres url> <pool size>");
        std::process::exit(2);
    };
    let (Ok(port), Ok(pool_size)) = (port.parse::<u16>(), pool_size.parse::<u32>()) else {
        eprintln!("tfb-baseline: the port and the pool size must be numbers");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .connect(&url)
            .await
            .unwrap_or_else(|e| {
                eprintln!("tfb-baseline: cannot connect to {url}: {e}");
                std::process::exit(1);
            });
        let app = Router::new()
            .route("/json", get(json))
            .route("/plaintext", get(plaintext))
            .route("/db", get(db))
            .route("/queries", get(queries))
            .route("/updates", get(updates))
            .route("/fortunes", get(fortunes))
            .route("/validate", post(validate))
            .with_state(pool);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the baseline port");
        axum::serve(listener, app).await.expect("serve");
    });
}
