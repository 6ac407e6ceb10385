//! A small app exercising everything the kit touches: a migrated `notes` table with soft
//! deletes, validation, HTML, redirects, cookies, route middleware and the clock.
#![allow(unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use chrono::{DateTime, Utc};
use foundry::MiddlewareRegistry;
use foundry::db::migrate::Migration;
use foundry::db::schema::Schema;
use foundry::db::{Backend, Db, Model, ModelExt, Relations};
use foundry::prelude::*;
use foundry::validation::{Validate, Validated};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How many times the notes migration ran on SQLite in this process.
pub static SQLITE_MIGRATIONS: AtomicUsize = AtomicUsize::new(0);

pub struct NotesApp;

/// Who a request acts as (`acting_as`).
#[derive(Debug, Clone)]
pub struct TestUser {
    pub name: String,
}

#[derive(Model, Debug, Clone)]
#[model(crate = "foundry::db", fillable(title, body), soft_deletes)]
pub struct Note {
    pub id: i64,
    pub title: String,
    pub body: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub relations: Relations,
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[validate(crate = "foundry::validation")]
pub struct NoteInput {
    #[validate("required|string|min:3")]
    pub title: String,
    #[validate("nullable|string")]
    pub body: Option<String>,
}

struct CreateNotes;

impl Migration for CreateNotes {
    fn name(&self) -> &str {
        "2026_01_01_000000_create_notes_table"
    }

    fn up(&self, schema: &mut Schema) {
        if schema.backend() == Backend::Sqlite {
            SQLITE_MIGRATIONS.fetch_add(1, Ordering::SeqCst);
        }
        schema.create("notes", |t| {
            t.id();
            t.string("title", 200);
            t.text("body").nullable();
            t.timestamps();
            t.soft_deletes();
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("notes");
    }
}

impl App for NotesApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/notes", index)
            .post("/notes", store)
            .get("/notes/{id}", show)
            .delete("/notes/{id}", destroy)
            .get("/page", page)
            .get("/old", || async { Redirect::to("/page") })
            .get("/cookies/set", || async {
                ([(header::SET_COOKIE, "flavor=oatmeal; Path=/")], "set")
            })
            .get("/cookies/forget", || async {
                ([(header::SET_COOKIE, "flavor=; Max-Age=0; Path=/")], "gone")
            })
            .get("/echo", echo)
            .post("/form", form)
            .get("/whoami", whoami)
            .get("/guarded", || async { "secret" })
            .middleware("guarded")
            .get("/now", now)
    }

    fn middleware(registry: MiddlewareRegistry<AppContext>) -> MiddlewareRegistry<AppContext> {
        registry
            .register("deny", axum::middleware::from_fn(deny))
            .group("guarded", ["deny"])
    }

    fn migrations() -> Vec<Arc<dyn Migration>> {
        vec![Arc::new(CreateNotes)]
    }
}

async fn deny(_request: Request, _next: Next) -> Response {
    (StatusCode::FORBIDDEN, "denied by middleware").into_response()
}

async fn index(Service(db): Service<Db>) -> Result<Json<serde_json::Value>> {
    let notes = Note::query(&db).oldest(Note::COL_ID).get().await?;
    Ok(Json(json!({ "data": notes })))
}

async fn store(
    Service(db): Service<Db>,
    Validated(input): Validated<NoteInput>,
) -> Result<impl IntoResponse> {
    let note = Note::create(&db, serde_json::to_value(&input)?).await?;
    let location = format!("/notes/{}", note.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({ "data": note })),
    ))
}

async fn show(Service(db): Service<Db>, Path(id): Path<i64>) -> Result<Json<serde_json::Value>> {
    let note = Note::find_or_fail(&db, id).await?;
    Ok(Json(json!({ "data": note })))
}

async fn destroy(Service(db): Service<Db>, Path(id): Path<i64>) -> Result<StatusCode> {
    let mut note = Note::find_or_fail(&db, id).await?;
    note.delete(&db).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn page() -> Html<&'static str> {
    Html("<html><body><h1>Tom &amp; Jerry</h1><p>First</p><p>Second</p></body></html>")
}

async fn echo(headers: HeaderMap) -> Json<serde_json::Value> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Json(json!({
        "cookie": get("cookie"),
        "tenant": get("x-tenant"),
        "accept": get("accept"),
    }))
}

async fn form(Form(input): Form<NoteInput>) -> Json<serde_json::Value> {
    Json(json!({ "title": input.title, "body": input.body }))
}

async fn whoami(user: Option<axum::Extension<TestUser>>) -> Json<serde_json::Value> {
    Json(json!({ "user": user.map(|u| u.0.name) }))
}

async fn now(State(ctx): State<AppContext>) -> Json<serde_json::Value> {
    Json(json!({ "now": ctx.clock().now().timestamp() }))
}
