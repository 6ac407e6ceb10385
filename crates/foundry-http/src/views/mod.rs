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
        let body = template.render().map_err(|err| ViewError::Render {
            template: std::any::type_name::<T>().to_owned(),
            line: None,
            message: err.to_string(),
            detail: None,
        })?;
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
