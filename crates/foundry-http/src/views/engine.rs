//! The interpreted engine (feature `views`): minijinja templates, their loading, the helpers
//! and the error pages.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foundry_core::config::Config;
use foundry_core::{AppContext, Environment, UrlGenerator};
use http::request::Parts;
use minijinja::AutoEscape;
/// A template value (`Value::from_object(ErrorBag::new(…))`, …).
pub use minijinja::Value;
use serde::{Deserialize, Serialize};

pub use super::helpers::ErrorBag;
/// Build a template context: `context! { title => "Posts", posts => Serde(&posts) }` (any
/// `Serialize` value works as a context too, e.g. a struct or `serde_json::json!`).
pub use minijinja::context;
/// Wrap a `Serialize` value for `context!`.
pub use minijinja::value::Serde;

use super::{DebugInfo, View, ViewError, helpers};
use crate::render::{ErrorPage, ErrorPages};

/// `[views]`: where templates live and how they are loaded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsConfig {
    /// The template directory, relative to the app root.
    pub path: String,
    /// Re-read templates that changed on disk; unset means on in `local`, off elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_reload: Option<bool>,
    /// Base URL of `asset()`; empty means `[app] url`.
    pub asset_url: String,
}

impl Default for ViewsConfig {
    fn default() -> Self {
        Self {
            path: "resources/views".into(),
            hot_reload: None,
            asset_url: String::new(),
        }
    }
}

/// Templates compiled into the binary: `(name, source)` pairs, as `embed_views!` makes them.
pub type Embedded = &'static [(&'static str, &'static str)];

/// Where templates come from.
enum Source {
    /// Read on demand from the directory and re-read when changed.
    Watched(PathBuf),
    /// Held in memory (embedded, or read from the directory at boot).
    Memory(String),
}

/// The template engine: cheap to clone, shared by every request. A handler argument.
#[derive(Clone)]
pub struct Views {
    inner: Arc<Inner>,
}

struct Inner {
    env: minijinja::Environment<'static>,
    source: Source,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views")
            .field("source", &self.searched())
            .field("hot_reload", &self.hot_reload())
            .finish()
    }
}

/// A template name as a file name: `posts.index` and `posts/index` are `posts/index.html`.
pub fn resolve_name(name: &str) -> Cow<'_, str> {
    const EXTENSIONS: [&str; 11] = [
        "html", "htm", "xml", "txt", "json", "md", "css", "js", "svg", "j2", "jinja",
    ];
    let file = name.rsplit('/').next().unwrap_or(name);
    if let Some((_, ext)) = file.rsplit_once('.')
        && EXTENSIONS.contains(&ext)
    {
        return Cow::Borrowed(name);
    }
    Cow::Owned(format!("{}.html", name.replace('.', "/")))
}

impl Views {
    /// Build the engine for an app from its `[views]` section and embedded templates.
    pub fn for_app(
        config: &Config,
        urls: &UrlGenerator,
        embedded: Embedded,
    ) -> Result<Self, foundry_core::ConfigError> {
        let settings: ViewsConfig = config.section("views")?;
        let hot_reload = settings
            .hot_reload
            .unwrap_or(config.environment() == Environment::Local);
        let dir = config.root().join(&settings.path);
        let builder = ViewsBuilder::new(config, urls, &settings);
        let views = if hot_reload {
            builder.watch(dir)
        } else if !embedded.is_empty() {
            builder.embedded(embedded)
        } else {
            builder
                .directory(&dir)
                .map_err(|err| foundry_core::ConfigError::InvalidValue {
                    key: "views.path".into(),
                    origin: config.origin_of("views.path"),
                    message: err.to_string(),
                })?
        };
        Ok(views)
    }

    /// An engine over templates given in code (tests, mail, tools), with the app's helpers.
    pub fn from_templates<I, N, S>(
        config: &Config,
        urls: &UrlGenerator,
        templates: I,
    ) -> Result<Self, foundry_core::ConfigError>
    where
        I: IntoIterator<Item = (N, S)>,
        N: Into<String>,
        S: Into<String>,
    {
        let settings: ViewsConfig = config.section("views")?;
        let map = templates
            .into_iter()
            .map(|(n, s)| (n.into(), Cow::Owned(s.into())))
            .collect();
        Ok(ViewsBuilder::new(config, urls, &settings).memory(map, "the given templates".into()))
    }

    /// Whether templates are re-read when they change.
    pub fn hot_reload(&self) -> bool {
        matches!(self.inner.source, Source::Watched(_))
    }

    fn searched(&self) -> String {
        match &self.inner.source {
            Source::Watched(dir) => dir.display().to_string(),
            Source::Memory(what) => what.clone(),
        }
    }

    /// Whether a template exists.
    pub fn exists(&self, name: &str) -> bool {
        self.inner.env.get_template(&resolve_name(name)).is_ok()
    }

    /// Render a template into an HTML (or text, XML, …: by extension) response.
    pub async fn render(&self, name: &str, context: impl Serialize) -> foundry_core::Result<View> {
        let file = resolve_name(name).into_owned();
        let context = to_value(&file, &context)?;
        let body = if self.hot_reload() {
            let views = self.clone();
            let file = file.clone();
            // The loader stats and reads files: keep that off the async workers.
            tokio::task::spawn_blocking(move || views.render_value(&file, context))
                .await
                .map_err(foundry_core::Error::internal)??
        } else {
            self.render_value(&file, context)?
        };
        Ok(View::new(&file, body))
    }

    /// Render to a string, synchronously (mail bodies, tools). With hot reload on this may
    /// read files: call it off the async workers then.
    pub fn render_to_string(
        &self,
        name: &str,
        context: impl Serialize,
    ) -> Result<String, ViewError> {
        let file = resolve_name(name);
        let context = to_value(&file, &context)?;
        self.render_value(&file, context)
    }

    fn render_value(&self, file: &str, context: Value) -> Result<String, ViewError> {
        let template = self.inner.env.get_template(file).map_err(|err| {
            if err.kind() == minijinja::ErrorKind::TemplateNotFound && err.name().is_none() {
                ViewError::NotFound {
                    name: file.to_owned(),
                    searched: self.searched(),
                }
            } else {
                self.view_error(file, &err)
            }
        })?;
        template
            .render(context)
            .map_err(|err| self.view_error(file, &err))
    }

    fn view_error(&self, file: &str, err: &minijinja::Error) -> ViewError {
        if err.kind() == minijinja::ErrorKind::TemplateNotFound && err.name().is_none() {
            // A missing parent or include: name it, with the template that asked for it.
            return ViewError::Render {
                template: file.to_owned(),
                line: err.line(),
                message: format!("{} (looked in {})", describe(err), self.searched()),
                detail: None,
            };
        }
        let info = err.display_debug_info().to_string();
        ViewError::Render {
            template: err.name().unwrap_or(file).to_owned(),
            line: err.line(),
            message: describe(err),
            detail: (self.inner.env.debug() && !info.trim().is_empty())
                .then(|| DebugInfo(info.trim_end().to_owned())),
        }
    }
}

/// The error's kind and detail, without the location minijinja appends (we put it first).
fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

fn to_value(file: &str, context: &impl Serialize) -> Result<Value, ViewError> {
    // A context that fails to serialize becomes an invalid value; report it now rather than
    // as a confusing render error later.
    let value = Value::from(Serde(context));
    if value.kind() == minijinja::value::ValueKind::Invalid {
        return Err(ViewError::Context {
            name: file.to_owned(),
            message: value.to_string(),
        });
    }
    Ok(value)
}

struct ViewsBuilder {
    env: minijinja::Environment<'static>,
}

impl ViewsBuilder {
    fn new(config: &Config, urls: &UrlGenerator, settings: &ViewsConfig) -> Self {
        let mut env = minijinja::Environment::new();
        env.set_debug(config.debug());
        env.set_auto_escape_callback(|name| {
            minijinja::default_auto_escape_callback(&resolve_name(name))
        });
        // The same escaping as the rest of the framework: `& < > " '`, and `/` left alone so
        // URLs stay readable (minijinja's default writes `&#x2f;`).
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Html)
                && !value.is_safe()
                && let Some(text) = value.as_str()
            {
                return Ok(crate::render::escape_into(out, text)?);
            }
            minijinja::escape_formatter(out, state, value)
        });
        helpers::register(&mut env, config, urls, settings);
        Self { env }
    }

    fn watch(mut self, dir: PathBuf) -> Views {
        let load = minijinja::path_loader(dir.clone());
        self.env
            .set_loader(move |name: &str| load(&resolve_name(name)));
        self.env.set_auto_reload(true);
        self.finish(Source::Watched(dir))
    }

    fn embedded(self, templates: Embedded) -> Views {
        let map = templates
            .iter()
            .map(|(name, source)| ((*name).to_owned(), Cow::Borrowed(*source)))
            .collect();
        self.memory(map, "the templates embedded in the binary".into())
    }

    fn directory(self, dir: &Path) -> Result<Views, ViewError> {
        let mut map = HashMap::new();
        if dir.is_dir() {
            read_dir_into(dir, dir, &mut map)?;
        }
        Ok(self.memory(map, dir.display().to_string()))
    }

    fn memory(mut self, map: HashMap<String, Cow<'static, str>>, what: String) -> Views {
        let map = Arc::new(map);
        self.env.set_loader(move |name: &str| {
            Ok(map
                .get(resolve_name(name).as_ref())
                .map(|source| source.to_string()))
        });
        self.env.set_auto_reload(false);
        self.finish(Source::Memory(what))
    }

    fn finish(self, source: Source) -> Views {
        Views {
            inner: Arc::new(Inner {
                env: self.env,
                source,
            }),
        }
    }
}

fn read_dir_into(
    root: &Path,
    dir: &Path,
    map: &mut HashMap<String, Cow<'static, str>>,
) -> Result<(), ViewError> {
    let failed = |path: &Path, err: std::io::Error| ViewError::Directory {
        path: path.display().to_string(),
        message: err.to_string(),
    };
    for entry in std::fs::read_dir(dir).map_err(|e| failed(dir, e))? {
        let path = entry.map_err(|e| failed(dir, e))?.path();
        if path.is_dir() {
            read_dir_into(root, &path, map)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let source = std::fs::read_to_string(&path).map_err(|e| failed(&path, e))?;
            map.insert(name, Cow::Owned(source));
        }
    }
    Ok(())
}

impl<S> axum::extract::FromRequestParts<S> for Views
where
    S: Send + Sync,
    AppContext: axum::extract::FromRef<S>,
{
    type Rejection = foundry_core::Error;

    async fn from_request_parts(_: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = <AppContext as axum::extract::FromRef<S>>::from_ref(state);
        ctx.services().get::<Views>().map(|views| (*views).clone())
    }
}

impl ErrorPages for Views {
    fn render_page(&self, page: &ErrorPage<'_>) -> Option<String> {
        let name = format!("errors/{}.html", page.status);
        // Hot reload may read the file here; only in local, where that is fine.
        if self.inner.env.get_template(&name).is_err() {
            return None;
        }
        let errors = page.errors.map(ErrorBag::new).unwrap_or_default();
        let context = context! {
            status => page.status,
            title => page.title,
            message => page.message,
            request_id => page.request_id,
            app_name => page.app_name,
            debug_chain => Value::from(Serde(page.debug_chain)),
            errors => Value::from_object(errors),
        };
        match self.render_value(&name, context) {
            Ok(body) => Some(body),
            Err(err) => {
                tracing::error!(error = %err, "the error page template failed; using the default page");
                None
            }
        }
    }
}

/// `AutoEscape` for a template name, as the engine decides it (exposed for tests and tools).
pub fn auto_escape_for(name: &str) -> AutoEscape {
    minijinja::default_auto_escape_callback(&resolve_name(name))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
