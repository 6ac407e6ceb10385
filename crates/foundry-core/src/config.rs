//! Layered configuration: `foundry.toml`, `foundry.<env>.toml`, `.env` and `FOUNDRY_*` variables.
//!
//! Layers, later ones winning:
//! 1. the defaults of each typed section (`impl Default`),
//! 2. `foundry.toml` in the app's root directory,
//! 3. `foundry.<env>.toml` for the selected environment, when it exists,
//! 4. `DATABASE_URL`, the twelve-factor name for the default connection (`database.url`),
//! 5. environment variables `FOUNDRY_<SECTION>__<KEY>` (nested keys separated by `__`),
//!    read from the process environment and from `.env` (the process environment wins).
//!
//! The environment is chosen by `FOUNDRY_ENV`, then `[app] env` in `foundry.toml`, and
//! defaults to `local`.
//!
//! Every section is a plain serde struct read with [`Config::section`]. A value of the wrong
//! type is reported with the dotted key, the file or variable it came from, and what was
//! expected, for example:
//!
//! ```text
//! invalid configuration value for `server.port` (from environment variable FOUNDRY_SERVER__PORT): invalid digit found in string, expected an integer
//! ```
//!
//! This is our own loader rather than the `config` crate: we need to know where every value
//! came from to name it in errors, and to coerce string variables by the type of the
//! default at the same key (so `FOUNDRY_APP__NAME=2024` stays a string while
//! `FOUNDRY_SERVER__PORT=8080` becomes a number).
//!
//! ```
//! use foundry_core::config::{Config, ConfigLoader, ServerConfig};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("foundry.toml"), "[server]\nport = 9000\n").unwrap();
//! let config = ConfigLoader::new(dir.path())
//!     .vars([("FOUNDRY_SERVER__HOST", "0.0.0.0")])
//!     .load()
//!     .unwrap();
//! let server: ServerConfig = config.section("server").unwrap();
//! assert_eq!((server.host.as_str(), server.port), ("0.0.0.0", 9000));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::key::AppKey;

/// The prefix of configuration variables.
pub const ENV_PREFIX: &str = "FOUNDRY_";
/// Separates nested keys inside a variable name (`FOUNDRY_SERVER__PORT`).
pub const ENV_SEPARATOR: &str = "__";

/// The environment an app runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine: debug on, pretty logs, hot reload.
    #[default]
    Local,
    /// Automated tests.
    Testing,
    /// Production: debug off, JSON logs, an app key is required.
    Production,
}

impl Environment {
    /// The lowercase name used in files and variables.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Testing => "testing",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" | "development" | "dev" => Ok(Environment::Local),
            "testing" | "test" => Ok(Environment::Testing),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(format!(
                "unknown environment \"{other}\", expected one of: local, testing, production"
            )),
        }
    }
}

/// Where a configuration value came from; named in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The section's built-in default.
    Default,
    /// A TOML file.
    File(PathBuf),
    /// An environment variable, from the process or from `.env`.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file exists but could not be read.
    #[error("failed to read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid TOML (or `.env` syntax).
    #[error("failed to parse configuration file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value has the wrong type or an unknown key was given.
    #[error("invalid configuration value for `{key}` (from {origin}): {message}")]
    InvalidValue {
        /// The dotted key, e.g. `server.port`.
        key: String,
        /// Where the offending value came from.
        origin: Origin,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The app key is missing where it is required.
    #[error(
        "no application key is set; the {env} environment refuses to start without one \
         (run `key:generate` or set FOUNDRY_APP__KEY)"
    )]
    MissingAppKey {
        /// The environment that requires it.
        env: Environment,
    },
}

impl ConfigError {
    /// The dotted key the error is about, when it is about one value.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::InvalidValue { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Builds a [`Config`] from a root directory and an environment.
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    root: PathBuf,
    vars: Option<Vec<(String, String)>>,
    dotenv: bool,
    env: Option<Environment>,
}

impl ConfigLoader {
    /// A loader reading files from `root` and variables from the process environment.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            vars: None,
            dotenv: true,
            env: None,
        }
    }

    /// Use these variables instead of the process environment (tests, embedding).
    pub fn vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.vars = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Whether to read `<root>/.env` (default: yes).
    pub fn dotenv(mut self, read: bool) -> Self {
        self.dotenv = read;
        self
    }

    /// Force an environment, ignoring `FOUNDRY_ENV` and `[app] env`.
    pub fn environment(mut self, env: Environment) -> Self {
        self.env = Some(env);
        self
    }

    /// Read every layer and validate the framework's own sections.
    pub fn load(self) -> Result<Config, ConfigError> {
        let mut vars: BTreeMap<String, (String, Origin)> = BTreeMap::new();
        let dotenv_path = self.root.join(".env");
        if self.dotenv && dotenv_path.is_file() {
            let iter = dotenvy::from_path_iter(&dotenv_path).map_err(|e| ConfigError::Parse {
                path: dotenv_path.clone(),
                message: e.to_string(),
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::Parse {
                    path: dotenv_path.clone(),
                    message: e.to_string(),
                })?;
                vars.insert(k.clone(), (v, Origin::Env(format!("{k} (.env)"))));
            }
        }
        let process: Vec<(String, String)> = match self.vars {
            Some(v) => v,
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        };
        for (k, v) in process {
            let origin = Origin::Env(k.clone());
            vars.insert(k, (v, origin));
        }

        let base_path = self.root.join("foundry.toml");
        let base = read_toml(&base_path)?.unwrap_or_default();

        let env = match self.env {
            Some(env) => env,
            None => select_environment(&vars, &base, &base_path)?,
        };

        let mut layers = Layers::default();
        layers.merge_file(base, &base_path);
        let overlay_path = self.root.join(format!("foundry.{env}.toml"));
        if let Some(overlay) = read_toml(&overlay_path)? {
            layers.merge_file(overlay, &overlay_path);
        }
        // Hosts and tools (Heroku, Rails, sqlx) hand the database over as `DATABASE_URL`;
        // pushed first, so an explicit `FOUNDRY_DATABASE__URL` still wins.
        if let Some((value, origin)) = vars.get("DATABASE_URL") {
            layers.env.push(EnvOverride {
                path: vec!["database".into(), "url".into()],
                value: value.clone(),
                origin: origin.clone(),
            });
        }
        for (name, (value, origin)) in &vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // Only `SECTION__KEY` names are overrides; `FOUNDRY_ENV` and tool variables such
            // as `FOUNDRY_TEST_DATABASE_URL` are not.
            if !rest.contains(ENV_SEPARATOR) {
                continue;
            }
            let path: Vec<String> = rest
                .split(ENV_SEPARATOR)
                .map(|part| part.to_ascii_lowercase())
                .collect();
            if path.iter().any(String::is_empty) {
                return Err(ConfigError::InvalidValue {
                    key: path.join("."),
                    origin: origin.clone(),
                    message: format!(
                        "malformed variable name; expected FOUNDRY_<SECTION>{ENV_SEPARATOR}<KEY>"
                    ),
                });
            }
            layers.env.push(EnvOverride {
                path,
                value: value.clone(),
                origin: origin.clone(),
            });
        }

        let vars = vars.into_iter().map(|(k, (v, _))| (k, v)).collect();
        let mut config = Config {
            root: self.root,
            env,
            layers,
            vars,
            app: AppConfig::default(),
        };
        let mut app: AppConfig = config.section("app")?;
        app.env = env;
        if app.debug.is_none() {
            app.debug = Some(env == Environment::Local);
        }
        config.app = app;
        // Validate the other framework sections up front so a typo fails at start, not later.
        config.section::<ServerConfig>("server")?;
        config.section::<LogConfig>("log")?;
        Ok(config)
    }
}

fn select_environment(
    vars: &BTreeMap<String, (String, Origin)>,
    base: &Table,
    base_path: &Path,
) -> Result<Environment, ConfigError> {
    for name in ["FOUNDRY_ENV", "FOUNDRY_APP__ENV"] {
        if let Some((value, origin)) = vars.get(name) {
            return value.parse().map_err(|message| ConfigError::InvalidValue {
                key: "app.env".into(),
                origin: origin.clone(),
                message,
            });
        }
    }
    match base.get("app").and_then(|app| app.get("env")) {
        None => Ok(Environment::Local),
        Some(Value::String(s)) => s.parse().map_err(|message| ConfigError::InvalidValue {
            key: "app.env".into(),
            origin: Origin::File(base_path.to_path_buf()),
            message,
        }),
        Some(other) => Err(ConfigError::InvalidValue {
            key: "app.env".into(),
            origin: Origin::File(base_path.to_path_buf()),
            message: format!(
                "expected a string (local, testing or production), found {}",
                other.type_str()
            ),
        }),
    }
}

fn read_toml(path: &Path) -> Result<Option<Table>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    text.parse::<Table>()
        .map(Some)
        .map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })
}

#[derive(Debug, Clone)]
struct EnvOverride {
    path: Vec<String>,
    value: String,
    origin: Origin,
}

/// The merged file layers plus the variable overrides, kept apart so variables can be
/// coerced by the type of the value they replace.
#[derive(Debug, Clone, Default)]
struct Layers {
    files: Table,
    origins: BTreeMap<String, Origin>,
    env: Vec<EnvOverride>,
}

impl Layers {
    fn merge_file(&mut self, table: Table, path: &Path) {
        let origin = Origin::File(path.to_path_buf());
        merge_tables(&mut self.files, table, "", &origin, &mut self.origins);
    }
}

fn merge_tables(
    into: &mut Table,
    from: Table,
    prefix: &str,
    origin: &Origin,
    origins: &mut BTreeMap<String, Origin>,
) {
    for (key, value) in from {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (into.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => {
                merge_tables(existing, incoming, &dotted, origin, origins);
            }
            (_, value) => {
                record_origins(&value, &dotted, origin, origins);
                into.insert(key, value);
            }
        }
    }
}

fn record_origins(
    value: &Value,
    dotted: &str,
    origin: &Origin,
    origins: &mut BTreeMap<String, Origin>,
) {
    origins.insert(dotted.to_owned(), origin.clone());
    if let Value::Table(table) = value {
        for (k, v) in table {
            record_origins(v, &format!("{dotted}.{k}"), origin, origins);
        }
    }
}

/// Turn a variable's text into a TOML value shaped like the value it replaces.
fn coerce(raw: &str, like: Option<&Value>) -> Result<Value, String> {
    let trimmed = raw.trim();
    match like {
        Some(Value::String(_)) => Ok(Value::String(raw.to_owned())),
        Some(Value::Integer(_)) => trimmed
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|e| format!("{e}, expected an integer, got \"{raw}\"")),
        Some(Value::Float(_)) => trimmed
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|e| format!("{e}, expected a number, got \"{raw}\"")),
        Some(Value::Boolean(_)) => parse_bool(trimmed)
            .map(Value::Boolean)
            .ok_or_else(|| format!("expected a boolean (true/false), got \"{raw}\"")),
        Some(Value::Array(_)) => parse_literal(trimmed)
            .filter(Value::is_array)
            .or_else(|| {
                // A comma-separated list is the friendly way to write an array in a variable.
                Some(Value::Array(
                    trimmed
                        .split(',')
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ))
            })
            .ok_or_else(|| format!("expected a list, got \"{raw}\"")),
        // Unknown target (an optional key or a free-form table): take TOML literals, else text.
        _ => Ok(parse_literal(trimmed)
            .filter(|v| !v.is_table())
            .unwrap_or_else(|| Value::String(raw.to_owned()))),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_literal(s: &str) -> Option<Value> {
    format!("v = {s}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
}

/// The loaded configuration of an app.
#[derive(Debug, Clone)]
pub struct Config {
    root: PathBuf,
    env: Environment,
    layers: Layers,
    vars: BTreeMap<String, String>,
    app: AppConfig,
}

impl Config {
    /// Load from `root` with the process environment (what `foundry::run` does).
    pub fn load(root: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        ConfigLoader::new(root).load()
    }

    /// The app's root directory (where `foundry.toml` lives).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The storage directory (`<root>/storage`): SQLite files, logs, maintenance state.
    pub fn storage_path(&self) -> PathBuf {
        self.root.join("storage")
    }

    /// The selected environment.
    pub fn environment(&self) -> Environment {
        self.env
    }

    /// The `[app]` section.
    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    /// Whether debug mode is on (error details in responses).
    pub fn debug(&self) -> bool {
        self.app.debug.unwrap_or(false)
    }

    /// A variable from the process environment or `.env` (process wins), e.g. `DATABASE_URL`.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Whether the app configures a section at all (in a file or through a variable).
    pub fn has_section(&self, name: &str) -> bool {
        self.layers.files.contains_key(name) || self.layers.env.iter().any(|o| o.path[0] == name)
    }

    /// The raw merged value at a dotted key (files and variables), for tools like `about`.
    pub fn raw(&self, dotted_key: &str) -> Option<Value> {
        let (section, _) = dotted_key.split_once('.').unwrap_or((dotted_key, ""));
        let merged = self
            .merged_section(section, Value::Table(Table::new()))
            .ok()?;
        let mut current = &merged;
        for part in dotted_key.split('.').skip(1) {
            current = current.get(part)?;
        }
        Some(current.clone())
    }

    /// Read one section into its typed struct: defaults, then files, then variables.
    ///
    /// `T` must implement `Default` (the defaults layer) and `Serialize` (so the loader knows
    /// the type of each default and can coerce variables to it). Mark sections
    /// `#[serde(deny_unknown_fields)]` so a misspelt key is an error.
    pub fn section<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        let defaults = Value::try_from(T::default()).map_err(|e| ConfigError::InvalidValue {
            key: name.to_owned(),
            origin: Origin::Default,
            message: format!("the section's defaults cannot be represented in TOML: {e}"),
        })?;
        let merged = self.merged_section(name, defaults)?;
        serde_path_to_error::deserialize::<_, T>(merged).map_err(|err| {
            let inner_path = err.path().to_string();
            let key = if inner_path == "." || inner_path.is_empty() {
                name.to_owned()
            } else {
                format!("{name}.{inner_path}")
            };
            let origin = self.origin_of(&key);
            ConfigError::InvalidValue {
                key,
                origin,
                message: err.into_inner().to_string(),
            }
        })
    }

    fn merged_section(&self, name: &str, defaults: Value) -> Result<Value, ConfigError> {
        let mut merged = match defaults {
            Value::Table(t) => t,
            other => {
                let mut t = Table::new();
                t.insert(String::new(), other);
                t
            }
        };
        if let Some(value) = self.layers.files.get(name) {
            match value {
                Value::Table(file) => {
                    let mut ignored = BTreeMap::new();
                    merge_tables(
                        &mut merged,
                        file.clone(),
                        "",
                        &Origin::Default,
                        &mut ignored,
                    );
                }
                other => {
                    return Err(ConfigError::InvalidValue {
                        key: name.to_owned(),
                        origin: self.origin_of(name),
                        message: format!("expected a table `[{name}]`, found {}", other.type_str()),
                    });
                }
            }
        }
        for over in self.layers.env.iter().filter(|o| o.path[0] == name) {
            let key = over.path.join(".");
            let mut table = &mut merged;
            for part in &over.path[1..over.path.len() - 1] {
                let entry = table
                    .entry(part.clone())
                    .or_insert_with(|| Value::Table(Table::new()));
                table = match entry {
                    Value::Table(t) => t,
                    _ => {
                        return Err(ConfigError::InvalidValue {
                            key,
                            origin: over.origin.clone(),
                            message: format!("`{part}` is a value, not a table"),
                        });
                    }
                };
            }
            // The loader only keeps names with a separator, so there is a section and a leaf.
            let leaf = &over.path[over.path.len() - 1];
            let value = coerce(&over.value, table.get(leaf)).map_err(|message| {
                ConfigError::InvalidValue {
                    key: key.clone(),
                    origin: over.origin.clone(),
                    message,
                }
            })?;
            table.insert(leaf.clone(), value);
        }
        Ok(Value::Table(merged))
    }

    /// Where the value at a dotted key came from (variables beat files beat defaults).
    pub fn origin_of(&self, dotted_key: &str) -> Origin {
        let path: Vec<&str> = dotted_key.split('.').collect();
        if let Some(over) =
            self.layers.env.iter().rev().find(|o| {
                o.path.len() <= path.len() && o.path.iter().zip(&path).all(|(a, b)| a == b)
            })
        {
            return over.origin.clone();
        }
        // The longest recorded prefix: a key inside an inline table belongs to that table's file.
        let mut candidate = dotted_key;
        loop {
            if let Some(origin) = self.layers.origins.get(candidate) {
                return origin.clone();
            }
            match candidate.rsplit_once('.') {
                Some((head, _)) => candidate = head,
                None => return Origin::Default,
            }
        }
    }
}

/// `[app]`: identity, environment, debug and the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// The app's display name.
    pub name: String,
    /// The environment (set by the loader from `FOUNDRY_ENV` / `[app] env`).
    pub env: Environment,
    /// Debug mode; defaults to on in `local`, off elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    /// The public base URL, used to build absolute URLs.
    pub url: String,
    /// The app key (`base64:<32 bytes>`), used to sign and encrypt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<AppKey>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            name: "RustForge".into(),
            env: Environment::Local,
            debug: None,
            url: "http://127.0.0.1:8000".into(),
            key: None,
        }
    }
}

impl AppConfig {
    /// The key, or the error production startup reports when it is missing.
    pub fn require_key(&self) -> Result<&AppKey, ConfigError> {
        self.key
            .as_ref()
            .ok_or(ConfigError::MissingAppKey { env: self.env })
    }
}

/// `[server]`: where `serve` listens and how it stops.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Interface to bind (default `127.0.0.1`).
    pub host: String,
    /// Port to bind (default `8000`).
    pub port: u16,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM (default 30).
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8000,
            shutdown_grace_secs: 30,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Multi-line, coloured, for people.
    Pretty,
    /// One line per event, for people.
    Compact,
    /// One JSON object per line, for machines.
    Json,
}

/// `[log]`: level and format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `info,foundry_http=debug`; `RUST_LOG` wins.
    pub level: String,
    /// Output format; defaults to `pretty` in local, `json` in production, `compact` in testing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<LogFormat>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: None,
        }
    }
}

impl LogConfig {
    /// The format to use in `env` when none is configured.
    pub fn format_for(&self, env: Environment) -> LogFormat {
        self.format.unwrap_or(match env {
            Environment::Local => LogFormat::Pretty,
            Environment::Testing => LogFormat::Compact,
            Environment::Production => LogFormat::Json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn load(dir: &Path, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        ConfigLoader::new(dir).vars(vars.iter().copied()).load()
    }

    #[test]
    fn defaults_apply_without_any_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(dir.path(), &[]).unwrap();
        assert_eq!(config.environment(), Environment::Local);
        assert!(config.debug(), "debug defaults to on in local");
        let server: ServerConfig = config.section("server").unwrap();
        assert_eq!(server, ServerConfig::default());
    }

    #[test]
    fn file_then_overlay_then_env_variables() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "foundry.toml",
            "[app]\nname = \"Blog\"\n[server]\nport = 9000\nhost = \"0.0.0.0\"\n",
        );
        write(
            dir.path(),
            "foundry.testing.toml",
            "[server]\nport = 9100\n",
        );
        let config = load(
            dir.path(),
            &[
                ("FOUNDRY_ENV", "testing"),
                ("FOUNDRY_SERVER__SHUTDOWN_GRACE_SECS", "5"),
            ],
        )
        .unwrap();
        assert_eq!(config.environment(), Environment::Testing);
        assert!(!config.debug(), "debug defaults to off outside local");
        assert_eq!(config.app().name, "Blog");
        let server: ServerConfig = config.section("server").unwrap();
        assert_eq!(server.port, 9100, "the overlay wins over foundry.toml");
        assert_eq!(
            server.host, "0.0.0.0",
            "keys the overlay leaves alone survive"
        );
        assert_eq!(server.shutdown_grace_secs, 5, "variables win over files");

        let overridden = load(
            dir.path(),
            &[("FOUNDRY_ENV", "testing"), ("FOUNDRY_SERVER__PORT", "8080")],
        )
        .unwrap();
        assert_eq!(
            overridden.section::<ServerConfig>("server").unwrap().port,
            8080
        );
        assert_eq!(
            overridden.origin_of("server.port"),
            Origin::Env("FOUNDRY_SERVER__PORT".into())
        );
    }

    #[test]
    fn dotenv_is_read_and_the_process_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            ".env",
            "FOUNDRY_APP__NAME=FromDotenv\nFOUNDRY_SERVER__PORT=7000\nDATABASE_URL=sqlite://x.db\n",
        );
        let config = load(dir.path(), &[("FOUNDRY_SERVER__PORT", "7001")]).unwrap();
        assert_eq!(config.app().name, "FromDotenv");
        assert_eq!(config.section::<ServerConfig>("server").unwrap().port, 7001);
        assert_eq!(config.var("DATABASE_URL"), Some("sqlite://x.db"));
    }

    #[test]
    fn database_url_is_the_default_connection_unless_foundry_database_url_says_otherwise() {
        #[derive(Default, serde::Deserialize, serde::Serialize)]
        struct Database {
            url: String,
        }
        let url = |config: &Config| config.section::<Database>("database").unwrap().url;
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "foundry.toml",
            "[database]\nurl = \"sqlite://file.db\"\n",
        );
        let config = load(dir.path(), &[("DATABASE_URL", "postgres://db/app")]).unwrap();
        assert_eq!(url(&config), "postgres://db/app");
        assert_eq!(
            config.origin_of("database.url"),
            Origin::Env("DATABASE_URL".into())
        );
        let config = load(
            dir.path(),
            &[
                ("DATABASE_URL", "postgres://db/app"),
                ("FOUNDRY_DATABASE__URL", "sqlite::memory:"),
            ],
        )
        .unwrap();
        assert_eq!(url(&config), "sqlite::memory:");
        assert_eq!(url(&load(dir.path(), &[]).unwrap()), "sqlite://file.db");
    }

    #[test]
    fn has_section_sees_files_and_variables() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "foundry.toml",
            "[database]\nurl = \"sqlite::memory:\"\n",
        );
        let config = load(dir.path(), &[("FOUNDRY_CACHE__DRIVER", "memory")]).unwrap();
        assert!(config.has_section("database") && config.has_section("cache"));
        assert!(!config.has_section("queue"));
    }

    #[test]
    fn tool_variables_without_a_separator_are_not_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(
            dir.path(),
            &[
                ("FOUNDRY_TEST_DATABASE_URL", "postgres://x"),
                ("FOUNDRY_REQUIRE_SERVICES", "1"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.var("FOUNDRY_TEST_DATABASE_URL"),
            Some("postgres://x")
        );
    }

    #[test]
    fn string_keys_stay_strings_even_when_numeric() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(dir.path(), &[("FOUNDRY_APP__NAME", "2024")]).unwrap();
        assert_eq!(config.app().name, "2024");
    }

    #[test]
    fn environment_from_app_section_and_unknown_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.toml", "[app]\nenv = \"production\"\n");
        assert_eq!(
            load(dir.path(), &[]).unwrap().environment(),
            Environment::Production
        );
        let err = load(dir.path(), &[("FOUNDRY_ENV", "staging")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("app.env"), "{text}");
        assert!(text.contains("FOUNDRY_ENV"), "{text}");
        assert!(text.contains("local, testing, production"), "{text}");
    }

    #[test]
    fn bad_variable_names_the_key_the_variable_and_the_expectation() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path(), &[("FOUNDRY_SERVER__PORT", "eighty")]).unwrap_err();
        assert_eq!(err.key(), Some("server.port"));
        let text = err.to_string();
        assert!(text.contains("FOUNDRY_SERVER__PORT"), "{text}");
        assert!(text.contains("expected an integer"), "{text}");
        assert!(text.contains("eighty"), "{text}");
    }

    #[test]
    fn out_of_range_value_in_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.toml", "[server]\nport = 70000\n");
        let err = load(dir.path(), &[]).unwrap_err();
        assert_eq!(err.key(), Some("server.port"));
        let text = err.to_string();
        assert!(text.contains("foundry.toml"), "{text}");
        assert!(text.contains("u16"), "{text}");
    }

    #[test]
    fn wrong_type_in_file_is_reported_with_expectation() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.toml", "[server]\nport = \"http\"\n");
        let text = load(dir.path(), &[]).unwrap_err().to_string();
        assert!(text.contains("`server.port`"), "{text}");
        assert!(text.contains("expected u16"), "{text}");
    }

    #[test]
    fn unknown_key_is_an_error_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.toml", "[server]\nprot = 1\n");
        let text = load(dir.path(), &[]).unwrap_err().to_string();
        assert!(text.contains("unknown field `prot`"), "{text}");
        assert!(text.contains("foundry.toml"), "{text}");
    }

    #[test]
    fn malformed_toml_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.toml", "[server]\nport = = 3\n");
        let err = load(dir.path(), &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        let text = err.to_string();
        assert!(text.contains("foundry.toml"), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn malformed_overlay_names_the_overlay() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.production.toml", "[server\n");
        let err = load(dir.path(), &[("FOUNDRY_ENV", "production")]).unwrap_err();
        assert!(err.to_string().contains("foundry.production.toml"), "{err}");
    }

    #[test]
    fn section_must_be_a_table() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "foundry.toml", "server = 3\n");
        let text = load(dir.path(), &[]).unwrap_err().to_string();
        assert!(text.contains("expected a table `[server]`"), "{text}");
    }

    #[test]
    fn booleans_and_lists_from_variables() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(dir.path(), &[("FOUNDRY_APP__DEBUG", "false")]).unwrap();
        assert!(!config.debug());
        let err = load(dir.path(), &[("FOUNDRY_APP__DEBUG", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("expected a boolean"), "{err}");

        #[derive(Debug, Default, Serialize, Deserialize)]
        #[serde(default)]
        struct Cors {
            origins: Vec<String>,
        }
        let config = load(dir.path(), &[("FOUNDRY_CORS__ORIGINS", "a.test, b.test")]).unwrap();
        let cors: Cors = config.section("cors").unwrap();
        assert_eq!(cors.origins, ["a.test", "b.test"]);
    }

    #[test]
    fn free_form_sections_take_nested_variables() {
        #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
        #[serde(default)]
        struct Pool {
            size: Option<u32>,
            url: Option<String>,
        }
        #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
        #[serde(default)]
        struct Database {
            pool: Pool,
        }
        let dir = tempfile::tempdir().unwrap();
        let config = load(
            dir.path(),
            &[
                ("FOUNDRY_DATABASE__POOL__SIZE", "12"),
                ("FOUNDRY_DATABASE__POOL__URL", "postgres://x"),
            ],
        )
        .unwrap();
        let db: Database = config.section("database").unwrap();
        assert_eq!(db.pool.size, Some(12));
        assert_eq!(db.pool.url.as_deref(), Some("postgres://x"));
    }

    #[test]
    fn malformed_dotenv_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".env", "GOOD=1\nthis is not a line\n");
        let err = load(dir.path(), &[]).unwrap_err();
        assert!(err.to_string().contains(".env"), "{err}");
    }

    #[test]
    fn production_requires_a_key_and_validates_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(dir.path(), &[("FOUNDRY_ENV", "production")]).unwrap();
        let err = config.app().require_key().unwrap_err();
        assert!(err.to_string().contains("key:generate"), "{err}");

        let err = load(dir.path(), &[("FOUNDRY_APP__KEY", "base64:dG9vLXNob3J0")]).unwrap_err();
        assert_eq!(err.key(), Some("app.key"));
        assert!(err.to_string().contains("32 bytes"), "{err}");

        let key = AppKey::generate().unwrap().to_string();
        let config = load(
            dir.path(),
            &[("FOUNDRY_ENV", "production"), ("FOUNDRY_APP__KEY", &key)],
        )
        .unwrap();
        assert!(config.app().require_key().is_ok());
    }
}
