//! Database rules (`unique`, `exists`) and the [`PresenceVerifier`] they ask.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use serde_json::Value;

use crate::custom::BoxFuture;
use crate::rule::Name;
use crate::value::loose_eq;

/// An extra condition of a database rule (`unique:users,email,NULL,id,account_id,1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// `column = value`
    Eq(String, String),
    /// `column != value` (written `!value`)
    NotEq(String, String),
    /// `column IS NULL` (written `NULL`)
    Null(String),
    /// `column IS NOT NULL` (written `NOT_NULL`)
    NotNull(String),
}

/// What a presence verifier is asked: how many rows of `table` have `column` equal to one of
/// `values`, except the row whose `id_column` is `except`, under the extra conditions.
///
/// With several values (`exists` on an array), count distinct matched values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceQuery {
    /// The table (a `connection.table` prefix is kept as written).
    pub table: String,
    /// The column compared with the value.
    pub column: String,
    /// The values looked for (as strings, the way they are bound).
    pub values: Vec<String>,
    /// `(id_column, id)` of a row to leave out (`unique`'s ignore).
    pub except: Option<(String, String)>,
    /// Extra conditions.
    pub wheres: Vec<Where>,
}

/// A verifier failed (the database is down): an infrastructure error, not a validation
/// failure.
#[derive(Debug, thiserror::Error)]
#[error("presence verifier failed for table `{table}`: {message}")]
pub struct PresenceError {
    /// The table that was queried.
    pub table: String,
    /// What went wrong.
    pub message: String,
}

/// Laravel's `PresenceVerifierInterface`: counts rows for `unique` and `exists`.
///
/// foundry-db provides the SQL implementation; [`InMemoryPresenceVerifier`] serves tests.
pub trait PresenceVerifier: Send + Sync {
    /// The number of matching rows (distinct matched values when `query.values` has several).
    fn count<'a>(&'a self, query: &'a PresenceQuery) -> BoxFuture<'a, Result<u64, PresenceError>>;
}

/// A presence verifier over in-memory tables, for tests.
///
/// ```
/// use foundry_validation::{AsyncValidator, InMemoryPresenceVerifier};
/// use serde_json::json;
/// use std::sync::Arc;
///
/// let db = InMemoryPresenceVerifier::new();
/// db.insert("users", json!({"id": 1, "email": "ada@example.com"}));
/// let v = AsyncValidator::new(json!({"email": "ada@example.com"}), [("email", "unique:users,email")])
///     .unwrap()
///     .presence_verifier(Arc::new(db));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let err = v.validate().await.unwrap_err();
/// assert_eq!(err.errors().unwrap().first("email"), Some("The email has already been taken."));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryPresenceVerifier {
    tables: RwLock<HashMap<String, Vec<Value>>>,
}

impl InMemoryPresenceVerifier {
    /// No tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a row (a JSON object) to a table.
    pub fn insert(&self, table: &str, row: Value) {
        if let Ok(mut tables) = self.tables.write() {
            tables.entry(table.to_owned()).or_default().push(row);
        }
    }

    fn matches(row: &Value, query: &PresenceQuery) -> Option<usize> {
        let cell = |c: &str| row.get(c).unwrap_or(&Value::Null);
        if let Some((id_col, id)) = &query.except
            && loose_eq(cell(id_col), &Value::String(id.clone()))
        {
            return None;
        }
        for w in &query.wheres {
            let ok = match w {
                Where::Eq(c, v) => loose_eq(cell(c), &Value::String(v.clone())),
                Where::NotEq(c, v) => !loose_eq(cell(c), &Value::String(v.clone())),
                Where::Null(c) => cell(c).is_null(),
                Where::NotNull(c) => !cell(c).is_null(),
            };
            if !ok {
                return None;
            }
        }
        let value = cell(&query.column);
        if value.is_null() {
            return None;
        }
        query
            .values
            .iter()
            .position(|v| loose_eq(value, &Value::String(v.clone())))
    }
}

impl PresenceVerifier for InMemoryPresenceVerifier {
    fn count<'a>(&'a self, query: &'a PresenceQuery) -> BoxFuture<'a, Result<u64, PresenceError>> {
        Box::pin(async move {
            let tables = self.tables.read().map_err(|_| PresenceError {
                table: query.table.clone(),
                message: "the in-memory table lock is poisoned".to_owned(),
            })?;
            let rows = tables.get(&query.table).map_or(&[][..], Vec::as_slice);
            let hits: Vec<usize> = rows
                .iter()
                .filter_map(|r| Self::matches(r, query))
                .collect();
            let count = if query.values.len() > 1 {
                let mut distinct = hits;
                distinct.sort_unstable();
                distinct.dedup();
                distinct.len()
            } else {
                hits.len()
            };
            Ok(count as u64)
        })
    }
}

/// A `unique` or `exists` rule, built from a rule string or with
/// [`Rule::unique`](crate::Rule::unique) / [`Rule::exists`](crate::Rule::exists):
///
/// ```
/// use foundry_validation::Rule;
///
/// let rule: Rule = Rule::unique("users", "email").ignore(5).into();
/// assert_eq!(rule.to_string(), "unique:users,email,5,id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRule {
    pub(crate) name: Name,
    pub(crate) table: String,
    /// `None`: guessed from the attribute (its last segment for wildcard fields).
    pub(crate) column: Option<String>,
    pub(crate) except: Option<String>,
    pub(crate) id_column: String,
    pub(crate) wheres: Vec<Where>,
}

impl DbRule {
    pub(crate) fn new(name: Name, table: &str, column: &str) -> Self {
        Self {
            name,
            table: table.to_owned(),
            column: Some(column.to_owned()).filter(|c| !c.is_empty()),
            except: None,
            id_column: "id".to_owned(),
            wheres: Vec::new(),
        }
    }

    /// Leave out the row with this id (`unique`'s `ignore($id)`).
    #[must_use]
    pub fn ignore(mut self, id: impl fmt::Display) -> Self {
        self.except = Some(id.to_string());
        self
    }

    /// Leave out the row whose `id_column` has this value.
    #[must_use]
    pub fn ignore_by(mut self, id: impl fmt::Display, id_column: &str) -> Self {
        self.except = Some(id.to_string());
        id_column.clone_into(&mut self.id_column);
        self
    }

    /// An extra `column = value` condition.
    #[must_use]
    pub fn where_eq(mut self, column: &str, value: impl fmt::Display) -> Self {
        self.wheres
            .push(Where::Eq(column.to_owned(), value.to_string()));
        self
    }

    /// An extra `column IS NULL` condition.
    #[must_use]
    pub fn where_null(mut self, column: &str) -> Self {
        self.wheres.push(Where::Null(column.to_owned()));
        self
    }

    pub(crate) fn from_params(name: Name, params: &[String]) -> Result<Self, String> {
        let table = params.first().map(|t| t.trim()).filter(|t| !t.is_empty());
        let Some(table) = table else {
            return Err(format!("`{name}` needs a table, e.g. `{name}:users,email`"));
        };
        let column = params
            .get(1)
            .map(|c| c.trim())
            .filter(|c| !c.is_empty() && *c != "NULL");
        let mut rule = Self::new(name, table, column.unwrap_or(""));
        let extra_from = if name == Name::Unique {
            if let Some(except) = params
                .get(2)
                .map(|e| e.trim())
                .filter(|e| !e.is_empty() && *e != "NULL")
            {
                rule.except = Some(except.to_owned());
            }
            if let Some(id_col) = params.get(3).map(|e| e.trim()).filter(|e| !e.is_empty()) {
                id_col.clone_into(&mut rule.id_column);
            }
            4
        } else {
            2
        };
        let extra = params.get(extra_from..).unwrap_or(&[]);
        if extra.len() % 2 != 0 {
            return Err(format!(
                "the extra conditions of `{name}` must be column,value pairs"
            ));
        }
        for pair in extra.chunks(2) {
            let (column, value) = (pair[0].clone(), pair[1].as_str());
            rule.wheres.push(match value {
                "NULL" => Where::Null(column),
                "NOT_NULL" => Where::NotNull(column),
                v if v.starts_with('!') => Where::NotEq(column, v[1..].to_owned()),
                v => Where::Eq(column, v.to_owned()),
            });
        }
        Ok(rule)
    }
}

impl fmt::Display for DbRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.table)?;
        write!(f, ",{}", self.column.as_deref().unwrap_or("NULL"))?;
        if self.name == Name::Unique && (self.except.is_some() || !self.wheres.is_empty()) {
            write!(
                f,
                ",{},{}",
                self.except.as_deref().unwrap_or("NULL"),
                self.id_column
            )?;
        }
        for w in &self.wheres {
            match w {
                Where::Eq(c, v) => write!(f, ",{c},{v}")?,
                Where::NotEq(c, v) => write!(f, ",{c},!{v}")?,
                Where::Null(c) => write!(f, ",{c},NULL")?,
                Where::NotNull(c) => write!(f, ",{c},NOT_NULL")?,
            }
        }
        Ok(())
    }
}
