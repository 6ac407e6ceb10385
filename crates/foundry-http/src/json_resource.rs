//! API resources (Laravel's `JsonResource`): one type per model decides its JSON, with `data`
//! wrapping, collections, paginated collections with `links` and `meta`, and conditional
//! fields (`when`, `when_some`, `when_loaded`, `when_counted`, `merge_when`).
//!
//! ```
//! use foundry_db::{Model, Relations};
//! use foundry_http::json_resource::{Fields, JsonResource};
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(crate = "foundry_db")]
//! struct User { id: i64, name: String, email: String, relations: Relations }
//!
//! struct UserResource;
//!
//! impl JsonResource for UserResource {
//!     type Model = User;
//!     fn fields(user: &User, out: &mut Fields) {
//!         out.field("id", user.id).field("name", &user.name);
//!     }
//! }
//!
//! let user = User { id: 1, name: "Ada".into(), email: "ada@example.com".into(), relations: Relations::default() };
//! assert_eq!(UserResource::make(&user).to_string(), r#"{"data":{"id":1,"name":"Ada"}}"#);
//! ```
//!
//! Keys keep the order the resource writes them in, as Laravel's arrays do.

use axum::response::{IntoResponse, Response};
use foundry_db::Model;
use foundry_db::pagination::Paginator;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::Value as Json;

/// Turns one model into JSON.
pub trait JsonResource {
    /// The model (or any type) this resource presents.
    type Model;

    /// Write the fields of `model`, in order.
    fn fields(model: &Self::Model, out: &mut Fields);

    /// One model, wrapped in `data`.
    fn make(model: &Self::Model) -> ResourceResponse {
        ResourceResponse::new(Node::Object(Self::object(model)))
    }

    /// A list of models, wrapped in `data`.
    fn collection<'a, I>(models: I) -> ResourceResponse
    where
        I: IntoIterator<Item = &'a Self::Model>,
        Self::Model: 'a,
    {
        ResourceResponse::new(Node::List(
            models
                .into_iter()
                .map(|m| Node::Object(Self::object(m)))
                .collect(),
        ))
    }

    /// A page of models: `data`, `links` (`first`, `last`, `prev`, `next`) and `meta`
    /// (`current_page`, `from`, `last_page`, `links`, `path`, `per_page`, `to`, `total`).
    fn paginate(page: &Paginator<Self::Model>) -> ResourceResponse {
        let mut response = Self::collection(&page.data);
        let last = page.last_page();
        let current = page.current_page;
        let mut links = Fields::default();
        links
            .field("first", page.page_url(1))
            .field("last", page.page_url(last))
            .field("prev", (current > 1).then(|| page.page_url(current - 1)))
            .field("next", (current < last).then(|| page.page_url(current + 1)));
        let (from, to) = page.item_range();
        let mut meta = Fields::default();
        meta.field("current_page", current)
            .field("from", from)
            .field("last_page", last)
            .field("links", page.links())
            .field("path", page.path())
            .field("per_page", page.per_page)
            .field("to", to)
            .field("total", page.total);
        response.extra.push(("links".into(), Node::Object(links)));
        response.extra.push(("meta".into(), Node::Object(meta)));
        response
    }

    /// The fields of one model, unwrapped (to nest or to build your own shape).
    fn object(model: &Self::Model) -> Fields {
        let mut out = Fields::default();
        Self::fields(model, &mut out);
        out
    }
}

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone)]
enum Node {
    Json(Json),
    Object(Fields),
    List(Vec<Node>),
}

impl Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Json(value) => value.serialize(serializer),
            Node::Object(fields) => fields.serialize(serializer),
            Node::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// The fields of a resource, in the order they are written.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    entries: Vec<(String, Node)>,
}

impl Fields {
    /// Always include `key`. A value that cannot be serialized becomes `null`.
    pub fn field(&mut self, key: &str, value: impl Serialize) -> &mut Self {
        let value = serde_json::to_value(value).unwrap_or(Json::Null);
        self.entries.push((key.to_owned(), Node::Json(value)));
        self
    }

    /// Include `key` only when `condition` holds; `value` is only computed then.
    pub fn when<V: Serialize>(
        &mut self,
        condition: bool,
        key: &str,
        value: impl FnOnce() -> V,
    ) -> &mut Self {
        if condition {
            self.field(key, value());
        }
        self
    }

    /// Include `key` only when the value is `Some` (Laravel's `whenNotNull`).
    pub fn when_some<V: Serialize>(&mut self, key: &str, value: Option<V>) -> &mut Self {
        if let Some(value) = value {
            self.field(key, value);
        }
        self
    }

    /// Add several fields only when `condition` holds (Laravel's `mergeWhen`).
    pub fn merge_when(&mut self, condition: bool, fields: impl FnOnce(&mut Fields)) -> &mut Self {
        if condition {
            fields(self);
        }
        self
    }

    /// Include the relation `name` through resource `R`, only when it was eager loaded: a
    /// to-one relation is an object (or `null`), a to-many relation a list. A relation that
    /// was not loaded is left out, and never queried.
    pub fn when_loaded<R>(&mut self, name: &str, model: &impl Model) -> &mut Self
    where
        R: JsonResource,
        R::Model: Model,
    {
        let Some(loaded) = model.relations().and_then(|r| r.get(name)) else {
            return self;
        };
        let any = loaded.as_any();
        let node = if let Some(one) = any.downcast_ref::<Option<R::Model>>() {
            one.as_ref()
                .map_or(Node::Json(Json::Null), |m| Node::Object(R::object(m)))
        } else if let Some(many) = any.downcast_ref::<Vec<R::Model>>() {
            Node::List(many.iter().map(|m| Node::Object(R::object(m))).collect())
        } else {
            // Loaded, but of another model than `R` presents: its own JSON is still right.
            Node::Json(loaded.to_json())
        };
        self.entries.push((name.to_owned(), node));
        self
    }

    /// Include `<relation>_count` only when it was counted (`with_count`); Laravel's
    /// `whenCounted`.
    pub fn when_counted(&mut self, relation: &str, model: &impl Model) -> &mut Self {
        let key = format!("{relation}_count");
        if let Some(count) = model.relations().and_then(|r| r.extra().get(&key)) {
            self.entries.push((key, Node::Json(count.clone())));
        }
        self
    }

    /// Whether a key was written.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A resource ready to send: `{"data": …}` plus any extra top-level keys, as JSON.
#[derive(Debug, Clone)]
pub struct ResourceResponse {
    data: Node,
    wrap: bool,
    extra: Vec<(String, Node)>,
    status: StatusCode,
    location: Option<String>,
}

impl ResourceResponse {
    fn new(data: Node) -> Self {
        Self {
            data,
            wrap: true,
            extra: Vec::new(),
            status: StatusCode::OK,
            location: None,
        }
    }

    /// Add a top-level key next to `data` (Laravel's `additional`).
    pub fn additional(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Json::Null);
        self.extra.push((key.to_owned(), Node::Json(value)));
        self
    }

    /// Send the resource itself, without the `data` key (and without extra keys).
    pub fn without_wrapping(mut self) -> Self {
        self.wrap = false;
        self
    }

    /// Answer with another status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// `201 Created` with the new resource's `Location`.
    pub fn created(mut self, location: impl Into<String>) -> Self {
        self.status = StatusCode::CREATED;
        self.location = Some(location.into());
        self
    }
}

impl Serialize for ResourceResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.wrap {
            return self.data.serialize(serializer);
        }
        let mut map = serializer.serialize_map(Some(1 + self.extra.len()))?;
        map.serialize_entry("data", &self.data)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl std::fmt::Display for ResourceResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl IntoResponse for ResourceResponse {
    fn into_response(self) -> Response {
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            Err(err) => return foundry_core::Error::internal(err).into_response(),
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(location) = self.location.and_then(|l| HeaderValue::try_from(l).ok()) {
            headers.insert(LOCATION, location);
        }
        response
    }
}
