//! Route-model binding: handler arguments that load a model from a path parameter, and answer
//! 404 when there is none.
//!
//! ```
//! use foundry_db::{Model, Relations};
//! use foundry_http::binding::{Bound, RouteKey, WithTrashed};
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(crate = "foundry_db", soft_deletes)]
//! struct Post {
//!     id: i64,
//!     slug: String,
//!     title: String,
//!     deleted_at: Option<chrono::DateTime<chrono::Utc>>,
//!     relations: Relations,
//! }
//!
//! /// Bind by the `slug` column instead of the primary key.
//! struct BySlug;
//! impl RouteKey for BySlug {
//!     const COLUMN: Option<&'static str> = Some("slug");
//! }
//!
//! // GET /posts/{post}: the post with that id, trashed posts excluded.
//! async fn show(post: Bound<Post>) -> String { post.title.clone() }
//! // GET /blog/{post}: by slug.
//! async fn by_slug(post: Bound<Post, BySlug>) -> String { post.into_inner().title }
//! // GET /admin/posts/{post}: trashed posts too.
//! async fn restore(post: WithTrashed<Post>) -> String { post.title.clone() }
//! ```
//!
//! The parameter is the one named after the model (`Post` → `{post}`, `BlogPost` →
//! `{blog_post}`), else the route's last parameter, or [`RouteKey::PARAMETER`]. A value that
//! cannot be a key (`/posts/abc` for an integer key) is a 404 like a missing row, not a 500;
//! the 404 says `No query results for model [Post] abc.` as Laravel does.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use foundry_core::{AppContext, Error};
use foundry_db::{Db, KeyKind, Model, ModelExt};
use http::request::Parts;
use serde_json::Value as Json;

/// Which column and parameter a binding uses.
pub trait RouteKey: Send + Sync + 'static {
    /// The column to match; `None` is the primary key.
    const COLUMN: Option<&'static str>;
    /// The path parameter; `None` is the model's snake_case name, else the last parameter.
    const PARAMETER: Option<&'static str> = None;
}

/// Bind by primary key (the default).
#[derive(Debug, Clone, Copy)]
pub struct ByKey;

impl RouteKey for ByKey {
    const COLUMN: Option<&'static str> = None;
}

/// A model loaded from the path; soft-deleted rows are a 404. Derefs to the model.
#[derive(Debug, Clone)]
pub struct Bound<M, K = ByKey>(M, PhantomData<K>);

/// Like [`Bound`], but soft-deleted rows are found too (Laravel's `withTrashed()`).
#[derive(Debug, Clone)]
pub struct WithTrashed<M, K = ByKey>(M, PhantomData<K>);

macro_rules! binding {
    ($name:ident, $trashed:expr) => {
        impl<M, K> $name<M, K> {
            /// The model.
            pub fn into_inner(self) -> M {
                self.0
            }
        }

        impl<M, K> Deref for $name<M, K> {
            type Target = M;
            fn deref(&self) -> &M {
                &self.0
            }
        }

        impl<M, K> DerefMut for $name<M, K> {
            fn deref_mut(&mut self) -> &mut M {
                &mut self.0
            }
        }

        impl<M, K, S> FromRequestParts<S> for $name<M, K>
        where
            M: Model,
            K: RouteKey,
            S: Send + Sync,
            AppContext: FromRef<S>,
        {
            type Rejection = Error;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let ctx = AppContext::from_ref(state);
                let model = resolve::<M, K, S>(parts, state, &ctx, $trashed).await?;
                Ok($name(model, PhantomData))
            }
        }
    };
}

binding!(Bound, false);
binding!(WithTrashed, true);

async fn resolve<M: Model, K: RouteKey, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    ctx: &AppContext,
    with_trashed: bool,
) -> Result<M, Error> {
    let raw = parameter::<M, K, S>(parts, state).await?;
    let missing = || Error::not_found(format!("No query results for model [{}] {raw}.", M::NAME));
    let column = K::COLUMN.unwrap_or(M::PRIMARY_KEY);
    if !M::COLUMNS.contains(&column) {
        return Err(Error::internal(format!(
            "route-model binding of {} by `{column}`: the model has no such column",
            M::NAME
        )));
    }
    let number = raw.parse::<i64>().ok();
    let value = if K::COLUMN.is_none() && M::KEY_KIND == KeyKind::Increment {
        // Anything but an integer cannot be an auto-increment key.
        number.map(|n| M::json_to_value(column, Json::from(n)))
    } else {
        // Text first (a slug may look like a number), then a number for integer columns.
        M::json_to_value(column, Json::from(raw.as_str()))
            .ok()
            .map(Ok)
            .or_else(|| number.map(|n| M::json_to_value(column, Json::from(n))))
    };
    // A value the column's type cannot hold matches no row.
    let value = value.and_then(Result::ok).ok_or_else(missing)?;
    let db = ctx.services().get::<Db>().map_err(|err| {
        Error::internal(format!(
            "route-model binding of {} needs the database; configure [database] ({})",
            M::NAME,
            err.chain().last().map_or("", String::as_str)
        ))
    })?;
    let mut query = M::query(&db).where_eq(column, value);
    if with_trashed {
        query = query.with_trashed();
    }
    query.first().await?.ok_or_else(missing)
}

/// The raw value of the bound parameter.
async fn parameter<M: Model, K: RouteKey, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<String, Error> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|rejection| Error::internal(rejection.body_text()))?;
    let wanted = K::PARAMETER
        .map(str::to_owned)
        .unwrap_or_else(|| foundry_db::snake_case(M::NAME));
    let mut last = None;
    for (name, value) in &params {
        if name == wanted {
            return Ok(value.to_owned());
        }
        last = Some(value);
    }
    match (K::PARAMETER, last) {
        (None, Some(value)) => Ok(value.to_owned()),
        _ => Err(Error::internal(format!(
            "route-model binding of {}: the route has no `{{{wanted}}}` parameter",
            M::NAME
        ))),
    }
}
