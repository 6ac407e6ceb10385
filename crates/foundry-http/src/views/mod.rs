//! Views: minijinja (Jinja2) templates under `resources/views`, with layouts (`extends`),
//! autoescaping for `.html`, hot reload in `local`, templates embedded into release builds, and
//! Laravel's helpers (`route()`, `url()`, `asset()`, `config()`, `old()`, `errors`,
//! `csrf_field()`, `__()`).
//!
//! Handlers take the [`Views`] extractor and render:
//!
//! ```
//! use foundry_http::views::{View, Views, context};
//!
//! async fn index(views: Views) -> foundry_core::Result<View> {
//!     views.render("posts/index", context! { title => "Posts" }).await
//! }
//! ```
//!
//! Names are file names under the views directory; without an extension, dots are folders and
//! `.html` is implied (`"posts.index"` and `"posts/index"` are `posts/index.html`), in
//! `extends`/`include` too.
//!
//! Where templates come from, decided once at boot:
//! - **hot reload** (`[views] hot_reload`, on in `local` by default): read from the directory
//!   and re-read when a file changes; rendering then runs on the blocking pool because it may
//!   touch the disk;
//! - otherwise the app's embedded templates ([`embed_views!`](../../foundry/macro.embed_views.html)
//!   through `App::views`), when it has any;
//! - otherwise every file of the directory, read once at boot.
//!
//! Outside hot reload no request reads the disk.
//!
//! ## Typed views (feature `typed-views`)
//!
//! (The interpreted engine above is the feature `views`; typed views work without it.)
//!
//! A page whose context is a Rust struct can be compiled instead of interpreted: derive
//! `Template` (askama's Jinja dialect, the same `{% for %}`/`{{ }}`/`extends` syntax) on the
//! struct and answer with `View::template`. The template is read and type-checked when the
//! app is built — a misspelt field is a compile error — and rendering is plain Rust writing into
//! one `String`, several times cheaper than the interpreted engine. What it gives up: hot
//! reload, and the helpers above (`route()`, `old()`, …), which are functions of the
//! interpreted engine; call Rust methods on the struct instead. Templates are found through the
//! app's `askama.toml`, which also names `HtmlEscaper` so HTML is escaped exactly as the
//! interpreted engine escapes it:
//!
//! ```toml
//! [general]
//! dirs = ["resources/views"]
//!
//! [[escaper]]
//! path = "foundry::http::views::HtmlEscaper"
//! extensions = ["html", "htm", "xml", "svg"]
//! ```

#[cfg(feature = "views")]
mod engine;
#[cfg(feature = "views")]
mod helpers;

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, StatusCode};

#[cfg(feature = "views")]
pub use engine::*;

/// The template compiler behind typed views; name it in `#[template(askama = …)]` so an app
/// needs no dependency of its own on it.
#[cfg(feature = "typed-views")]
pub use askama;
/// Derive on a struct to compile its template at build time; render it with [`View::template`].
#[cfg(feature = "typed-views")]
pub use askama::Template;

/// The escaping of typed views' HTML, the same as the interpreted engine's (`& < > " '`, with
/// `&quot;` and `&#39;` for the quotes); named in the app's `askama.toml`.
#[cfg(feature = "typed-views")]
#[derive(Debug, Clone, Copy)]
pub struct HtmlEscaper;

#[cfg(feature = "typed-views")]
impl askama::filters::Escaper for HtmlEscaper {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, string: &str) -> std::fmt::Result {
        crate::render::escape_into(&mut dest, string)
    }
}

/// How much to reserve for a typed view's output. askama's estimate counts a loop's body a
/// few times, so a page with a table outgrows it and is copied at each doubling; each thread
/// remembers the largest page it has rendered of each template (up to 64 KiB) and reserves
/// that instead.
#[cfg(feature = "typed-views")]
mod rendered_sizes {
    use std::cell::RefCell;

    /// Past this, the copies while growing cost little next to the rendering itself.
    const MOST: usize = 64 * 1024;

    thread_local! {
        /// (template's type name, largest output) — a handful of entries, scanned in order.
        static LARGEST: RefCell<Vec<(&'static str, usize)>> = const { RefCell::new(Vec::new()) };
    }

    /// Type names are compared by address first: one type's name is one constant.
    fn same(a: &str, b: &str) -> bool {
        std::ptr::eq(a, b) || a == b
    }

    /// Bytes to reserve for rendering the template called `name`.
    pub(super) fn reserve(name: &'static str, estimate: usize) -> usize {
        LARGEST.with_borrow(|largest| {
            largest
                .iter()
                .find(|(known, _)| same(known, name))
                .map_or(estimate, |(_, size)| (*size).max(estimate))
        })
    }

    /// Remember that the template called `name` rendered `size` bytes.
    pub(super) fn record(name: &'static str, size: usize) {
        let size = size.min(MOST);
        LARGEST.with_borrow_mut(|largest| {
            match largest.iter_mut().find(|(known, _)| same(known, name)) {
                Some((_, largest)) => *largest = (*largest).max(size),
                None => largest.push((name, size)),
            }
        });
    }
}

/// Why a view could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// No template has this name.
    #[error(
        "view `{name}` not found in {searched}; create the file or check the name \
         (`posts.index` and `posts/index` both mean `posts/index.html`)"
    )]
    NotFound {
        /// The template's file name.
        name: String,
        /// Where templates were looked for.
        searched: String,
    },
    /// The template (or one it extends or includes) has a syntax error or failed to render.
    #[error("{}", render_message(.template, *.line, .message))]
    Render {
        /// The template the error is in.
        template: String,
        /// The line, when known.
        line: Option<usize>,
        /// What went wrong.
        message: String,
        /// The source around the error (debug mode only).
        #[source]
        detail: Option<DebugInfo>,
    },
    /// The context could not be turned into template values.
    #[error("view `{name}`: the context cannot be serialized: {message}")]
    Context {
        /// The template's file name.
        name: String,
        /// The serializer's message.
        message: String,
    },
    /// A template directory could not be read at boot.
    #[error("cannot read the views directory {path}: {message}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        message: String,
    },
}

fn render_message(template: &str, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("template `{template}` line {line}: {message}"),
        None => format!("template `{template}`: {message}"),
    }
}

/// minijinja's excerpt of the template around an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DebugInfo(String);

impl From<ViewError> for foundry_core::Error {
    fn from(err: ViewError) -> Self {
        foundry_core::Error::internal(err)
    }
}

/// A rendered view: the body with a content type from the template's extension, and a status
/// (200 unless set).
#[derive(Debug, Clone)]
pub struct View {
    body: String,
    content_type: &'static str,
    status: StatusCode,
    headers: HeaderMap,
}

impl View {
    pub(crate) fn new(file: &str, body: String) -> Self {
        let content_type = match file.rsplit_once('.').map(|(_, ext)| ext) {
            Some("txt" | "md") => "text/plain; charset=utf-8",
            Some("xml") => "application/xml",
            Some("json") => "application/json",
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("svg") => "image/svg+xml",
            _ => "text/html; charset=utf-8",
        };
        Self {
            body,
            content_type,
            status: StatusCode::OK,
            headers: HeaderMap::new(),
        }
    }

    /// Render a typed view (a struct deriving [`Template`]) as `text/html; charset=utf-8`;
    /// another content type can be set with [`View::header`].
    ///
    /// ```
    /// use foundry_http::views::{Template, View};
    ///
    /// #[derive(Template)]
    /// #[template(
    ///     source = "<ul>{% for name in names %}<li>{{ name }}</li>{% endfor %}</ul>",
    ///     ext = "html",
    ///     askama = foundry_http::views::askama
    /// )]
    /// struct Names<'a> {
    ///     names: &'a [&'a str],
    /// }
    ///
    /// async fn names() -> foundry_core::Result<View> {
    ///     Ok(View::template(&Names { names: &["Ada", "<Grace>"] })?)
    /// }
    /// # let view = View::template(&Names { names: &["Ada", "<Grace>"] }).unwrap();
    /// # assert_eq!(view.body(), "<ul><li>Ada</li><li>&lt;Grace&gt;</li></ul>");
    /// ```
    #[cfg(feature = "typed-views")]
    pub fn template<T: Template>(template: &T) -> Result<Self, ViewError> {
        let name = std::any::type_name::<T>();
        let mut body = String::with_capacity(rendered_sizes::reserve(name, T::SIZE_HINT));
        template
            .render_into(&mut body)
            .map_err(|err| ViewError::Render {
                template: name.to_owned(),
                line: None,
                message: err.to_string(),
                detail: None,
            })?;
        rendered_sizes::record(name, body.len());
        Ok(Self::new("", body))
    }

    /// Answer with another status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Add a response header.
    pub fn header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The rendered text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The rendered text, owned.
    pub fn into_body(self) -> String {
        self.body
    }
}

impl IntoResponse for View {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        headers.extend(self.headers);
        response
    }
}

#[cfg(all(test, feature = "typed-views"))]
mod tests {
    use super::*;

    #[derive(Template)]
    #[template(
        source = "{% for row in rows %}<tr>{{ row }}</tr>{% endfor %}",
        ext = "txt"
    )]
    struct Rows<'a> {
        rows: &'a [&'a str],
    }

    #[test]
    fn a_typed_view_reserves_what_its_template_rendered_before() {
        let many = ["a row long enough to outgrow askama's estimate"; 40];
        let name = std::any::type_name::<Rows<'_>>();
        assert_eq!(
            rendered_sizes::reserve(name, Rows::SIZE_HINT),
            Rows::SIZE_HINT
        );

        let first = View::template(&Rows { rows: &many }).unwrap();
        assert_eq!(first.body(), format!("<tr>{}</tr>", many[0]).repeat(40));
        assert!(
            first.body.len() > Rows::SIZE_HINT,
            "the test needs a page past the estimate"
        );
        assert_eq!(
            rendered_sizes::reserve(name, Rows::SIZE_HINT),
            first.body.len()
        );

        // The same page again fits in what was reserved; a smaller one keeps the largest.
        let again = View::template(&Rows { rows: &many }).unwrap();
        assert_eq!(again.body, first.body);
        assert_eq!(again.body.capacity(), first.body.len());
        let small = View::template(&Rows { rows: &many[..1] }).unwrap();
        assert_eq!(small.body(), format!("<tr>{}</tr>", many[0]));
        assert_eq!(
            rendered_sizes::reserve(name, Rows::SIZE_HINT),
            first.body.len()
        );
    }
}
