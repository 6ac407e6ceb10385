//! Pagination with Laravel's JSON shapes: [`Paginator`] (`paginate`), [`SimplePaginator`]
//! (`simple_paginate`) and [`CursorPaginator`] (`cursor_paginate`, opaque cursor).
//!
//! Bad input never fails: a missing, non-numeric, zero or negative `?page=` means page 1
//! (as in Laravel), and an undecodable `?cursor=` means the first page.
//!
//! ```
//! use foundry_db::pagination::PageRequest;
//! let page = PageRequest::from_uri("http://localhost/posts?page=abc");
//! assert_eq!(page.page, 1);
//! assert_eq!(page.path, "http://localhost/posts");
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value as Json, json};

use crate::error::DbResult;
use crate::model::{Model, ModelQuery};
use crate::query::{Query, json_value};
use crate::row::Record;

/// What page the client asked for, read from the request URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The URL without the query string, used to build page links.
    pub path: String,
    /// The 1-based page (`?page=`), 1 when missing or invalid.
    pub page: u64,
    /// The raw `?cursor=`, if any.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Page 1 of `path`.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            page: 1,
            cursor: None,
        }
    }

    /// Parse `path?page=…&cursor=…` (a full URL or just the path and query).
    pub fn from_uri(uri: &str) -> Self {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut request = Self::new(path);
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "page" => request.page = parse_page(value),
                "cursor" if !value.is_empty() => request.cursor = Some(value.to_owned()),
                _ => {}
            }
        }
        request
    }

    /// This request on another page.
    pub fn page(mut self, page: u64) -> Self {
        self.page = page.max(1);
        self
    }

    fn url(&self, key: &str, value: &str) -> String {
        format!("{}?{key}={value}", self.path)
    }
}

/// A handler argument: `async fn index(page: PageRequest) -> …`. Never rejects: a bad or
/// missing `page`/`cursor` means the first page. Links are built from the request path
/// (`/posts?page=2`); behind a proxy, set [`PageRequest::path`] to the public URL if you want
/// absolute links.
impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for PageRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path();
        Ok(match parts.uri.query() {
            Some(query) => Self::from_uri(&format!("{path}?{query}")),
            None => Self::new(path),
        })
    }
}

/// `?page=` as Laravel reads it: anything but a positive integer is page 1.
pub fn parse_page(value: &str) -> u64 {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// One entry of `links` (Laravel's pagination links).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Link {
    /// The URL, `null` for disabled and `...` entries.
    pub url: Option<String>,
    /// `&laquo; Previous`, a page number, `...`, or `Next &raquo;`.
    pub label: String,
    /// The page number, if it is one.
    pub page: Option<u64>,
    /// Whether this is the current page.
    pub active: bool,
}

/// A length-aware page (`paginate`).
#[derive(Debug, Clone)]
pub struct Paginator<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Rows in total.
    pub total: u64,
    /// Items per page.
    pub per_page: u64,
    /// This page (1-based).
    pub current_page: u64,
    request: PageRequest,
}

impl<T> Paginator<T> {
    /// The last page (at least 1).
    pub fn last_page(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }

    /// The 1-based positions of the first and last item on this page (`from`, `to`); `None`
    /// for an empty page.
    pub fn item_range(&self) -> (Option<u64>, Option<u64>) {
        if self.data.is_empty() {
            return (None, None);
        }
        let from = (self.current_page - 1) * self.per_page + 1;
        (Some(from), Some(from + self.data.len() as u64 - 1))
    }

    /// The URL of another page (`/posts?page=3`).
    pub fn page_url(&self, page: u64) -> String {
        self.request.url("page", &page.to_string())
    }

    /// The URL without the query string (Laravel's `path`).
    pub fn path(&self) -> &str {
        &self.request.path
    }

    /// Laravel's `links`: previous, a window of pages with `...`, next.
    pub fn links(&self) -> Vec<Link> {
        let (current, last) = (self.current_page, self.last_page());
        let page_link = |p: u64| Link {
            url: Some(self.page_url(p)),
            label: p.to_string(),
            page: Some(p),
            active: p == current,
        };
        let dots = || Link {
            url: None,
            label: "...".into(),
            page: None,
            active: false,
        };
        let mut links = vec![Link {
            url: (current > 1).then(|| self.page_url(current - 1)),
            label: "&laquo; Previous".into(),
            page: (current > 1).then(|| current - 1),
            active: false,
        }];
        const ON_EACH_SIDE: u64 = 3;
        if last < ON_EACH_SIDE * 2 + 8 {
            links.extend((1..=last).map(page_link));
        } else if current <= ON_EACH_SIDE * 2 {
            links.extend((1..=ON_EACH_SIDE * 2 + 2).map(page_link));
            links.push(dots());
            links.extend((last - 1..=last).map(page_link));
        } else if current > last - ON_EACH_SIDE * 2 {
            links.extend((1..=2).map(page_link));
            links.push(dots());
            links.extend((last - (ON_EACH_SIDE * 2 + 2)..=last).map(page_link));
        } else {
            links.extend((1..=2).map(page_link));
            links.push(dots());
            links.extend((current - ON_EACH_SIDE..=current + ON_EACH_SIDE).map(page_link));
            links.push(dots());
            links.extend((last - 1..=last).map(page_link));
        }
        links.push(Link {
            url: (current < last).then(|| self.page_url(current + 1)),
            label: "Next &raquo;".into(),
            page: (current < last).then(|| current + 1),
            active: false,
        });
        links
    }
}

impl<T: Serialize> Serialize for Paginator<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let last = self.last_page();
        let (from, to) = self.item_range();
        let mut m = serializer.serialize_map(Some(13))?;
        m.serialize_entry("current_page", &self.current_page)?;
        m.serialize_entry("data", &self.data)?;
        m.serialize_entry("first_page_url", &self.page_url(1))?;
        m.serialize_entry("from", &from)?;
        m.serialize_entry("last_page", &last)?;
        m.serialize_entry("last_page_url", &self.page_url(last))?;
        m.serialize_entry("links", &self.links())?;
        m.serialize_entry(
            "next_page_url",
            &(self.current_page < last).then(|| self.page_url(self.current_page + 1)),
        )?;
        m.serialize_entry("path", &self.request.path)?;
        m.serialize_entry("per_page", &self.per_page)?;
        m.serialize_entry(
            "prev_page_url",
            &(self.current_page > 1).then(|| self.page_url(self.current_page - 1)),
        )?;
        m.serialize_entry("to", &to)?;
        m.serialize_entry("total", &self.total)?;
        m.end()
    }
}

/// A page without a total (`simple_paginate`): one query, `per_page + 1` rows.
#[derive(Debug, Clone)]
pub struct SimplePaginator<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Items per page.
    pub per_page: u64,
    /// This page (1-based).
    pub current_page: u64,
    /// Whether a next page exists.
    pub has_more: bool,
    request: PageRequest,
}

impl<T: Serialize> Serialize for SimplePaginator<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let url = |p: u64| self.request.url("page", &p.to_string());
        let from = (!self.data.is_empty()).then(|| (self.current_page - 1) * self.per_page + 1);
        let to = from.map(|f| f + self.data.len() as u64 - 1);
        let mut m = serializer.serialize_map(Some(10))?;
        m.serialize_entry("current_page", &self.current_page)?;
        m.serialize_entry("current_page_url", &url(self.current_page))?;
        m.serialize_entry("data", &self.data)?;
        m.serialize_entry("first_page_url", &url(1))?;
        m.serialize_entry("from", &from)?;
        m.serialize_entry(
            "next_page_url",
            &self.has_more.then(|| url(self.current_page + 1)),
        )?;
        m.serialize_entry("path", &self.request.path)?;
        m.serialize_entry("per_page", &self.per_page)?;
        m.serialize_entry(
            "prev_page_url",
            &(self.current_page > 1).then(|| url(self.current_page - 1)),
        )?;
        m.serialize_entry("to", &to)?;
        m.end()
    }
}

/// A cursor page (`cursor_paginate`): keyset pagination on the primary key, opaque cursors.
#[derive(Debug, Clone)]
pub struct CursorPaginator<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Items per page.
    pub per_page: u64,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Cursor of the previous page.
    pub prev_cursor: Option<String>,
    request: PageRequest,
}

impl<T: Serialize> Serialize for CursorPaginator<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let url = |c: &Option<String>| c.as_ref().map(|c| self.request.url("cursor", c));
        let mut m = serializer.serialize_map(Some(7))?;
        m.serialize_entry("data", &self.data)?;
        m.serialize_entry("path", &self.request.path)?;
        m.serialize_entry("per_page", &self.per_page)?;
        m.serialize_entry("next_cursor", &self.next_cursor)?;
        m.serialize_entry("next_page_url", &url(&self.next_cursor))?;
        m.serialize_entry("prev_cursor", &self.prev_cursor)?;
        m.serialize_entry("prev_page_url", &url(&self.prev_cursor))?;
        m.end()
    }
}

/// A decoded cursor: the key to continue from and the direction.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    key: Json,
    next: bool,
}

fn encode_cursor(column: &str, key: &Json, next: bool) -> String {
    // Laravel's shape: base64 of {"<column>": value, "_pointsToNextItems": bool}.
    let body = json!({ column: key, "_pointsToNextItems": next });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

fn decode_cursor(column: &str, raw: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()?;
    let body: Json = serde_json::from_slice(&bytes).ok()?;
    let key = body.get(column)?.clone();
    if !(key.is_i64() || key.is_string()) {
        return None;
    }
    Some(Cursor {
        key,
        next: body.get("_pointsToNextItems")?.as_bool()?,
    })
}

fn per_page(n: u64) -> u64 {
    n.clamp(1, 1000)
}

/// The page a `?page=` asks for: its size, and the offset of its first row.
fn window(per_page_n: u64, request: &PageRequest) -> (u64, u64, u64) {
    let per = per_page(per_page_n);
    let page = request.page.max(1);
    (per, page, (page - 1).saturating_mul(per))
}

impl<T> Paginator<T> {
    /// Count, then fetch the requested page with `fetch(limit, offset)`.
    async fn load<Fut>(
        per_page_n: u64,
        request: &PageRequest,
        count: impl Future<Output = DbResult<i64>>,
        fetch: impl FnOnce(u64, u64) -> Fut,
    ) -> DbResult<Self>
    where
        Fut: Future<Output = DbResult<Vec<T>>>,
    {
        let (per, page, offset) = window(per_page_n, request);
        let total = count.await?.max(0) as u64;
        Ok(Paginator {
            data: fetch(per, offset).await?,
            total,
            per_page: per,
            current_page: page,
            request: request.clone(),
        })
    }
}

impl<T> SimplePaginator<T> {
    /// Fetch the requested page plus one row with `fetch(limit, offset)`: the extra row says
    /// whether there is a next page.
    async fn load<Fut>(
        per_page_n: u64,
        request: &PageRequest,
        fetch: impl FnOnce(u64, u64) -> Fut,
    ) -> DbResult<Self>
    where
        Fut: Future<Output = DbResult<Vec<T>>>,
    {
        let (per, page, offset) = window(per_page_n, request);
        let mut data = fetch(per + 1, offset).await?;
        let has_more = data.len() as u64 > per;
        data.truncate(per as usize);
        Ok(SimplePaginator {
            data,
            per_page: per,
            current_page: page,
            has_more,
            request: request.clone(),
        })
    }
}

impl<M: Model> ModelQuery<M> {
    /// A page of models with the total count (two queries).
    pub async fn paginate(&self, per_page_n: u64, request: &PageRequest) -> DbResult<Paginator<M>> {
        Paginator::load(
            per_page_n,
            request,
            self.count(),
            |limit, offset| async move { self.clone().limit(limit).offset(offset).get().await },
        )
        .await
    }

    /// A page of models without a total (one query).
    pub async fn simple_paginate(
        &self,
        per_page_n: u64,
        request: &PageRequest,
    ) -> DbResult<SimplePaginator<M>> {
        SimplePaginator::load(per_page_n, request, |limit, offset| async move {
            self.clone().limit(limit).offset(offset).get().await
        })
        .await
    }

    /// Keyset pagination on the primary key, ascending (the query's own ordering is replaced).
    pub async fn cursor_paginate(
        &self,
        per_page_n: u64,
        request: &PageRequest,
    ) -> DbResult<CursorPaginator<M>> {
        let per = per_page(per_page_n);
        let pk = M::PRIMARY_KEY;
        let qualified = format!("{}.{pk}", M::TABLE);
        let cursor = request.cursor.as_deref().and_then(|c| decode_cursor(pk, c));
        let q = self.clone().reorder();
        let q = match &cursor {
            Some(c) if c.next => q
                .where_op(&qualified, ">", json_value(c.key.clone()))
                .order_by_asc(&qualified),
            Some(c) => q
                .where_op(&qualified, "<", json_value(c.key.clone()))
                .order_by_desc(&qualified),
            None => q.order_by_asc(&qualified),
        };
        let mut data = q.limit(per + 1).get().await?;
        let has_more = data.len() as u64 > per;
        data.truncate(per as usize);
        let backwards = cursor.as_ref().is_some_and(|c| !c.next);
        if backwards {
            data.reverse();
        }
        let key = |m: &M| crate::query::value_json(&m.key());
        let (first, last) = (data.first().map(key), data.last().map(key));
        let (next_cursor, prev_cursor) = if backwards {
            (
                last.map(|k| encode_cursor(pk, &k, true)),
                if has_more {
                    first.map(|k| encode_cursor(pk, &k, false))
                } else {
                    None
                },
            )
        } else {
            (
                if has_more {
                    last.map(|k| encode_cursor(pk, &k, true))
                } else {
                    None
                },
                if cursor.is_some() {
                    first.map(|k| encode_cursor(pk, &k, false))
                } else {
                    None
                },
            )
        };
        Ok(CursorPaginator {
            data,
            per_page: per,
            next_cursor,
            prev_cursor,
            request: request.clone(),
        })
    }
}

impl Query {
    /// A page of records with the total count.
    pub async fn paginate(
        &self,
        per_page_n: u64,
        request: &PageRequest,
    ) -> DbResult<Paginator<Record>> {
        Paginator::load(
            per_page_n,
            request,
            self.count(),
            |limit, offset| async move { self.clone().limit(limit).offset(offset).get().await },
        )
        .await
    }

    /// A page of records without a total.
    pub async fn simple_paginate(
        &self,
        per_page_n: u64,
        request: &PageRequest,
    ) -> DbResult<SimplePaginator<Record>> {
        SimplePaginator::load(per_page_n, request, |limit, offset| async move {
            self.clone().limit(limit).offset(offset).get().await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pages_mean_page_one() {
        for bad in ["", "abc", "0", "-3", "1.5", "99999999999999999999999"] {
            assert_eq!(parse_page(bad), 1, "{bad}");
        }
        assert_eq!(parse_page(" 7 "), 7);
        let r = PageRequest::from_uri("/posts?sort=x&page=3&cursor=abc");
        assert_eq!(
            (r.path.as_str(), r.page, r.cursor.as_deref()),
            ("/posts", 3, Some("abc"))
        );
    }

    #[tokio::test]
    async fn extracts_from_any_request_without_rejecting() {
        use axum_core::extract::FromRequestParts;
        for (uri, page) in [
            ("/posts?page=3", 3),
            ("/posts?page=%FF%FE", 1),
            ("/posts", 1),
            ("/posts?page", 1),
        ] {
            let (mut parts, ()) = http::Request::builder()
                .uri(uri)
                .body(())
                .unwrap()
                .into_parts();
            let request = PageRequest::from_request_parts(&mut parts, &())
                .await
                .unwrap();
            assert_eq!(
                (request.path.as_str(), request.page),
                ("/posts", page),
                "{uri}"
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_ignored() {
        let c = encode_cursor("id", &json!(42), true);
        assert_eq!(
            decode_cursor("id", &c),
            Some(Cursor {
                key: json!(42),
                next: true
            })
        );
        for bad in [
            "",
            "!!!",
            "e30",
            &URL_SAFE_NO_PAD.encode("{\"id\": {\"x\": 1}, \"_pointsToNextItems\": true}"),
        ] {
            assert_eq!(decode_cursor("id", bad), None, "{bad}");
        }
    }

    #[test]
    fn links_window_like_laravel() {
        let p = |current, total| Paginator::<u8> {
            data: vec![1],
            total,
            per_page: 1,
            current_page: current,
            request: PageRequest::new("/p"),
        };
        let labels = |p: Paginator<u8>| {
            p.links()
                .into_iter()
                .map(|l| l.label)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(labels(p(1, 3)), "&laquo; Previous 1 2 3 Next &raquo;");
        assert_eq!(
            labels(p(10, 20)),
            "&laquo; Previous 1 2 ... 7 8 9 10 11 12 13 ... 19 20 Next &raquo;"
        );
        assert_eq!(
            labels(p(1, 20)),
            "&laquo; Previous 1 2 3 4 5 6 7 8 ... 19 20 Next &raquo;"
        );
        assert_eq!(
            labels(p(20, 20)),
            "&laquo; Previous 1 2 ... 12 13 14 15 16 17 18 19 20 Next &raquo;"
        );
    }
}
