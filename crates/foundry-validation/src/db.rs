//! [`DbPresenceVerifier`]: `unique` and `exists` over foundry-db (SQLite and PostgreSQL).

use std::collections::HashMap;
use std::sync::Mutex;

use foundry_db::{Backend, Db, Value};

use crate::custom::BoxFuture;
use crate::presence::{PresenceError, PresenceQuery, PresenceVerifier, Where};

/// How a column's values are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Float,
    Bool,
}

/// Counts rows with foundry-db's query builder (identifiers quoted, values bound).
///
/// Input arrives as text; SQLite compares it with numeric columns by affinity, while
/// PostgreSQL needs values of the column's type, so on PostgreSQL the column types are read
/// once from `information_schema` and values are bound as integers, floats or booleans where
/// the column has that type (a value that cannot be one, like `"abc"` for an id, matches no
/// row).
///
/// ```
/// use std::sync::Arc;
/// use foundry_validation::{AsyncValidator, DbPresenceVerifier};
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let db = foundry_db::Db::connect("sqlite::memory:").await.unwrap();
/// db.statement("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)", vec![]).await.unwrap();
/// db.statement("INSERT INTO users (email) VALUES ('ada@example.com')", vec![]).await.unwrap();
///
/// let v = AsyncValidator::new(json!({"email": "ada@example.com"}), [("email", "unique:users")])
///     .unwrap()
///     .presence_verifier(Arc::new(DbPresenceVerifier::new(db)));
/// let err = v.validate().await.unwrap_err();
/// assert_eq!(err.errors().unwrap().first("email"), Some("The email has already been taken."));
/// # });
/// ```
#[derive(Debug)]
pub struct DbPresenceVerifier {
    db: Db,
    kinds: Mutex<HashMap<(String, String), Kind>>,
}

impl DbPresenceVerifier {
    /// A verifier on this connection.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    fn error(table: &str, e: &impl std::fmt::Display) -> PresenceError {
        PresenceError {
            table: table.to_owned(),
            message: e.to_string(),
        }
    }

    async fn kind(&self, table: &str, column: &str) -> Result<Kind, PresenceError> {
        if self.db.backend() != Backend::Postgres {
            return Ok(Kind::Text);
        }
        let key = (table.to_owned(), column.to_owned());
        if let Some(k) = self.kinds.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(k);
        }
        let rows = self
            .db
            .select_records(
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_name = ? AND column_name = ? AND table_schema = ANY(current_schemas(false)) LIMIT 1",
                vec![table.into(), column.into()],
            )
            .await
            .map_err(|e| Self::error(table, &e))?;
        let data_type = rows
            .first()
            .and_then(|r| r.get("data_type"))
            .and_then(|v| v.as_str())
            .unwrap_or("text")
            .to_owned();
        let kind = match data_type.as_str() {
            "smallint" | "integer" | "bigint" => Kind::Integer,
            "numeric" | "real" | "double precision" => Kind::Float,
            "boolean" => Kind::Bool,
            _ => Kind::Text,
        };
        if let Ok(mut m) = self.kinds.lock() {
            m.insert(key, kind);
        }
        Ok(kind)
    }

    async fn bind(
        &self,
        table: &str,
        column: &str,
        value: &str,
    ) -> Result<Option<Value>, PresenceError> {
        let v = value.trim();
        Ok(match self.kind(table, column).await? {
            Kind::Text => Some(value.into()),
            Kind::Integer => v.parse::<i64>().ok().map(Into::into),
            Kind::Float => v
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Into::into),
            Kind::Bool => match v {
                "1" | "true" => Some(true.into()),
                "0" | "false" => Some(false.into()),
                _ => None,
            },
        })
    }
}

impl PresenceVerifier for DbPresenceVerifier {
    fn count<'a>(&'a self, query: &'a PresenceQuery) -> BoxFuture<'a, Result<u64, PresenceError>> {
        Box::pin(async move {
            let table = query.table.as_str();
            let mut values = Vec::new();
            for v in &query.values {
                if let Some(bound) = self.bind(table, &query.column, v).await? {
                    values.push(bound);
                }
            }
            if values.is_empty() {
                return Ok(0);
            }
            let mut q = self.db.table(table).where_in(&query.column, values);
            if let Some((id_column, id)) = &query.except
                && let Some(bound) = self.bind(table, id_column, id).await?
            {
                q = q.where_op(id_column, "<>", bound);
            }
            for w in &query.wheres {
                q = match w {
                    Where::Null(c) => q.where_null(c),
                    Where::NotNull(c) => q.where_not_null(c),
                    Where::Eq(c, v) => match self.bind(table, c, v).await? {
                        Some(bound) => q.where_eq(c, bound),
                        None => return Ok(0),
                    },
                    Where::NotEq(c, v) => match self.bind(table, c, v).await? {
                        Some(bound) => q.where_op(c, "<>", bound),
                        None => q,
                    },
                };
            }
            let n = if query.values.len() > 1 {
                q.select([query.column.as_str()])
                    .distinct()
                    .get()
                    .await
                    .map_err(|e| Self::error(table, &e))?
                    .len() as u64
            } else {
                let n = q.count().await.map_err(|e| Self::error(table, &e))?;
                u64::try_from(n).unwrap_or(0)
            };
            Ok(n)
        })
    }
}
