//! The functions and globals every template sees: `route()`, `url()`, `asset()`, `config()`,
//! `old()`, `errors`, `csrf_field()` and `__()`.

use std::sync::Arc;

use foundry_core::UrlGenerator;
use foundry_core::config::Config;
use minijinja::value::{Kwargs, Object, ObjectRepr, Serde, Value};
use minijinja::{Error, ErrorKind, State};

use super::ViewsConfig;

pub(super) fn register(
    env: &mut minijinja::Environment<'static>,
    config: &Config,
    urls: &UrlGenerator,
    settings: &ViewsConfig,
) {
    let routes = urls.clone();
    env.add_function(
        "route",
        move |name: &str, params: Kwargs| -> Result<String, Error> {
            let pairs: Vec<(String, String)> = params
                .args()
                .map(|key| Ok((key.to_owned(), params.get::<Value>(key)?.to_string())))
                .collect::<Result<_, Error>>()?;
            routes
                .route(name, pairs)
                .map_err(|err| Error::new(ErrorKind::InvalidOperation, err.to_string()))
        },
    );
    let absolute = urls.clone();
    env.add_function("url", move |path: &str| absolute.to(path));
    let asset_base = if settings.asset_url.is_empty() {
        config.app().url.clone()
    } else {
        settings.asset_url.clone()
    };
    env.add_function("asset", move |path: &str| {
        format!(
            "{}/{}",
            asset_base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    });
    let config = Arc::new(config.clone());
    env.add_function(
        "config",
        move |key: &str, default: Option<Value>| -> Value {
            config_value(&config, key).unwrap_or_else(|| default.unwrap_or(Value::from(())))
        },
    );
    env.add_function("old", old);
    env.add_function("csrf_field", || Value::from_safe_string(String::new()));
    env.add_function("__", translate);
    env.add_global("errors", Value::from_object(ErrorBag::default()));
}

/// `config("app.name")`: a value of the merged configuration. `[app]` keys come with their
/// defaults; the app key is never handed to templates.
fn config_value(config: &Config, key: &str) -> Option<Value> {
    if key == "app.key" {
        return None;
    }
    if let Some(app_key) = key.strip_prefix("app.") {
        let app = Value::from(Serde(config.app()));
        return app
            .get_attr(app_key)
            .ok()
            .filter(|value| !value.is_undefined());
    }
    config.raw(key).map(|value| Value::from(Serde(&value)))
}

/// `old("title", "default")`: the input of the previous request, flashed to the session.
/// Until sessions exist only a view's own `old_input` (see `View` docs) feeds it.
fn old(state: &State<'_, '_>, field: &str, default: Option<Value>) -> Value {
    state
        .lookup("old_input")
        .and_then(|input| input.get_attr(field).ok())
        .filter(|value| !value.is_undefined() && !value.is_none())
        .unwrap_or_else(|| default.unwrap_or_else(|| Value::from("")))
}

/// `__("Welcome, :name", name="Ada")`: the translation of a key with its placeholders
/// replaced. Until translations exist the key is its own translation. As in Laravel,
/// `:Name` capitalises the value and `:NAME` upper-cases it.
// minijinja passes keyword arguments by value.
#[allow(clippy::needless_pass_by_value)]
fn translate(key: &str, replace: Kwargs) -> Result<String, Error> {
    let mut names: Vec<&str> = replace.args().collect();
    // Longest first, so `:name` does not eat the start of `:names`.
    names.sort_unstable_by_key(|name| std::cmp::Reverse(name.len()));
    let mut text = key.to_owned();
    for name in names {
        let value = replace.get::<Value>(name)?.to_string();
        let mut capitalized = name.chars();
        let capitalized = match capitalized.next() {
            Some(first) => first.to_uppercase().chain(capitalized).collect::<String>(),
            None => String::new(),
        };
        let mut value_capitalized = value.chars();
        let value_capitalized = match value_capitalized.next() {
            Some(first) => first
                .to_uppercase()
                .chain(value_capitalized)
                .collect::<String>(),
            None => String::new(),
        };
        text = text
            .replace(&format!(":{}", name.to_uppercase()), &value.to_uppercase())
            .replace(&format!(":{capitalized}"), &value_capitalized)
            .replace(&format!(":{name}"), &value);
    }
    Ok(text)
}

/// Validation messages by field, Laravel's `$errors` bag: `errors.has("title")`,
/// `errors.first("title")`, `errors.get("title")`, `errors.all()`, `errors.any()`, and
/// `errors.title` for a field's list. Empty until a view is given errors (sessions will flash
/// them after a failed form).
#[derive(Debug, Default, Clone)]
pub struct ErrorBag {
    fields: Vec<(String, Vec<String>)>,
}

impl ErrorBag {
    /// A bag over field errors, in their order.
    pub fn new(fields: &[(String, Vec<String>)]) -> Self {
        Self {
            fields: fields.to_vec(),
        }
    }

    fn messages(&self, field: &str) -> &[String] {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map_or(&[], |(_, messages)| messages.as_slice())
    }
}

impl Object for ErrorBag {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let field = key.as_str()?;
        let messages = self.messages(field);
        (!messages.is_empty()).then(|| Value::from(Serde(messages)))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let names: Vec<Value> = self
            .fields
            .iter()
            .map(|(name, _)| Value::from(name.as_str()))
            .collect();
        minijinja::value::Enumerator::Iter(Box::new(names.into_iter()))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let field = || {
            args.first().and_then(Value::as_str).ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingArgument,
                    format!("errors.{method}() takes the field name"),
                )
            })
        };
        Ok(match method {
            "has" => Value::from(!self.messages(field()?).is_empty()),
            "first" => self
                .messages(field()?)
                .first()
                .map_or(Value::from(""), |m| Value::from(m.as_str())),
            "get" => Value::from(Serde(self.messages(field()?))),
            "all" => Value::from(Serde(
                self.fields
                    .iter()
                    .flat_map(|(_, messages)| messages)
                    .collect::<Vec<_>>(),
            )),
            "any" => Value::from(!self.fields.is_empty()),
            "count" => Value::from(self.fields.iter().map(|(_, m)| m.len()).sum::<usize>()),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    }
}
