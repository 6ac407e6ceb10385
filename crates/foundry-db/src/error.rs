//! [`DbError`]: everything the database layer can fail with, and its HTTP meaning.

use foundry_core::{Error, ErrorKind};

/// A `Result` whose error is [`DbError`].
pub type DbResult<T> = Result<T, DbError>;

/// What went wrong in the database layer.
///
/// Messages follow the house style: what was being done, the input, the problem, a hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The configuration is wrong (bad URL, unknown connection name, …).
    #[error("database configuration: {0}")]
    Config(String),
    /// The server could not be reached in time or refused the connection.
    #[error("could not connect to {backend} database `{database}` at {host}: {reason}")]
    Connect {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The host (or file) that was tried.
        host: String,
        /// The database name.
        database: String,
        /// Why it failed.
        reason: String,
    },
    /// A row that had to exist does not (`find_or_fail`, `first_or_fail`).
    #[error("{model} {key} not found")]
    NotFound {
        /// The model or table.
        model: String,
        /// The key that was looked up, as text.
        key: String,
    },
    /// A query was built wrongly: unknown operator, bad column name, empty update, …
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A model does not have this column (typo in a string column name).
    #[error("model {model} has no column `{column}`")]
    UnknownColumn {
        /// The model.
        model: &'static str,
        /// The column that was asked for.
        column: String,
    },
    /// Mass assignment was refused: a guarded or unknown attribute.
    #[error("mass assignment on {model}: {message}")]
    MassAssignment {
        /// The model.
        model: &'static str,
        /// What was refused, naming the attribute.
        message: String,
    },
    /// A value could not be converted to or from its column type.
    #[error("column `{column}`: {message}")]
    Decode {
        /// The column.
        column: String,
        /// The problem.
        message: String,
    },
    /// A relation was used but not eager loaded while lazy loading is prevented.
    #[error(
        "attempted to lazy load relation `{relation}` on model {model} but lazy loading is \
         prevented; eager load it with `.with([\"{relation}\"])`"
    )]
    LazyLoading {
        /// The model.
        model: &'static str,
        /// The relation.
        relation: String,
    },
    /// A relation name that the model does not define.
    #[error("model {model} has no relation `{relation}`")]
    UnknownRelation {
        /// The model.
        model: &'static str,
        /// The name asked for.
        relation: String,
    },
    /// A model event hook (`creating`, `deleting`, …) cancelled the operation.
    #[error("{event} hook on {model} cancelled the operation: {message}")]
    Cancelled {
        /// The model.
        model: &'static str,
        /// The event.
        event: &'static str,
        /// The hook's reason.
        message: String,
    },
    /// A migration failed or the migration history is inconsistent.
    #[error("migration {name}: {message}")]
    Migration {
        /// The migration's name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// The transaction this handle belongs to has already been committed or rolled back.
    #[error("the transaction has already finished; use the handle only inside its closure")]
    TransactionFinished,
    /// An error from the driver.
    #[error("{context}: {source}")]
    Sqlx {
        /// What was being done (usually the SQL).
        context: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// An error returned by user code inside a transaction or hook.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl DbError {
    pub(crate) fn sqlx(context: impl Into<String>, source: sqlx::Error) -> Self {
        DbError::Sqlx {
            context: context.into(),
            source,
        }
    }

    /// The SQLSTATE / SQLite result code of a database error, if this is one.
    pub fn db_code(&self) -> Option<String> {
        match self {
            DbError::Sqlx {
                source: sqlx::Error::Database(e),
                ..
            } => e.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// Whether this is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx { source: sqlx::Error::Database(e), .. } if e.is_unique_violation())
    }

    /// Whether retrying the whole transaction may succeed: deadlock or serialization failure
    /// (PostgreSQL 40001/40P01) or a busy/locked SQLite database (5, 6, 517, 262).
    pub fn is_retryable(&self) -> bool {
        match self.db_code().as_deref() {
            Some("40001" | "40P01") => true,
            // SQLite: BUSY, LOCKED, BUSY_SNAPSHOT (517), LOCKED_SHAREDCACHE (262).
            Some("5" | "6" | "517" | "262") => true,
            _ => false,
        }
    }

    /// Wrap any error (used for errors returned by user closures).
    pub fn other(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let boxed = err.into();
        match boxed.downcast::<DbError>() {
            Ok(db) => *db,
            Err(other) => DbError::Other(other),
        }
    }
}

impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound { .. } => {
                let message = err.to_string();
                Error::new(ErrorKind::NotFound, message)
            }
            DbError::Other(inner) => Error::from(inner),
            other => Error::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_404_and_the_rest_500() {
        let err: Error = DbError::NotFound {
            model: "Post".into(),
            key: "5".into(),
        }
        .into();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.public_message(), "Post 5 not found");
        let err: Error = DbError::InvalidQuery("bad".into()).into();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(err.public_message(), "Server Error");
        let err: Error = DbError::other(Error::forbidden("no")).into();
        assert_eq!(
            err.kind(),
            ErrorKind::Forbidden,
            "user errors keep their kind"
        );
    }
}
