//! Language lines: `en` (Laravel's English, word for word) and `de` ship with the crate; apps
//! override lines and add locales.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

static EN: &str = include_str!("../lang/en.json");
static DE: &str = include_str!("../lang/de.json");

/// A language file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot load validation lines for locale `{locale}`: {problem}")]
pub struct LangError {
    locale: String,
    problem: String,
}

/// Validation lines per locale, looked up by dotted key (`required`, `min.string`,
/// `custom.email.required`, `attributes.email`, `values.role.admin`).
///
/// ```
/// use foundry_validation::{Translator, Validator};
/// use serde_json::json;
/// use std::sync::Arc;
///
/// let mut t = Translator::new();
/// t.add_lines("en", &json!({"required": "Please fill in :attribute.", "attributes": {"email": "e-mail address"}})).unwrap();
/// t.add_lines("fr", &json!({"required": "Le champ :attribute est obligatoire."})).unwrap();
///
/// let mut v = Validator::new(json!({}), [("email", "required")]).unwrap().translator(Arc::new(t.clone()));
/// assert_eq!(v.errors().first("email"), Some("Please fill in e-mail address."));
///
/// let mut v = Validator::new(json!({}), [("name", "required|string")]).unwrap().translator(Arc::new(t)).locale("fr");
/// assert_eq!(v.errors().first("name"), Some("Le champ name est obligatoire."));
/// ```
#[derive(Debug, Clone)]
pub struct Translator {
    locales: HashMap<String, HashMap<String, String>>,
    fallback: String,
}

impl Default for Translator {
    fn default() -> Self {
        Self::new()
    }
}

impl Translator {
    /// The shipped `en` and `de` lines, falling back to `en`.
    pub fn new() -> Self {
        let mut t = Self::empty();
        for (locale, text) in [("en", EN), ("de", DE)] {
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                let mut lines = HashMap::new();
                flatten("", &value, &mut lines);
                t.locales.insert(locale.to_owned(), lines);
            }
        }
        t
    }

    /// No lines at all (messages fall back to their keys).
    pub fn empty() -> Self {
        Self {
            locales: HashMap::new(),
            fallback: "en".to_owned(),
        }
    }

    /// The locale used when a line is missing in the requested one (default `en`).
    #[must_use]
    pub fn fallback(mut self, locale: &str) -> Self {
        locale.clone_into(&mut self.fallback);
        self
    }

    /// Merge lines (a JSON object shaped like Laravel's `validation.php`) into a locale,
    /// creating it if needed; existing keys are overridden.
    pub fn add_lines(&mut self, locale: &str, lines: &Value) -> Result<(), LangError> {
        if !lines.is_object() {
            return Err(LangError {
                locale: locale.to_owned(),
                problem: "the lines must be a JSON object".to_owned(),
            });
        }
        let target = self.locales.entry(locale.to_owned()).or_default();
        flatten("", lines, target);
        Ok(())
    }

    /// Like [`Translator::add_lines`] from JSON text (e.g. an app's `resources/lang/fr/validation.json`).
    pub fn add_json(&mut self, locale: &str, json: &str) -> Result<(), LangError> {
        let value = serde_json::from_str(json).map_err(|e| LangError {
            locale: locale.to_owned(),
            problem: format!("invalid JSON: {e}"),
        })?;
        self.add_lines(locale, &value)
    }

    /// Load an app's language files: every `<dir>/<locale>/validation.json` (Laravel's
    /// `lang/<locale>/validation.php`), merged over the lines already there. Call it at boot;
    /// a file that is not valid JSON is an error naming the file.
    ///
    /// ```
    /// use foundry_validation::Translator;
    ///
    /// let dir = std::env::temp_dir().join(format!("foundry-lang-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(dir.join("fr")).unwrap();
    /// std::fs::write(dir.join("fr/validation.json"), r#"{"required": "Le champ :attribute est obligatoire."}"#).unwrap();
    /// let mut t = Translator::new();
    /// t.load_dir(&dir).unwrap();
    /// assert_eq!(t.line("fr", "required"), Some("Le champ :attribute est obligatoire."));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn load_dir(&mut self, dir: &std::path::Path) -> Result<(), LangError> {
        let io = |e: std::io::Error, path: &std::path::Path| LangError {
            locale: String::new(),
            problem: format!("cannot read `{}`: {e}", path.display()),
        };
        let entries = std::fs::read_dir(dir).map_err(|e| io(e, dir))?;
        let mut locales: Vec<std::path::PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        locales.sort();
        for locale_dir in locales {
            let file = locale_dir.join("validation.json");
            if !file.is_file() {
                continue;
            }
            let locale = locale_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let text = std::fs::read_to_string(&file).map_err(|e| io(e, &file))?;
            self.add_json(&locale, &text).map_err(|e| LangError {
                locale: locale.clone(),
                problem: format!("`{}`: {}", file.display(), e.problem),
            })?;
        }
        Ok(())
    }

    /// Whether a locale has any lines.
    pub fn has_locale(&self, locale: &str) -> bool {
        self.locales.contains_key(locale)
    }

    /// A line in `locale`, else in the fallback locale.
    pub fn line(&self, locale: &str, key: &str) -> Option<&str> {
        self.exact(locale, key)
            .or_else(|| self.exact(&self.fallback, key))
    }

    pub(crate) fn exact(&self, locale: &str, key: &str) -> Option<&str> {
        self.locales.get(locale)?.get(key).map(String::as_str)
    }

    /// Lines under a prefix in `locale` then the fallback (for wildcard `custom.*` keys).
    pub(crate) fn keys_with_prefix<'a>(
        &'a self,
        locale: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        [locale, self.fallback.as_str()]
            .into_iter()
            .flat_map(move |l| {
                self.locales.get(l).into_iter().flat_map(move |lines| {
                    lines
                        .iter()
                        .filter(move |(k, _)| k.starts_with(prefix))
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                })
            })
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The translator shared by validators that were not given one.
pub fn default_translator() -> Arc<Translator> {
    shared_default().clone()
}

/// The shipped lines, borrowed.
pub(crate) fn default_lines() -> &'static Translator {
    shared_default()
}

fn shared_default() -> &'static Arc<Translator> {
    static DEFAULT: OnceLock<Arc<Translator>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(Translator::new()))
}

/// Replace `:name` placeholders in one pass. `:Name` gives the value with its first letter
/// uppercased and `:NAME` all uppercase, like Laravel. The longest known name wins, so
/// `:values` is not read as `:value` + `s`.
pub(crate) fn replace(message: &str, pairs: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    let mut rest = message;
    while let Some(i) = rest.find(':') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let ident_len = after
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(after.len(), |(j, _)| j);
        let ident = &after[..ident_len];
        let mut best: Option<(usize, String)> = None;
        for (name, value) in pairs {
            if name.len() > ident.len() || best.as_ref().is_some_and(|(l, _)| *l >= name.len()) {
                continue;
            }
            let candidate = &ident[..name.len()];
            let replaced = if candidate == *name {
                Some(value.clone())
            } else if candidate == name.to_ascii_uppercase() {
                Some(value.to_uppercase())
            } else if candidate.eq_ignore_ascii_case(name)
                && candidate.starts_with(|c: char| c.is_ascii_uppercase())
                && candidate[1..] == name[1..]
            {
                Some(ucfirst(value))
            } else {
                None
            };
            // The name must end at an identifier boundary unless a longer name could not match.
            if let Some(r) = replaced {
                let boundary = ident.len() == name.len()
                    || !ident[name.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if boundary
                    || !pairs
                        .iter()
                        .any(|(n, _)| n.len() > name.len() && ident.starts_with(n))
                {
                    best = Some((name.len(), r));
                }
            }
        }
        match best {
            Some((len, value)) => {
                out.push_str(&value);
                rest = &after[len..];
            }
            None => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn ucfirst(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        let pairs = [
            ("attribute", "first name".to_owned()),
            ("value", "5".to_owned()),
            ("values", "a, b".to_owned()),
        ];
        assert_eq!(
            replace("The :attribute is :value.", &pairs),
            "The first name is 5."
        );
        assert_eq!(
            replace(":Attribute! :ATTRIBUTE", &pairs),
            "First name! FIRST NAME"
        );
        assert_eq!(replace("one of :values.", &pairs), "one of a, b.");
        assert_eq!(
            replace("time 10:30 :unknown", &pairs),
            "time 10:30 :unknown"
        );
        assert_eq!(replace("", &pairs), "");
    }

    #[test]
    fn shipped_lines_load() {
        let t = Translator::new();
        assert_eq!(
            t.line("en", "min.string"),
            Some("The :attribute field must be at least :min characters.")
        );
        assert_eq!(
            t.line("de", "required"),
            Some("Das Feld :attribute ist erforderlich.")
        );
        assert_eq!(
            t.line("xx", "required"),
            Some("The :attribute field is required.")
        );
        let mut t = Translator::empty();
        assert!(t.add_json("en", "not json").is_err());
        assert!(t.add_lines("en", &serde_json::json!([1])).is_err());
    }

    #[test]
    fn loads_app_language_files() {
        let dir = std::env::temp_dir().join(format!("foundry-lang-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("en")).unwrap();
        std::fs::create_dir_all(dir.join("nl")).unwrap();
        std::fs::write(
            dir.join("en/validation.json"),
            r#"{"attributes": {"dob": "date of birth"}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("nl/validation.json"),
            r#"{"required": "Het :attribute veld is verplicht."}"#,
        )
        .unwrap();
        let mut t = Translator::new();
        t.load_dir(&dir).unwrap();
        assert_eq!(t.line("en", "attributes.dob"), Some("date of birth"));
        assert_eq!(
            t.line("en", "required"),
            Some("The :attribute field is required.")
        );
        assert_eq!(
            t.line("nl", "required"),
            Some("Het :attribute veld is verplicht.")
        );
        std::fs::write(dir.join("nl/validation.json"), "{oops").unwrap();
        let err = t.load_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("nl/validation.json"), "{err}");
        assert!(Translator::new().load_dir(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
