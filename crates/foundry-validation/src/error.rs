//! The two kinds of failure: a developer's malformed rule ([`RuleError`]) and a user's invalid
//! input ([`ValidationErrors`], Laravel's `MessageBag`).

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

/// A rule that cannot be understood: a bug in the application, never the user's fault.
///
/// It names the rule text as written, so the developer can find it. Returned when a validator
/// is built; it is never reported to the client as a validation failure.
///
/// ```
/// use foundry_validation::Validator;
/// use serde_json::json;
///
/// let err = Validator::new(json!({}), [("age", "integer|max:abc")]).unwrap_err();
/// assert_eq!(err.rule(), "max:abc");
/// assert_eq!(
///     err.to_string(),
///     "invalid validation rule `max:abc` for field `age`: parameter 1 of `max` must be a number, got `abc`"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid validation rule `{rule}` for field `{field}`: {problem}")]
pub struct RuleError {
    field: String,
    rule: String,
    problem: String,
}

impl RuleError {
    pub(crate) fn new(field: &str, rule: &str, problem: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            rule: rule.to_owned(),
            problem: problem.into(),
        }
    }

    /// The rule text as written, e.g. `max:abc`.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The field pattern the rule was given for.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with the rule.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    pub(crate) fn with_field(mut self, field: &str) -> Self {
        field.clone_into(&mut self.field);
        self
    }
}

/// The messages of a failed validation, per field, in the order they were found (Laravel's
/// `MessageBag`).
///
/// ```
/// use foundry_validation::Validator;
/// use serde_json::json;
///
/// let mut v = Validator::new(json!({"name": ""}), [("name", "required")]).unwrap();
/// let errors = v.errors();
/// assert_eq!(errors.first("name"), Some("The name field is required."));
/// assert_eq!(errors.summary(), "The name field is required.");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    fields: Vec<(String, Vec<String>)>,
    index: HashMap<String, usize>,
}

impl ValidationErrors {
    /// An empty bag.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a message for a field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let message = message.into();
        if let Some(&i) = self.index.get(&field) {
            if let Some((_, messages)) = self.fields.get_mut(i) {
                // Laravel's MessageBag keeps messages unique per key.
                if !messages.contains(&message) {
                    messages.push(message);
                }
            }
            return;
        }
        self.index.insert(field.clone(), self.fields.len());
        self.fields.push((field, vec![message]));
    }

    /// Whether there are no messages.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The number of messages over all fields.
    pub fn len(&self) -> usize {
        self.fields.iter().map(|(_, m)| m.len()).sum()
    }

    /// Whether the field has at least one message.
    pub fn has(&self, field: &str) -> bool {
        self.index.contains_key(field)
    }

    /// The messages of a field (empty when it has none).
    pub fn get(&self, field: &str) -> &[String] {
        self.index
            .get(field)
            .and_then(|&i| self.fields.get(i))
            .map_or(&[], |(_, m)| m.as_slice())
    }

    /// The first message of a field.
    pub fn first(&self, field: &str) -> Option<&str> {
        self.get(field).first().map(String::as_str)
    }

    /// The first message of all, in the order the rules ran.
    pub fn first_message(&self) -> Option<&str> {
        self.fields
            .first()
            .and_then(|(_, m)| m.first())
            .map(String::as_str)
    }

    /// The fields with messages, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(f, _)| f.as_str())
    }

    /// Every (field, messages) pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.fields.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }

    /// Laravel's summary line: the first message plus "(and N more error)" / "(and N more errors)".
    ///
    /// ```
    /// use foundry_validation::ValidationErrors;
    ///
    /// let mut errors = ValidationErrors::new();
    /// assert_eq!(errors.summary(), "The given data was invalid.");
    /// errors.add("a", "A is wrong.");
    /// errors.add("b", "B is wrong.");
    /// assert_eq!(errors.summary(), "A is wrong. (and 1 more error)");
    /// errors.add("b", "B is still wrong.");
    /// assert_eq!(errors.summary(), "A is wrong. (and 2 more errors)");
    /// ```
    pub fn summary(&self) -> String {
        let Some(first) = self.first_message() else {
            return "The given data was invalid.".to_owned();
        };
        match self.len() - 1 {
            0 => first.to_owned(),
            1 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {n} more errors)"),
        }
    }

    /// The `errors` object of the 422 body: field → list of messages.
    pub fn to_map(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(f, m)| {
                let list = m.iter().cloned().map(Value::String).collect();
                (f.clone(), Value::Array(list))
            })
            .collect()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationErrors> for foundry_core::Error {
    /// 422 with Laravel's `{"message", "errors"}` body.
    fn from(errors: ValidationErrors) -> Self {
        let fields = errors
            .iter()
            .map(|(field, messages)| (field.to_owned(), messages.to_vec()))
            .collect();
        foundry_core::Error::validation(errors.summary(), fields)
    }
}

impl serde::Serialize for ValidationErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (field, messages) in &self.fields {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}
