//! The benchmark's handlers.

use foundry::db::{Db, Model, ModelExt, Value};
use foundry::http::json_resource::{JsonResource, ResourceResponse};
use foundry::http::views::Template;
use foundry::prelude::*;
use foundry::validation::{Validate, Validated};
use serde::Deserialize;
use serde_json::json;

use crate::models::{Fortune, World};
use crate::resources::WorldResource;
use crate::seed::WORLDS;

/// The message of `/json` and `/plaintext`.
const HELLO: &str = "Hello, World!";

/// Most rows `/queries` and `/updates` touch per request.
pub const MAX_QUERIES: usize = 500;

/// `GET /json`
pub async fn json() -> Json<serde_json::Value> {
    Json(json!({ "message": HELLO }))
}

/// `GET /plaintext`
pub async fn plaintext() -> &'static str {
    HELLO
}

/// `GET /db`: one random world.
pub async fn db(Service(db): Service<Db>) -> Result<ResourceResponse> {
    let world = World::find_or_fail(&db, random_id()).await?;
    Ok(WorldResource::make(&world).without_wrapping())
}

/// The `queries` parameter of `/queries` and `/updates`, as text: TechEmpower sends bad
/// values on purpose and expects them to count as 1, not to be rejected.
#[derive(Debug, Deserialize)]
pub struct Count {
    queries: Option<String>,
}

impl Count {
    /// 1..=500; missing, unparsable or below 1 is 1, above 500 is 500.
    pub fn get(&self) -> usize {
        self.queries
            .as_deref()
            .and_then(|q| q.trim().parse::<i64>().ok())
            .map_or(1, |n| n.clamp(1, MAX_QUERIES as i64) as usize)
    }
}

/// `GET /queries?queries=N`: N random worlds, one query each.
pub async fn queries(
    Service(db): Service<Db>,
    Query(count): Query<Count>,
) -> Result<ResourceResponse> {
    let mut worlds = Vec::with_capacity(count.get());
    for _ in 0..count.get() {
        worlds.push(World::find_or_fail(&db, random_id()).await?);
    }
    Ok(WorldResource::collection(&worlds).without_wrapping())
}

/// `GET /updates?queries=N`: N distinct random worlds, each read, given a new random number,
/// and written back together in one upsert.
pub async fn updates(
    Service(db): Service<Db>,
    Query(count): Query<Count>,
) -> Result<ResourceResponse> {
    // In key order, so concurrent requests lock their rows in the same order when writing
    // and cannot deadlock.
    let mut ids = distinct_random_ids(count.get());
    ids.sort_unstable();
    let mut worlds = Vec::with_capacity(ids.len());
    for id in ids {
        let mut world = World::find_or_fail(&db, id).await?;
        world.random_number = random_number();
        worlds.push(world);
    }
    let rows: Vec<[(&str, Value); 2]> = worlds
        .iter()
        .map(|w| {
            [
                (World::COL_ID, w.id.into()),
                (World::COL_RANDOM_NUMBER, w.random_number.into()),
            ]
        })
        .collect();
    db.table(World::TABLE)
        .upsert(rows, &[World::COL_ID], &[World::COL_RANDOM_NUMBER])
        .await?;
    Ok(WorldResource::collection(&worlds).without_wrapping())
}

/// The fortunes page, `resources/views/fortunes.html`: a typed view, compiled at build time.
#[derive(Template)]
#[template(path = "fortunes.html", askama = foundry::http::views::askama)]
pub struct FortunesPage {
    /// Every fortune, sorted by message.
    pub fortunes: Vec<Fortune>,
}

/// `GET /fortunes`: every fortune plus one added now, sorted by message, as an HTML table.
pub async fn fortunes(Service(db): Service<Db>) -> Result<View> {
    let mut fortunes = Fortune::all(&db).await?;
    fortunes.push(Fortune {
        id: 0,
        message: "Additional fortune added at request time.".to_owned(),
    });
    fortunes.sort_unstable_by(|a, b| a.message.cmp(&b.message));
    Ok(View::template(&FortunesPage { fortunes })?)
}

/// What `POST /validate` accepts.
#[derive(Debug, Deserialize, Validate)]
#[validate(crate = "foundry::validation")]
pub struct Signup {
    /// A name of at most 50 characters.
    #[validate("required|string|max:50")]
    pub name: String,
    /// An e-mail address.
    #[validate("required|email")]
    pub email: String,
    /// Age, at least 18.
    #[validate("required|integer|min:18")]
    pub age: i64,
}

/// `POST /validate`: `{"ok":true}` for a valid signup, Laravel's 422 JSON otherwise.
pub async fn validate(Validated(_signup): Validated<Signup>) -> Json<serde_json::Value> {
    Json(json!({ "ok": true }))
}

/// A world's id.
fn random_id() -> i64 {
    fastrand::i64(1..=WORLDS)
}

/// A world's random number.
fn random_number() -> i32 {
    fastrand::i32(1..=10_000)
}

/// `n` different world ids: an upsert may not touch one row twice.
fn distinct_random_ids(n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let id = random_id();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}
